// Matrix multiplication driver. Activations are converted once into the weight type's dot
// format (threads split the rows of the conversion); the output is then cut into tiles of
// (weight rows x tokens) sized so a tile's weight rows stay in L2 and its activation rows in
// L1/L2, and threads take tiles from a shared counter, so faster cores simply take more tiles
// (big.LITTLE) and all finish together. Tile shapes depend on the matrix and token count only,
// never on the thread count, so every output element is computed by the same kernel call with
// the same summation order whatever the number of threads.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"

namespace pocketlm::kernels {

namespace {

constexpr size_t k_tile_weight_bytes = 128 * 1024;  // weight rows of one tile (L2)
constexpr size_t k_tile_act_bytes = 48 * 1024;      // activation rows of one tile (L1/L2)
constexpr int64_t k_row_step = 16;                  // tile rows are a multiple of this
constexpr int64_t k_min_row_tiles = 16;             // row tiles per matrix, for balance
constexpr int64_t k_max_tile_tokens = 64;

struct tiling {
  int64_t rows;    // weight rows per tile (multiple of 16, so of 4 for packed groups)
  int64_t tokens;  // tokens per tile
  int64_t n_row_tiles;
  int64_t n_token_tiles;
};

tiling choose_tiling(const matrix_view& w, size_t act_row_bytes, int64_t n_tokens) {
  tiling t{};
  t.tokens = static_cast<int64_t>(k_tile_act_bytes / std::max<size_t>(act_row_bytes, 1));
  t.tokens = std::clamp<int64_t>(t.tokens / 4 * 4, 4, k_max_tile_tokens);
  t.tokens = std::min(t.tokens, n_tokens);
  int64_t rows = static_cast<int64_t>(k_tile_weight_bytes / std::max<size_t>(w.row_bytes, 1));
  // Never so few tiles that one thread is left with a large share at the end.
  rows = std::min(rows, w.n_rows / k_min_row_tiles);
  t.rows = std::max<int64_t>(k_row_step, rows / k_row_step * k_row_step);
  t.n_row_tiles = (w.n_rows + t.rows - 1) / t.rows;
  t.n_token_tiles = (n_tokens + t.tokens - 1) / t.tokens;
  return t;
}

// Everything a tile needs; the pool job captures only a pointer to it (no allocation).
struct matmul_job {
  const matrix_view* w;
  const type_kernels* k;
  packed_gemm_fn packed;  // non-null for a repacked matrix
  const uint8_t* act;
  size_t act_row_bytes;
  const act_block_info* info;  // packed only: (n_tokens, n_cols / 32)
  int64_t n_tokens;
  float* y;
  tiling tile;
  std::atomic<int64_t> next{0};
};

void run_tile(const matmul_job& j, int64_t c) {
  // Consecutive chunks share their weight rows, which the thread then finds in its cache.
  const int64_t r0 = (c / j.tile.n_token_tiles) * j.tile.rows;
  const int64_t t0 = (c % j.tile.n_token_tiles) * j.tile.tokens;
  const int64_t nr = std::min(j.tile.rows, j.w->n_rows - r0);
  const int64_t nt = std::min(j.tile.tokens, j.n_tokens - t0);
  const matrix_view& w = *j.w;
  const uint8_t* wr = w.data + r0 * w.row_bytes;
  const uint8_t* a = j.act + t0 * j.act_row_bytes;
  float* y = j.y + t0 * w.n_rows + r0;
  const auto ys = static_cast<size_t>(w.n_rows);
  if (j.packed != nullptr) {
    const act_block_info* info = j.info + t0 * (w.n_cols / qk8_0);
    j.packed(w.n_cols, nr / 4, static_cast<int>(nt), wr, a, j.act_row_bytes, info, y, ys);
  } else if (j.k->gemm != nullptr && nt > 1) {  // one token: the streaming row dot is the lean path
    j.k->gemm(w.n_cols, static_cast<int>(nr), static_cast<int>(nt), wr, w.row_bytes, a, j.act_row_bytes, y, ys);
  } else {
    for (int64_t r = 0; r < nr; ++r) {  // the row stays in L1 while every token visits it
      for (int64_t t = 0; t < nt; ++t) {
        j.k->vec_dot(w.n_cols, y + t * w.n_rows + r, wr + r * w.row_bytes, a + t * j.act_row_bytes);
      }
    }
  }
}

void run_tiles(matmul_job& j) {
  const int64_t n_chunks = j.tile.n_row_tiles * j.tile.n_token_tiles;
  for (int64_t c = j.next.fetch_add(1, std::memory_order_relaxed); c < n_chunks;
       c = j.next.fetch_add(1, std::memory_order_relaxed)) {
    run_tile(j, c);
  }
}

// Converts tokens [t0, t1) of x, and for a packed matrix their activation block infos.
void convert_rows(const matrix_view& w, const type_kernels& k, bool packed, const float* x, int64_t t0, int64_t t1,
                  uint8_t* act, size_t act_row_bytes, act_block_info* info) {
  for (int64_t t = t0; t < t1; ++t) {
    uint8_t* row = act + t * act_row_bytes;
    k.from_float(x + t * w.n_cols, row, w.n_cols);
    if (packed) q8_0_block_info(row, w.n_cols, info + t * (w.n_cols / qk8_0));
  }
}

}  // namespace

void matmul(const matrix_view& w, const float* x, int64_t n_tokens, float* y, thread_pool& pool,
            std::vector<uint8_t>& scratch) {
  const type_kernels* k = kernels_for(w.type);
  if (k == nullptr) {  // load_weights admits supported types only: reaching this is a bug
    const std::string_view name = type_traits(w.type).name;
    std::fprintf(stderr, "pocketlm: matmul on unsupported weight type %.*s\n", static_cast<int>(name.size()),
                 name.data());
    std::abort();
  }
  const bool packed = w.layout != weight_layout::plain;
  const size_t act_row_bytes = row_size(k->vec_dot_type, w.n_cols);
  const size_t act_bytes = (act_row_bytes * static_cast<size_t>(n_tokens) + 7) / 8 * 8;
  const size_t info_bytes = packed ? sizeof(act_block_info) * static_cast<size_t>(n_tokens * (w.n_cols / qk8_0)) : 0;
  if (scratch.size() < act_bytes + info_bytes) scratch.resize(act_bytes + info_bytes);
  auto* info = packed ? reinterpret_cast<act_block_info*>(scratch.data() + act_bytes) : nullptr;

  // f32 weights dot f32 activations: the input rows are already in that format.
  const bool convert = k->vec_dot_type != ggml_type::f32;
  const uint8_t* act = convert ? scratch.data() : reinterpret_cast<const uint8_t*>(x);
  if (convert && (n_tokens == 1 || pool.size() == 1)) {
    convert_rows(w, *k, packed, x, 0, n_tokens, scratch.data(), act_row_bytes, info);
  } else if (convert) {
    pool.run([&](int ith, int nth) {
      const auto [t0, t1] = split_range(n_tokens, ith, nth);
      convert_rows(w, *k, packed, x, t0, t1, scratch.data(), act_row_bytes, info);
    });
  }

  matmul_job job{&w,       k, packed ? packed_gemm_for(w.layout) : nullptr, act, act_row_bytes, info,
                 n_tokens, y, choose_tiling(w, act_row_bytes, n_tokens)};
  matmul_job* jp = &job;
  pool.run([jp](int, int) { run_tiles(*jp); });
}

}  // namespace pocketlm::kernels
