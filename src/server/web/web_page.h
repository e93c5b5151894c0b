#pragma once
// The web chat app served by `pocketlm serve`: index.html at "/", its scripts, styles, service
// worker, manifest and icons, and the vendored marked, DOMPurify and highlight.js, all embedded at
// build time by embed.cmake (web_assets.cpp in the build directory); text files are stored
// gzipped (a quarter of their size in the binary).
#include <span>
#include <string_view>

namespace pocketlm::server {

struct web_asset {
  std::string_view path;          // URL path: "/", "/app.js", "/vendor/marked.js", ...
  std::string_view content_type;  // Content-Type header value
  std::string_view body;          // the file, or its gzip stream when `gzipped`
  bool gzipped = false;
};

std::span<const web_asset> web_assets();

// The asset served at `path`, or nullptr.
inline const web_asset* find_web_asset(std::string_view path) {
  for (const web_asset& a : web_assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace pocketlm::server
