#include <string>

#include "chat/chat.h"
#include "chat/families.h"

namespace pocketlm::chat {
namespace {

// Llama 2 and Mistral raise unless, after an optional leading system turn, turns alternate
// user/assistant starting with user; Mistral also rejects any other role.
status check_alternation(template_kind k, const std::vector<message>& msgs) {
  const std::size_t start = msgs.front().role == "system" ? 1 : 0;
  for (std::size_t i = start; i < msgs.size(); ++i) {
    const std::string& role = msgs[i].role;
    if ((role == "user") != ((i - start) % 2 == 0)) {
      return error{"chat: message " + std::to_string(i) + " has role '" + role + "': " +
                   std::string(template_name(k)) +
                   " needs user/assistant turns alternating after an optional system message"};
    }
    if (k == template_kind::mistral && role != "user" && role != "assistant") {
      return error{"chat: message " + std::to_string(i) + " has role '" + role +
                   "': mistral supports only user and assistant after an optional first system"};
    }
  }
  return {};
}

}  // namespace

status validate(template_kind k, const std::vector<message>& msgs) {
  if (msgs.empty()) return error{"chat: no messages to render"};
  if (k == template_kind::llama2 || k == template_kind::mistral) return check_alternation(k, msgs);
  return {};
}

std::vector<piece> render(template_kind k, const std::vector<message>& msgs, const options& opt) {
  switch (k) {
    case template_kind::chatml: return detail::render_chatml(msgs, opt);
    case template_kind::qwen3: return detail::render_qwen3(msgs, opt);
    case template_kind::deepseek_r1: return detail::render_deepseek_r1(msgs, opt);
    case template_kind::llama3: return detail::render_llama3(msgs, opt);
    case template_kind::llama2: return detail::render_llama2(msgs, opt);
    case template_kind::mistral: return detail::render_mistral(msgs, opt);
    case template_kind::none: break;
  }
  return {};
}

std::string render_text(template_kind k, const std::vector<message>& msgs, const options& opt) {
  std::string text;
  for (const piece& p : render(k, msgs, opt)) text += p.text;
  return text;
}

}  // namespace pocketlm::chat
