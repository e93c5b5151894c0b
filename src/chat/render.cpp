// The chat layer over the Jinja engine: the variables a template gets, and pieces for the
// tokenizer. The context follows transformers' apply_chat_template (messages, tools, documents,
// add_generation_prompt, the special tokens, then the caller's kwargs), plus enable_thinking and
// reasoning_effort when the caller set them, as llama.cpp passes them.

#include "chat/chat.h"

namespace pocketlm::chat {
namespace {

using ojson = nlohmann::ordered_json;

ojson message_json(const message& m, bool typed_content) {
  ojson j = ojson::object();
  j["role"] = m.role;
  j["content"] = m.content;
  if (m.extra.is_object()) {
    for (const auto& [k, v] : m.extra.items()) {
      if (k == "role") continue;
      if (k == "content") {
        // Parts lists go through as they are only to templates that read them. null (OpenAI's
        // content of a tool-call turn) is passed as "": most templates test `in content` or
        // `content is string`, which raise or skip on None.
        if (v.is_array() && typed_content) j["content"] = v;
        continue;
      }
      j[k] = v;
    }
  }
  if (!m.reasoning.empty()) j["reasoning_content"] = m.reasoning;
  return j;
}

bool is_template_key(const std::string& k) {
  return k == "bos_token" || k == "eos_token" || k == "pad_token" || k == "unk_token";
}

}  // namespace

result<std::shared_ptr<const chat_template>> chat_template::parse(std::string source, std::string origin) {
  auto program = jinja::parse(source);
  if (!program) return error{"chat template from " + origin + ": " + program.error_message()};
  auto t = std::make_shared<chat_template>();
  t->program_ = std::move(*program);
  t->reasoning_ = source.find("<think>") != std::string::npos || source.find("reasoning_content") != std::string::npos;
  t->source_ = std::move(source);
  t->origin_ = std::move(origin);
  // As llama.cpp finds out: render one user turn given as a parts list and see whether its text
  // comes out.
  const std::string probe = "pocketlm-typed-content-probe";
  message m{"user", probe, "", ojson{{"content", ojson::array({ojson{{"type", "text"}, {"text", probe}}})}}};
  t->typed_content_ = true;
  options o;
  o.now_unix = 0;
  auto out = t->render({m}, o);
  t->typed_content_ = out.ok() && [&] {
    std::string s;
    for (const auto& p : *out) s += p.text;
    return s.find(probe) != std::string::npos;
  }();
  return std::shared_ptr<const chat_template>(std::move(t));
}

ojson chat_template::context(const std::vector<message>& msgs, const options& opt) const {
  ojson ctx = ojson::object();
  ojson list = ojson::array();
  for (const message& m : msgs) list.push_back(message_json(m, typed_content_));
  ctx["messages"] = std::move(list);
  ctx["tools"] = opt.tools.is_array() && !opt.tools.empty() ? opt.tools : ojson(nullptr);
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = opt.add_generation_prompt;
  ctx["bos_token"] = opt.bos_token;
  ctx["eos_token"] = opt.eos_token;
  if (opt.enable_thinking) ctx["enable_thinking"] = *opt.enable_thinking;
  if (opt.reasoning_effort) ctx["reasoning_effort"] = *opt.reasoning_effort;
  if (opt.kwargs.is_object()) {
    for (const auto& [k, v] : opt.kwargs.items()) {
      if (!is_template_key(k)) ctx[k] = v;  // a caller's text never becomes a special token
    }
  }
  return ctx;
}

result<std::vector<piece>> chat_template::render(const std::vector<message>& msgs, const options& opt) const {
  if (msgs.empty()) return error{"chat: no messages to render"};
  jinja::render_options o;
  o.now_unix = opt.now_unix;
  auto out = jinja::render(*program_, context(msgs, opt), o);
  if (!out) return error{"chat template from " + origin_ + ": " + out.error_message()};
  std::vector<piece> pieces;
  pieces.reserve(out->size());
  for (auto& p : *out) pieces.push_back({std::move(p.text), !p.from_data});
  return pieces;
}

const chat_template* template_set::pick(bool has_tools) const {
  if (has_tools) {
    if (const auto it = named.find("tool_use"); it != named.end() && it->second) return it->second.get();
  }
  return main.get();
}

bool ends_inside_think(std::string_view rendered) {
  const size_t open = rendered.rfind("<think>");
  if (open == std::string_view::npos) return false;
  const size_t close = rendered.rfind("</think>");
  return close == std::string_view::npos || close < open;
}

bool ends_think_block(std::string_view rendered) {
  const size_t end = rendered.find_last_not_of(" \t\r\n");
  return end != std::string_view::npos && rendered.substr(0, end + 1).ends_with("</think>");
}

}  // namespace pocketlm::chat
