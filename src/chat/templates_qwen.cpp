// ChatML as Qwen2.5-Instruct ships it, Qwen3, and DeepSeek-R1-Distill (whose vocabulary is Qwen's
// or Llama's, but whose template is its own). Tool calls are not modelled (message has none), so
// the templates' tool_calls branches never fire; tool result turns are.
#include <string_view>

#include "chat/families.h"
#include "chat/text.h"

namespace pocketlm::chat::detail {
namespace {

constexpr std::string_view qwen_default_system =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// `role` turn as "<|im_start|>role\ncontent<|im_end|>\n".
void chatml_turn(prompt_builder& out, const message& m) {
  out.special("<|im_start|>");
  out.special(m.role);  // one of the fixed role names the template tested for
  out.special("\n");
  out.text(m.content);
  out.special("<|im_end|>\n");
}

// Consecutive tool results share one user turn, each wrapped in <tool_response> (both Qwens).
void qwen_tool_turn(prompt_builder& out, const std::vector<message>& msgs, std::size_t i) {
  if (i == 0 || msgs[i - 1].role != "tool") out.special("<|im_start|>user");
  out.special("\n<tool_response>\n");
  out.text(msgs[i].content);
  out.special("\n</tool_response>");
  if (i + 1 == msgs.size() || msgs[i + 1].role != "tool") out.special("<|im_end|>\n");
}

bool has_system_first(const std::vector<message>& msgs) {
  return !msgs.empty() && msgs.front().role == "system";
}

// Qwen3: index of the last user turn that is a real query (not a wrapped tool response); the
// template keeps reasoning only on assistant turns after it. Defaults to the last index.
std::size_t last_query_index(const std::vector<message>& msgs) {
  for (std::size_t i = msgs.size(); i-- > 0;) {
    const std::string_view c = msgs[i].content;
    const bool wrapped = c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
    if (msgs[i].role == "user" && !wrapped) return i;
  }
  return msgs.empty() ? 0 : msgs.size() - 1;
}

void qwen3_assistant(prompt_builder& out, const message& m, bool keep_reasoning, bool last) {
  std::string_view content = m.content;
  std::string_view reasoning = m.reasoning;
  if (reasoning.empty() && content.find("</think>") != std::string_view::npos) {
    content = strip_chars(after_last(m.content, "</think>"), "\n", true, false);
    reasoning = before_first(m.content, "</think>");
    reasoning = strip_chars(reasoning, "\n", false, true);
    reasoning = strip_chars(after_last(reasoning, "<think>"), "\n", true, false);
  }
  if (keep_reasoning && (last || !reasoning.empty())) {
    out.special("<|im_start|>assistant\n<think>\n");
    out.text(strip_chars(reasoning, "\n", true, true));
    out.special("\n</think>\n\n");
    out.text(strip_chars(content, "\n", true, false));
  } else {
    out.special("<|im_start|>assistant\n");
    out.text(content);
  }
  out.special("<|im_end|>\n");
}

}  // namespace

std::vector<piece> render_chatml(const std::vector<message>& msgs, const options& opt) {
  prompt_builder out;
  if (has_system_first(msgs)) {
    out.special("<|im_start|>system\n");
    out.text(msgs.front().content);
    out.special("<|im_end|>\n");
  } else {
    out.special("<|im_start|>system\n");
    out.special(qwen_default_system);
    out.special("<|im_end|>\n");
  }
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const message& m = msgs[i];
    if (m.role == "user" || m.role == "assistant" || (m.role == "system" && i > 0)) {
      chatml_turn(out, m);
    } else if (m.role == "tool") {
      qwen_tool_turn(out, msgs, i);
    }
  }
  if (opt.add_generation_prompt) out.special("<|im_start|>assistant\n");
  return out.take();
}

std::vector<piece> render_qwen3(const std::vector<message>& msgs, const options& opt) {
  prompt_builder out;
  if (has_system_first(msgs)) {
    out.special("<|im_start|>system\n");
    out.text(msgs.front().content);
    out.special("<|im_end|>\n");
  }
  const std::size_t last_query = last_query_index(msgs);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const message& m = msgs[i];
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      chatml_turn(out, m);
    } else if (m.role == "assistant") {
      qwen3_assistant(out, m, i > last_query, i + 1 == msgs.size());
    } else if (m.role == "tool") {
      qwen_tool_turn(out, msgs, i);
    }
  }
  if (opt.add_generation_prompt) {
    out.special("<|im_start|>assistant\n");
    if (!opt.enable_thinking) out.special("<think>\n\n</think>\n\n");
  }
  return out.take();
}

std::vector<piece> render_deepseek_r1(const std::vector<message>& msgs, const options& opt) {
  prompt_builder out;
  // The template prints only the LAST system message, raw, right after BOS.
  std::string_view system_prompt;
  for (const message& m : msgs) {
    if (m.role == "system") system_prompt = m.content;
  }
  out.special(opt.bos_token);
  out.text(system_prompt);
  bool is_tool = false;       // inside a run of tool outputs
  bool first_output = true;   // the template never resets this one
  for (const message& m : msgs) {
    if (m.role == "user") {
      is_tool = false;
      out.special("<｜User｜>");
      out.text(m.content);
    } else if (m.role == "assistant" && is_tool) {
      out.special("<｜tool▁outputs▁end｜>");
      out.text(m.content);
      out.special("<｜end▁of▁sentence｜>");
      is_tool = false;
    } else if (m.role == "assistant") {
      out.special("<｜Assistant｜>");
      out.text(after_last(m.content, "</think>"));  // reasoning of past turns is dropped
      out.special("<｜end▁of▁sentence｜>");
    } else if (m.role == "tool") {
      is_tool = true;
      out.special(first_output ? "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>"
                               : "\n<｜tool▁output▁begin｜>");
      out.text(m.content);
      out.special("<｜tool▁output▁end｜>");
      first_output = false;
    }
  }
  if (is_tool) out.special("<｜tool▁outputs▁end｜>");
  if (opt.add_generation_prompt && !is_tool) out.special("<｜Assistant｜><think>\n");
  return out.take();
}

}  // namespace pocketlm::chat::detail
