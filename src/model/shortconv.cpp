// LFM2's convolution layers: the per-sequence state and the forward step of a conv layer
// (model::conv_layer, beside model::attention_layer in model.cpp).
#include "model/shortconv.h"

#include <algorithm>
#include <cstring>

#include "model/model.h"

namespace pocketlm {

void conv_state::allocate(const hparams& hp) {
  width = hp.conv_l_cache - 1;
  n_embd = hp.n_embd;
  first.assign(static_cast<size_t>(hp.n_layer), -1);
  int64_t rows = 0;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (!hp.is_conv(il)) continue;
    first[static_cast<size_t>(il)] = rows * n_embd;
    rows += width;
  }
  data.assign(static_cast<size_t>(rows * n_embd), 0.0f);
  saved = data;  // resident from load on, as the memory plan counts it
  saved_pos = -1;
}

void conv_state::clear() {
  std::fill(data.begin(), data.end(), 0.0f);
  saved_pos = -1;
}

void conv_state::save(int64_t pos) {
  std::copy(data.begin(), data.end(), saved.begin());
  saved_pos = pos;
}

void save_prefill_states(std::vector<conv_state>& conv, const int* seq, int64_t n, const std::vector<int64_t>& n_past) {
  if (n < 2) return;  // a decode step: the saved copy stays where the last prefill left it
  std::vector<int64_t> count(conv.size(), 0);
  for (int64_t t = 0; t < n; ++t) ++count[static_cast<size_t>(seq[t])];
  for (size_t s = 0; s < conv.size(); ++s) {
    if (count[s] > 1) conv[s].save(n_past[s]);
  }
}

void shortconv_step(float* bcx, const float* kernel, float* state, int64_t width, int64_t n_embd, float* y) {
  float* b = bcx;  // becomes bx
  const float* c = bcx + n_embd;
  const float* x = bcx + 2 * n_embd;
  const int64_t taps = width + 1;
  for (int64_t i = 0; i < n_embd; ++i) {
    b[i] *= x[i];
    const float* k = kernel + i * taps;
    float sum = 0.0f;
    for (int64_t j = 0; j < width; ++j) sum += state[j * n_embd + i] * k[j];
    sum += b[i] * k[width];
    y[i] = c[i] * sum;
  }
  // The window moves on: drop the oldest row, append this token's bx.
  if (width > 1) std::memmove(state, state + n_embd, static_cast<size_t>((width - 1) * n_embd) * sizeof(float));
  std::copy_n(b, n_embd, state + (width - 1) * n_embd);
}

// xb = rmsnorm(x) * attn_norm; bcx = xb @ in_proj^T; each token steps its sequence's state in
// batch order (a sequence's tokens are consecutive positions there); x += (C * conv) @ out_proj^T.
void model::conv_layer(int il, int64_t n) {
  const layer_weights& lw = w_.layers[static_cast<size_t>(il)];
  const int64_t e = hp_.n_embd;
  for (int64_t t = 0; t < n; ++t) {
    kernels::rmsnorm(st_.x.data() + t * e, lw.attn_norm.data(), st_.xb.data() + t * e, e, hp_.rms_eps);
  }
  float* bcx = st_.conv.data();  // (n, 3 e)
  float* y = bcx + n * 3 * e;    // (n, e)
  kernels::matmul(lw.conv_in, st_.xb.data(), n, bcx, *pool_, st_.act_scratch);
  for (int64_t t = 0; t < n; ++t) {
    conv_state& cs = conv_[static_cast<size_t>(st_.seq[static_cast<size_t>(t)])];
    float* state = cs.layer(il);
    // Position 0 starts from zeros, as llama.cpp's recurrent memory does for a new sequence.
    if (st_.pos[static_cast<size_t>(t)] == 0) std::fill_n(state, cs.width * e, 0.0f);
    shortconv_step(bcx + t * 3 * e, lw.conv_kernel.data(), state, cs.width, e, y + t * e);
  }
  kernels::matmul(lw.conv_out, y, n, st_.xb.data(), *pool_, st_.act_scratch);
  add_residual(lw.attn_post_norm, n);  // x += y @ out_proj^T (no post-norm in lfm2)
}

}  // namespace pocketlm
