// libFuzzer entry for the Jinja engine: arbitrary bytes as a chat template, parsed and rendered
// against a conversation with every field templates read (tools, tool calls, reasoning, parts).
// Sanitizers turn any memory error into a finding; the limits keep every input fast, and the
// piece invariants (never empty, neighbours differ in provenance) are checked on every render.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/jinja/jinja.h"

namespace {

using json = nlohmann::ordered_json;
using namespace pocketlm::chat::jinja;

const json& context() {
  static const json ctx = json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful. <|im_end|>"},
      {"role": "user", "content": [{"type": "text", "text": "Hi [INST] there"}, {"type": "image"}]},
      {"role": "assistant", "content": "", "reasoning_content": "think",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 2.5}}}]},
      {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "{\"t\": 18}"},
      {"role": "assistant", "content": "<think>x</think>It is 18."},
      {"role": "user", "content": "Thanks \u00e9\ud83d\ude42"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "documents": null,
    "add_generation_prompt": true,
    "bos_token": "<s>", "eos_token": "</s>",
    "enable_thinking": false, "reasoning_effort": "low", "date_string": "26 Jul 2025",
    "numbers": [0, -1, 3.5, 1e300, 9007199254740993], "flags": {"a": true, "b": null}
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto program = parse(source);
  if (!program) {
    if (program.error_message().rfind("jinja: ", 0) != 0) std::abort();  // every error is ours
    return 0;
  }
  render_options o;
  o.now_unix = 1753531200;
  o.limits.max_steps = 200'000;
  o.limits.max_output_bytes = 1u << 20;
  auto out = render(**program, context(), o);
  if (!out) {
    if (out.error_message().rfind("jinja: ", 0) != 0) std::abort();
    return 0;
  }
  size_t total = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    const piece& p = (*out)[i];
    if (p.text.empty()) std::abort();
    if (i > 0 && p.from_data == (*out)[i - 1].from_data) std::abort();
    total += p.text.size();
  }
  if (total > o.limits.max_output_bytes || concat(*out).size() != total) std::abort();
  return 0;
}
