// The memory planner behind `pocketlm plan` and the --ram budget of run/eval: RAM sizes from
// flags and /proc/meminfo, and a model's resident bytes at a context, computed by model/memory.h
// (the same numbers model::load checks), with the largest context and prefill chunk that fit.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "model/hparams.h"
#include "model/memory.h"

namespace pocketlm {

// "8G", "512M", "6GiB", "1.5g", "4096" (bytes). K/M/G/T, with or without "i" and "B", are all
// powers of 1024 (a "8 GB" phone has 8 GiB of RAM).
result<uint64_t> parse_size(const std::string& text);

// MemAvailable of a /proc/meminfo style file, in bytes.
result<uint64_t> read_mem_available(const std::string& meminfo_path = "/proc/meminfo");

// The default budget: MemAvailable minus a reserve of 10% of it, at most 512 MiB, left for the
// rest of the system (page cache, other processes growing while we run).
uint64_t budget_from_available(uint64_t mem_available);

struct ram_budget {
  uint64_t bytes = 0;
  std::string source;  // "--ram" or "MemAvailable - reserve"
};

// --ram SIZE when given (non-empty), else the default from `meminfo_path`.
result<ram_budget> resolve_budget(const std::string& ram_flag, const std::string& meminfo_path = "/proc/meminfo");

struct plan_request {
  std::string model_path;
  int64_t n_ctx = 0;  // 0: the engine's default, min(n_ctx_train, 4096)
  int64_t n_batch = 512;
  int n_threads = 1;
  kv_type kv = kv_type::f16;
  ram_budget budget;
};

// What the decode loop reads and computes per token (for bandwidth and compute ceilings).
struct token_traffic {
  uint64_t weight_bytes = 0;  // every weight matrix; of an untied token_embd only one row
  uint64_t kv_bytes = 0;      // the whole KV cache at the planned context
  uint64_t n_params = 0;      // elements of those matrices: 2 * n_params FLOPs per token
  bool quantized = false;     // any matrix in an integer block format (q4_0, q8_0, K-quants)
};

struct memory_plan {
  hparams hp;
  memory_shape shape;  // the context, chunk, threads and KV type planned for
  memory_needs needs;
  ram_budget budget;
  bool fits = false;
  int64_t max_ctx = 0;    // largest context <= n_ctx_train that fits (0: none)
  int64_t max_batch = 0;  // largest prefill chunk at shape.n_ctx that fits (0: none)
  token_traffic traffic;
};

result<memory_plan> make_plan(const plan_request& req);

}  // namespace pocketlm
