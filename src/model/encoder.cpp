// The encoder forward pass of bert and nomic-bert (model/encoder.h), after llama.cpp's
// llama_model_bert::graph: one pass over the whole input, every token attending every token.
#include "model/encoder.h"

#include <algorithm>
#include <cmath>

#include "kernels/repack.h"
#include "model/arch.h"
#include "model/model.h"
#include "model/tensor_loader.h"
#include "tensor/quant.h"

namespace pocketlm {

namespace {

encoder_layer load_encoder_layer(tensor_loader& ld, const hparams& hp, int il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t e = hp.n_embd, q = hp.q_dim(), kv = hp.kv_dim(), ff = hp.n_ff;
  encoder_layer l;
  // As llama.cpp's create_tensor_qkv: a fused attn_qkv when there is one, else q, k and v.
  l.wqkv = ld.matrix(p + "attn_qkv.weight", e, q + 2 * kv, /*required=*/false);
  if (l.wqkv.data == nullptr) {
    l.wq = ld.matrix(p + "attn_q.weight", e, q);
    l.wk = ld.matrix(p + "attn_k.weight", e, kv);
    l.wv = ld.matrix(p + "attn_v.weight", e, kv);
    l.bq = ld.vector(p + "attn_q.bias", q, false);
    l.bk = ld.vector(p + "attn_k.bias", kv, false);
    l.bv = ld.vector(p + "attn_v.bias", kv, false);
  }
  l.wo = ld.matrix(p + "attn_output.weight", q, e);
  l.bo = ld.vector(p + "attn_output.bias", e, false);
  l.attn_norm_w = ld.vector(p + "attn_output_norm.weight", e);
  l.attn_norm_b = ld.vector(p + "attn_output_norm.bias", e);
  l.w_up = ld.matrix(p + "ffn_up.weight", e, ff);
  l.b_up = ld.vector(p + "ffn_up.bias", ff, false);
  if (hp.arch == arch_kind::nomic_bert) l.w_gate = ld.matrix(p + "ffn_gate.weight", e, ff);
  l.w_down = ld.matrix(p + "ffn_down.weight", ff, e);
  l.b_down = ld.vector(p + "ffn_down.bias", e, false);
  l.out_norm_w = ld.vector(p + "layer_output_norm.weight", e);
  l.out_norm_b = ld.vector(p + "layer_output_norm.bias", e);
  return l;
}

void add_bias(float* y, const std::vector<float>& b, int64_t n_rows, int64_t dim) {
  if (b.empty()) return;
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] += b[static_cast<size_t>(i)];
  }
}

}  // namespace

result<encoder_weights> load_encoder_weights(const gguf::file& f, const hparams& hp) {
  tensor_loader ld(f);
  encoder_weights w;
  const int64_t e = hp.n_embd;
  w.token_embd = ld.matrix("token_embd.weight", e, hp.n_vocab);
  const kernels::matrix_view types = ld.matrix("token_types.weight", e, hp.n_token_types, /*required=*/false);
  if (types.data != nullptr) {
    w.type_row0.resize(static_cast<size_t>(e));
    dequantize_row(types.type, types.data, w.type_row0.data(), e);
  }
  if (hp.arch == arch_kind::bert) w.pos_embd = ld.matrix("position_embd.weight", e, hp.n_ctx_train);
  w.embd_norm_w = ld.vector("token_embd_norm.weight", e);
  w.embd_norm_b = ld.vector("token_embd_norm.bias", e);
  for (int il = 0; il < hp.n_layer && ld.err().ok(); ++il) w.layers.push_back(load_encoder_layer(ld, hp, il));
  if (!ld.err()) return ld.err().err();
  return w;
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) var += static_cast<double>(x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * w[i] + b[i];
}

// st_.x (n, n_embd) = the last hidden states of `tokens` at positions 0..n-1 of sequence `seq`
// (its KV cache holds each layer's K/V while the layer runs). n <= max_batch().
void model::encode(int seq, const int32_t* tokens, int64_t n) {
  const encoder_weights& w = *enc_;
  const int64_t e = hp_.n_embd;
  for (int64_t t = 0; t < n; ++t) {  // x = norm(token_embd[tok] + token_types[0] + position_embd[t])
    float* x = st_.x.data() + t * e;
    float* row = st_.xb.data();
    kernels::dequantize_any_row(w.token_embd, tokens[t], x);
    if (!w.type_row0.empty()) {
      for (int64_t i = 0; i < e; ++i) x[i] += w.type_row0[static_cast<size_t>(i)];
    }
    if (w.pos_embd.data != nullptr) {
      kernels::dequantize_any_row(w.pos_embd, t, row);
      for (int64_t i = 0; i < e; ++i) x[i] += row[i];
    }
    layer_norm(x, w.embd_norm_w.data(), w.embd_norm_b.data(), x, e, hp_.norm_eps);
    st_.seq[static_cast<size_t>(t)] = seq;
    st_.pos[static_cast<size_t>(t)] = t;
    st_.first_pos[static_cast<size_t>(t)] = n - 1;  // every token attends up to the last one
  }
  for (int il = 0; il < hp_.n_layer; ++il) {
    encoder_attention(il, n);
    encoder_ffn(il, n);
  }
}

void model::encoder_attention(int il, int64_t n) {
  const encoder_layer& l = enc_->layers[static_cast<size_t>(il)];
  const int64_t e = hp_.n_embd, qd = hp_.q_dim(), kvd = hp_.kv_dim(), hd = hp_.head_dim;
  if (l.wqkv.data != nullptr) {  // one matmul, rows q | k | v
    kernels::matmul(l.wqkv, st_.x.data(), n, st_.fused.data(), *pool_, st_.act_scratch);
    for (int64_t t = 0; t < n; ++t) {
      const float* src = st_.fused.data() + t * (qd + 2 * kvd);
      std::copy_n(src, qd, st_.q.data() + t * qd);
      std::copy_n(src + qd, kvd, st_.k.data() + t * kvd);
      std::copy_n(src + qd + kvd, kvd, st_.v.data() + t * kvd);
    }
  } else {
    kernels::matmul(l.wq, st_.x.data(), n, st_.q.data(), *pool_, st_.act_scratch);
    kernels::matmul(l.wk, st_.x.data(), n, st_.k.data(), *pool_, st_.act_scratch);
    kernels::matmul(l.wv, st_.x.data(), n, st_.v.data(), *pool_, st_.act_scratch);
    add_bias(st_.q.data(), l.bq, n, qd);
    add_bias(st_.k.data(), l.bk, n, kvd);
    add_bias(st_.v.data(), l.bv, n, kvd);
  }
  for (int64_t t = 0; t < n; ++t) {
    float* q = st_.q.data() + t * qd;
    float* k = st_.k.data() + t * kvd;
    if (hp_.arch == arch_kind::nomic_bert) {
      kernels::rope(q, static_cast<int>(hp_.n_head), static_cast<int>(hd), t, hp_.rope);
      kernels::rope(k, static_cast<int>(hp_.n_head_kv), static_cast<int>(hd), t, hp_.rope);
    }
    kv_[static_cast<size_t>(st_.seq[static_cast<size_t>(t)])].store(il, t, k, st_.v.data() + t * kvd);
  }
  kernels::attention_args a;  // softmax(q k^T / sqrt(head_dim)) v over all n positions
  a.n_tokens = n;
  a.n_head = hp_.n_head;
  a.n_head_kv = hp_.n_head_kv;
  a.head_dim = hd;
  a.scale = hp_.kq_scale;
  a.q = st_.q.data();
  a.q_stride = qd;
  a.last_pos = st_.first_pos.data();  // n - 1 for every token (set by encode)
  a.kv_of = [this, il](int64_t t) { return kv_[static_cast<size_t>(st_.seq[static_cast<size_t>(t)])].layer_view(il); };
  a.out = st_.attn.data();
  kernels::attention(a, *pool_);
  kernels::matmul(l.wo, st_.attn.data(), n, st_.xb.data(), *pool_, st_.act_scratch);
  add_bias(st_.xb.data(), l.bo, n, e);
  for (int64_t t = 0; t < n; ++t) {  // x = norm(x + attn)
    float* x = st_.x.data() + t * e;
    const float* b = st_.xb.data() + t * e;
    for (int64_t i = 0; i < e; ++i) x[i] += b[i];
    layer_norm(x, l.attn_norm_w.data(), l.attn_norm_b.data(), x, e, hp_.norm_eps);
  }
}

void model::encoder_ffn(int il, int64_t n) {
  const encoder_layer& l = enc_->layers[static_cast<size_t>(il)];
  const int64_t e = hp_.n_embd, ff = hp_.n_ff;
  kernels::matmul(l.w_up, st_.x.data(), n, st_.up.data(), *pool_, st_.act_scratch);
  add_bias(st_.up.data(), l.b_up, n, ff);
  if (l.w_gate.data != nullptr) {  // nomic-bert: silu(x @ gate^T) * (x @ up^T)
    kernels::matmul(l.w_gate, st_.x.data(), n, st_.gate.data(), *pool_, st_.act_scratch);
    kernels::swiglu(st_.gate.data(), st_.up.data(), n * ff);
  } else {  // bert: gelu(x @ up^T + b), as GeGLU with a gate of ones
    std::fill_n(st_.gate.data(), n * ff, 1.0f);
    kernels::geglu(st_.up.data(), st_.gate.data(), n * ff);
    std::copy_n(st_.up.data(), n * ff, st_.gate.data());
  }
  kernels::matmul(l.w_down, st_.gate.data(), n, st_.xb.data(), *pool_, st_.act_scratch);
  add_bias(st_.xb.data(), l.b_down, n, e);
  for (int64_t t = 0; t < n; ++t) {  // x = norm(x + ffn)
    float* x = st_.x.data() + t * e;
    const float* b = st_.xb.data() + t * e;
    for (int64_t i = 0; i < e; ++i) x[i] += b[i];
    layer_norm(x, l.out_norm_w.data(), l.out_norm_b.data(), x, e, hp_.norm_eps);
  }
}

}  // namespace pocketlm
