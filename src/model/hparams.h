// Hyper-parameters of a transformer read from GGUF metadata (`<arch>.*` keys).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace pocketlm {

enum class arch_kind { llama, qwen2, qwen3 };

struct hparams {
  arch_kind arch = arch_kind::llama;
  std::string arch_name;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // key_length when given, else n_embd / n_head
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-5f;
  kernels::rope_params rope;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Reads and checks hyper-parameters, n_vocab included (token_embd's rows); unknown
// architectures, a missing token_embd and inconsistent values are errors.
result<hparams> read_hparams(const gguf::file& f);

// The context a model runs with when none is asked: min(n_ctx_train, 4096).
int64_t default_context(const hparams& hp);

}  // namespace pocketlm
