// The key/value cache, one slab per layer: f16 like llama.cpp's default, or q8_0 blocks (32
// values share one f16 scale; 34 bytes per 32 values) to halve its memory on small devices.
// Rows are written once per position; the attention kernel reads them in place. A layer may
// hold fewer cells than the context (a sliding-window layer keeps its window plus one batch):
// its cells are then a ring, position p in cell p % cells.
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/types.h"
#include "kernels/attention.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace pocketlm {

enum class kv_type { f16, q8_0 };

inline ggml_type kv_ggml_type(kv_type t) { return t == kv_type::f16 ? ggml_type::f16 : ggml_type::q8_0; }

// Bytes of one cached row of `dim` values (dim a multiple of 32 for q8_0).
inline size_t kv_row_bytes(kv_type t, int64_t dim) { return row_size(kv_ggml_type(t), dim); }

struct kv_cache {
  kv_type type = kv_type::f16;
  int64_t n_ctx = 0;
  int64_t kv_dim = 0;
  size_t row_bytes = 0;
  std::vector<int64_t> cells;  // (n_layer) cells of each layer, <= n_ctx
  std::vector<int64_t> first;  // (n_layer) first row of each layer's slab
  std::vector<uint8_t> k;      // (sum of cells, row_bytes)
  std::vector<uint8_t> v;      // (sum of cells, row_bytes)

  // Zero-fills, so every page is resident from load on (the memory plan counts all of it).
  void allocate(kv_type t, const std::vector<int64_t>& layer_cells, int64_t ctx, int64_t dim) {
    type = t;
    n_ctx = ctx;
    kv_dim = dim;
    row_bytes = kv_row_bytes(t, dim);
    cells = layer_cells;
    first.assign(cells.size(), 0);
    int64_t rows = 0;
    for (size_t l = 0; l < cells.size(); ++l) {
      first[l] = rows;
      rows += cells[l];
    }
    k.assign(static_cast<size_t>(rows) * row_bytes, 0);
    v.assign(static_cast<size_t>(rows) * row_bytes, 0);
  }

  // Whether layer `layer`'s cells are a ring (fewer than the context).
  bool is_ring(int64_t layer) const { return cells[static_cast<size_t>(layer)] < n_ctx; }

  // Stores the K and V rows (kv_dim floats each) of one position.
  void store(int64_t layer, int64_t pos, const float* k_row, const float* v_row) {
    encode(k_row, row(k, layer, pos));
    encode(v_row, row(v, layer, pos));
  }

  // Layer `layer`'s rows as the attention kernel reads them (kernels/attention.h).
  kernels::kv_layer_view layer_view(int64_t layer) const {
    const auto l = static_cast<size_t>(layer);
    const size_t base = static_cast<size_t>(first[l]) * row_bytes;
    return {type == kv_type::f16 ? kernels::kv_format::f16 : kernels::kv_format::q8_0, k.data() + base, v.data() + base,
            row_bytes, is_ring(layer) ? cells[l] : 0};
  }

 private:
  uint8_t* row(std::vector<uint8_t>& s, int64_t layer, int64_t pos) {
    const auto l = static_cast<size_t>(layer);
    return s.data() + static_cast<size_t>(first[l] + pos % cells[l]) * row_bytes;
  }

  void encode(const float* src, uint8_t* dst) const {
    if (type == kv_type::q8_0) {
      quantize_row(ggml_type::q8_0, src, dst, kv_dim);
      return;
    }
    auto* h = reinterpret_cast<fp16_t*>(dst);
    for (int64_t i = 0; i < kv_dim; ++i) h[i] = f32_to_fp16(src[i]);
  }
};

}  // namespace pocketlm
