// Pulling from an Ollama-compatible registry: GET /v2/<ns>/<model>/manifests/<tag>, then each
// missing blob from /v2/<ns>/<model>/blobs/<digest> into blobs/sha256-<hex>-partial (resumed
// with a Range request after an interruption, retried a few times within one pull), verified by
// sha256 before it gets its final name; the manifest is written last.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/store.h"

namespace pocketlm::store {

struct pull_events {
  std::function<void(std::string_view message)> on_status;  // "pulling manifest", ...
  // Bytes of blob `hex` present so far (including resumed bytes) out of `total`.
  std::function<void(const std::string& hex, int64_t done, int64_t total)> on_progress;
};

// "http(s)://host[:port]" to talk to for `n`: $POCKETLM_REGISTRY when set, else the name's own
// scheme and host. Plain http is refused unless the host is loopback.
result<std::string> registry_base(const model_name& n);

status pull(model_store& s, const model_name& n, const pull_events& ev);

}  // namespace pocketlm::store
