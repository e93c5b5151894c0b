// chat/jinja internals: the parser's product, and the parser.
#pragma once

#include <string_view>

#include "chat/jinja/ast.h"
#include "chat/jinja/jinja.h"
#include "chat/jinja/lexer.h"

namespace pocketlm::chat::jinja {

class program {
 public:
  detail::body_t body;
};

namespace detail {
// Nesting deeper than this (blocks or expressions) is a syntax error, so evaluation recursion is
// bounded by the program's shape as well as by render_limits::max_depth.
constexpr int max_parse_depth = 256;
result<body_t> parse_tokens(const std::vector<token>& tokens);
}  // namespace detail

}  // namespace pocketlm::chat::jinja
