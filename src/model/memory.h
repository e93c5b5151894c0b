// What a loaded model keeps resident, computed from its GGUF and the run shape (context, batch,
// threads, KV type). model::load checks these numbers against a RAM budget, and `pocketlm plan`
// prints the very same ones, so a plan that fits is a load that succeeds.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/kv_cache.h"

namespace pocketlm {

// Fixed cost of a running engine that no model changes: the binary and shared libraries
// (libstdc++, libc, ...), allocator arenas and thread stacks. Measured as the peak RSS of
// `pocketlm eval` on stories260K (260K parameters) minus everything else this file counts:
// 9.1 MiB on Debian 12 x86-64 with the CLI's libraries (libstdc++, libcrypto, libedit, ...).
constexpr uint64_t k_runtime_overhead_bytes = 9ull << 20;

struct memory_shape {
  int64_t n_ctx = 0;
  int64_t n_batch = 512;  // clamped to n_ctx, as model::load does
  int n_threads = 1;
  kv_type kv = kv_type::f16;
};

// Bytes resident after load and one prefill chunk.
struct memory_needs {
  uint64_t weights = 0;   // every tensor's bytes (mmapped; pages in as used) + f32 copies of 1-D ones
  uint64_t metadata = 0;  // the mmapped GGUF header and its parsed copy (vocabulary strings)
  uint64_t kv = 0;        // n_layer * n_ctx * 2 (K and V) * row bytes of kv_dim values, + lfm2's conv state
  uint64_t compute = 0;   // run_state activations for n_batch tokens, logits, scratch
  uint64_t overhead = k_runtime_overhead_bytes;
  uint64_t total() const { return weights + metadata + kv + compute + overhead; }
};

memory_needs estimate_memory(const gguf::file& f, const hparams& hp, const memory_shape& s);

// Largest n_ctx in [1, limit] whose needs fit `budget` (n_batch stays clamped to it); 0: none.
int64_t largest_fitting_ctx(const gguf::file& f, const hparams& hp, memory_shape s, uint64_t budget, int64_t limit);
// Largest prefill chunk in [1, s.n_ctx] that fits `budget` at s.n_ctx; 0: none.
int64_t largest_fitting_batch(const gguf::file& f, const hparams& hp, memory_shape s, uint64_t budget);

// q8_0 needs kv_dim to be a whole number of 32-value blocks.
status check_kv_type(const hparams& hp, kv_type kv);

// "1.9 GiB", "512.0 MiB", "12.0 KiB", "100 B".
std::string format_bytes(uint64_t n);

struct fitted_context {
  int64_t n_ctx = 0;
  std::string notice;  // set when the default context was reduced to fit
};

// The load-time policy. budget 0 means unchecked. When the needs at s.n_ctx exceed the budget:
// an explicit context (-c) is refused; a default one is reduced to the largest multiple of 256
// that fits (a notice says so), and refused when not even 256 positions fit. The error is one
// line naming the numbers, the budget and its source, and the flags that would make it fit.
result<fitted_context> fit_context(const gguf::file& f, const hparams& hp, const memory_shape& s, uint64_t budget,
                                   const std::string& budget_source, bool ctx_explicit);

}  // namespace pocketlm
