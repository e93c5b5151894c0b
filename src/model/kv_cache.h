// The key/value cache: f16 like llama.cpp's default, one slab per layer.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/fp16.h"

namespace pocketlm {

struct kv_cache {
  int64_t n_ctx = 0;
  int64_t kv_dim = 0;
  std::vector<fp16_t> k;  // (n_layer, n_ctx, kv_dim)
  std::vector<fp16_t> v;  // (n_layer, n_ctx, kv_dim)

  void allocate(int64_t n_layer, int64_t ctx, int64_t dim) {
    n_ctx = ctx;
    kv_dim = dim;
    k.assign(static_cast<size_t>(n_layer * ctx * dim), 0);
    v.assign(static_cast<size_t>(n_layer * ctx * dim), 0);
  }
  fp16_t* k_at(int64_t layer, int64_t pos) { return k.data() + (layer * n_ctx + pos) * kv_dim; }
  fp16_t* v_at(int64_t layer, int64_t pos) { return v.data() + (layer * n_ctx + pos) * kv_dim; }
};

}  // namespace pocketlm
