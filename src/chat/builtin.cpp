#include "chat/builtin_templates.h"
#include "chat/chat.h"

namespace pocketlm::chat {

std::vector<std::string> builtin_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : detail::builtin_templates()) names.emplace_back(name);
  return names;
}

std::optional<std::string_view> builtin_source(std::string_view name) {
  for (const auto& [n, text] : detail::builtin_templates()) {
    if (n == name) return text;
  }
  return std::nullopt;
}

}  // namespace pocketlm::chat
