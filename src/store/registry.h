// Pulling from an Ollama-compatible registry (and pushing to one, below): GET
// /v2/<ns>/<model>/manifests/<tag>, then each missing blob from /v2/<ns>/<model>/blobs/<digest>
// into blobs/sha256-<hex>-partial (resumed with a Range request after an interruption, retried
// a few times within one pull), verified by sha256 before it gets its final name; the manifest
// is written last.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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

// One registry pocketlm may pull from: "host[:port]" (lowercase) and its scheme.
struct registry_entry {
  std::string scheme = "https";
  std::string host;
};

// The registries the user allows: $POCKETLM_REGISTRY, a comma-separated list of
// [http://|https://]host[:port] (https unless http:// is written, and plain http only to a
// loopback host), else registry.ollama.ai and hf.co (Ollama's and Hugging Face's). The first
// entry also serves names without a host of their own (Ollama's library: `llama3.2:1b`) unless
// registry.ollama.ai is itself listed. Errors name the bad entry.
result<std::vector<registry_entry>> configured_registries();

// "http(s)://host[:port]" to talk to for `n`, or an error (kind invalid_input) when n's host is
// not a configured registry: nothing is contacted for a name such as `127.0.0.1:18499/x:y`
// unless the user listed that host.
result<std::string> registry_base(const model_name& n);

// Every connection failure (refused, reset, timed out, TLS, not HTTP) reads the same, "cannot
// reach registry <base>", so that a pull never tells an open port from a closed one.
status pull(model_store& s, const model_name& n, const pull_events& ev);

// Pushing (store/push.cpp) to n's registry (registry_base, as for pull) with the OCI
// distribution protocol Ollama uses: for each blob (the layers, then the config) HEAD
// /v2/<ns>/<model>/blobs/<digest>, skipped when the registry has it; else POST
// /v2/<ns>/<model>/blobs/uploads/ for an upload Location (on the same registry) and PUT
// <location>?digest=<digest> with the bytes. Last PUT /v2/<ns>/<model>/manifests/<tag> with the
// manifest's stored bytes, so that a pull gets the same model ID. n is looked up in `mine`, then
// Ollama's store. No authentication: a registry asking for it (401) is an error saying so.
// on_status: "retrieving manifest", "pushing manifest"; on_progress: bytes of a blob sent.
using push_events = pull_events;
status push(const model_store& mine, const std::optional<model_store>& ollama, const model_name& n,
            const push_events& ev);

}  // namespace pocketlm::store
