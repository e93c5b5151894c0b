// Llama 3 (Meta-Llama-3-Instruct), Llama 2 chat and Mistral-7B-Instruct ("v1": [INST] with an
// optional leading system prompt folded into the first user turn).
#include <string>

#include "chat/families.h"
#include "chat/text.h"

namespace pocketlm::chat::detail {
namespace {

bool has_system_first(const std::vector<message>& msgs) {
  return !msgs.empty() && msgs.front().role == "system";
}

}  // namespace

std::vector<piece> render_llama3(const std::vector<message>& msgs, const options& opt) {
  prompt_builder out;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (i == 0) out.special(opt.bos_token);
    out.special("<|start_header_id|>");
    out.text(msgs[i].role);  // any role is printed, so it is message text
    out.special("<|end_header_id|>\n\n");
    out.text(trim_space(msgs[i].content));
    out.special("<|eot_id|>");
  }
  // This template prints the assistant header whether or not add_generation_prompt is set.
  out.special("<|start_header_id|>assistant<|end_header_id|>\n\n");
  return out.take();
}

std::vector<piece> render_llama2(const std::vector<message>& msgs, const options& opt) {
  prompt_builder out;
  const bool has_system = has_system_first(msgs);
  for (std::size_t i = has_system ? 1 : 0, j = 0; i < msgs.size(); ++i, ++j) {
    const message& m = msgs[i];
    // strip() applies to the whole content, system block included.
    prompt_builder content;
    if (j == 0 && has_system) {
      content.special("<<SYS>>\n");
      content.text(msgs.front().content);
      content.special("\n<</SYS>>\n\n");
    }
    content.text(m.content);
    content.trim();
    if (m.role == "user") {
      out.special(opt.bos_token);
      out.special("[INST] ");
      out.append(content.take());
      out.special(" [/INST]");
    } else if (m.role == "assistant") {
      out.special(" ");
      out.append(content.take());
      out.special(" ");
      out.special(opt.eos_token);
    }
  }
  return out.take();
}

std::vector<piece> render_mistral(const std::vector<message>& msgs, const options& opt) {
  prompt_builder out;
  const bool has_system = has_system_first(msgs);
  out.special(opt.bos_token);
  for (std::size_t i = has_system ? 1 : 0, j = 0; i < msgs.size(); ++i, ++j) {
    const message& m = msgs[i];
    if (m.role == "user") {
      out.special(" [INST] ");
      if (j == 0 && has_system) {
        out.text(msgs.front().content);
        out.special("\n\n");
      }
      out.text(m.content);
      out.special(" [/INST]");
    } else if (m.role == "assistant") {
      out.special(" ");
      out.text(m.content);
      out.special(opt.eos_token);
    }
  }
  return out.take();
}

}  // namespace pocketlm::chat::detail
