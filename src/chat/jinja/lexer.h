// chat/jinja internals: the lexer. Splits template source into data text and the tokens inside
// {{ }} and {% %}, applying Jinja2's whitespace rules as transformers configures them
// (trim_blocks, lstrip_blocks, the -/+ markers, newline normalisation, no trailing newline).
// Comments are dropped and {% raw %} bodies become data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pocketlm::chat::jinja::detail {

enum class tok : unsigned char {
  data,         // template text
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,  // text holds the decoded value
  integer,
  floating,
  op,  // text holds the operator
  eof,
};

struct token {
  tok type;
  std::string text;
  int line = 1;
  int col = 1;
};

result<std::vector<token>> lex(std::string_view source);

// "jinja: line L col C: what"
std::string at(int line, int col, const std::string& what);

}  // namespace pocketlm::chat::jinja::detail
