#pragma once
// The chat page served at GET / (index.html, embedded at build time by embed.cmake).
#include <string_view>

namespace pocketlm::server {
extern const std::string_view k_web_page;
}  // namespace pocketlm::server
