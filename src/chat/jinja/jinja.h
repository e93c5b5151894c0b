// chat/jinja/: a Jinja2 template engine for chat templates, with the semantics of Python's Jinja2
// as Hugging Face transformers configures it for apply_chat_template: ImmutableSandboxedEnvironment,
// trim_blocks and lstrip_blocks on, loop controls (break/continue), {% generation %}, its own tojson
// (json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)), raise_exception(msg)
// and strftime_now(fmt); undefined values print empty, iterate empty and are falsy (attribute access
// on them raises, as Jinja2's default Undefined does). Values print in Python's str() form.
//
// The template is untrusted input (it arrives inside a downloaded GGUF): parsing and rendering are
// bounded (nesting depth, evaluation steps, output and string sizes, range() length) and every
// failure is an error result, never a crash or a hang.
//
// Provenance: every output byte is tagged with where it came from. Bytes of the template's own
// literals are template text; bytes that came from a context value (message content, names, tool
// results, reasoning, numbers and tojson of context values...), also after filters such as trim,
// replace or upper, are data. The chat layer tokenizes data without special-token parsing, so text
// a user types can never become a control token, whatever the template does with it.
//
// Calls only common/, nlohmann-json and the C++ standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pocketlm::chat::jinja {

// A run of output bytes of one provenance. from_data: the bytes came from a context value rather
// than from the template's literals.
struct piece {
  std::string text;
  bool from_data = false;
};

struct render_limits {
  size_t max_output_bytes = 4u << 20;  // also caps every string and list built while rendering
  int max_depth = 200;                 // nesting of expressions, blocks, macro calls and values
  int64_t max_steps = 20'000'000;      // evaluation steps (nodes evaluated, loop iterations)
};

struct render_options {
  render_limits limits;
  std::optional<int64_t> now_unix;  // the time strftime_now() formats (UTC); nullopt: the clock
  // Top-level context keys whose string values count as template text, not data: the special
  // tokens the chat layer passes (a template prints them to be parsed as special tokens).
  std::vector<std::string> template_keys{"bos_token", "eos_token", "pad_token", "unk_token"};
  // Object keys, at any depth, whose string values count as template text when they are one word
  // (ASCII letters, digits, '_', '-'): message roles, which templates splice into their markers
  // ('<|' + role + '|>' must come out as the template's own special token). Roles are chosen by
  // the program calling the model, not typed by its user; any other role text stays data.
  std::vector<std::string> word_fields{"role"};
};

class program;  // a parsed template: immutable, shareable across threads

// Syntax errors read "jinja: line L col C: ...".
result<std::shared_ptr<const program>> parse(std::string_view source);

// Renders with `context` as the template's variables (an object; its key order is the dicts'
// iteration order). Adjacent pieces never share a flag and no piece is empty. Errors (the
// template's raise_exception, type errors, limits) read "jinja: ...".
result<std::vector<piece>> render(const program& p, const nlohmann::ordered_json& context,
                                  const render_options& o = {});

// The pieces' text joined: the exact string Python Jinja2 renders.
std::string concat(const std::vector<piece>& pieces);

}  // namespace pocketlm::chat::jinja
