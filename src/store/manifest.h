// Ollama/OCI image manifests: what a model is made of (config blob + layers), each layer a
// content-addressed blob named by its sha256 digest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pocketlm::store {

namespace media {
inline constexpr std::string_view manifest_v2 = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view model = "application/vnd.ollama.image.model";
inline constexpr std::string_view params = "application/vnd.ollama.image.params";
inline constexpr std::string_view system = "application/vnd.ollama.image.system";
inline constexpr std::string_view license = "application/vnd.ollama.image.license";
inline constexpr std::string_view template_ = "application/vnd.ollama.image.template";
inline constexpr std::string_view prompt = "application/vnd.ollama.image.prompt";  // old name of template
}  // namespace media

struct layer {
  std::string media_type;
  std::string digest;  // "sha256:<64 hex>" as written by Ollama ("sha256-<hex>" accepted on read)
  int64_t size = 0;
  std::string from;  // optional provenance Ollama records for layers reused from another model
};

struct manifest {
  int schema_version = 2;
  std::string media_type = std::string(media::manifest_v2);
  layer config;
  std::vector<layer> layers;

  const layer* find(std::string_view type) const;  // first layer of that type
  int64_t total_size() const;                      // config + layers, as Ollama's list shows
  std::vector<std::string> digests() const;        // hex of config and every layer
};

// Parses and validates (every digest well-formed, sizes >= 0, exactly one model layer).
result<manifest> parse_manifest(std::string_view json);
// Compact JSON with a trailing newline, fields in Ollama's order (what its WriteManifest emits).
std::string serialize_manifest(const manifest& m);

// "sha256:<hex>" or "sha256-<hex>" (64 hex digits) -> lowercase hex; error otherwise.
result<std::string> digest_hex(std::string_view digest);

}  // namespace pocketlm::store
