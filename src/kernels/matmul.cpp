// Matrix multiplication driver: converts activations once, then splits weight rows over threads.
#include <stdexcept>
#include <string>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace pocketlm::kernels {

namespace {
// Rows handed to a thread at a time; small enough to balance, large enough to amortise.
constexpr int64_t k_rows_per_chunk = 16;
}  // namespace

void matmul(const matrix_view& w, const float* x, int64_t n_tokens, float* y, thread_pool& pool,
            std::vector<uint8_t>& scratch) {
  const type_kernels* k = kernels_for(w.type);
  if (k == nullptr) {
    throw std::runtime_error("matmul: unsupported weight type " +
                             std::string(type_traits(w.type).name));
  }
  const size_t act_row_bytes = row_size(k->vec_dot_type, w.n_cols);
  scratch.resize(act_row_bytes * static_cast<size_t>(n_tokens));
  uint8_t* act = scratch.data();
  const int64_t n_chunks = (w.n_rows + k_rows_per_chunk - 1) / k_rows_per_chunk;
  pool.run([&](int ith, int nth) {
    const auto [t0, t1] = split_range(n_tokens, ith, nth);
    for (int64_t t = t0; t < t1; ++t) {
      k->from_float(x + t * w.n_cols, act + t * act_row_bytes, w.n_cols);
    }
  });
  pool.run([&](int ith, int nth) {
    // Interleaved chunks: thread ith takes chunks ith, ith + nth, ...
    for (int64_t c = ith; c < n_chunks; c += nth) {
      const int64_t r0 = c * k_rows_per_chunk;
      const int64_t r1 = std::min(w.n_rows, r0 + k_rows_per_chunk);
      for (int64_t t = 0; t < n_tokens; ++t) {
        const uint8_t* a = act + t * act_row_bytes;
        float* out = y + t * w.n_rows;
        for (int64_t r = r0; r < r1; ++r) {
          k->vec_dot(w.n_cols, out + r, w.data + r * w.row_bytes, a);
        }
      }
    }
  });
}

}  // namespace pocketlm::kernels
