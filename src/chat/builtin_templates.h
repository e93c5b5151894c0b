// chat/ internals: the built-in templates' texts, generated from src/chat/builtin/*.jinja at
// configure time (src/chat/CMakeLists.txt). Name and text, sorted by name.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace pocketlm::chat::detail {

const std::vector<std::pair<std::string_view, std::string_view>>& builtin_templates();

}  // namespace pocketlm::chat::detail
