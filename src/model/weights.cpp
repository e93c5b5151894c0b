#include "model/weights.h"

#include <optional>

#include "model/arch.h"
#include "tensor/quant.h"

namespace pocketlm {

namespace {

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

std::string shape_str(const gguf::tensor_info& t) {
  return shape_str(std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims));
}

// Looks up `name` and checks its shape; nullopt result with `err` set when absent or wrong.
class tensor_loader {
 public:
  explicit tensor_loader(const gguf::file& f) : f_(f) {}

  const gguf::tensor_info* find(const std::string& name, const std::vector<int64_t>& ne,
                                bool required) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (t == nullptr) {
      if (required && !err_) err_ = error{"model: missing tensor '" + name + "'"};
      return nullptr;
    }
    bool same = t->n_dims == ne.size();
    for (size_t i = 0; same && i < ne.size(); ++i) same = t->ne[i] == ne[i];
    if (!same && !err_) {
      err_ = error{"model: tensor '" + name + "' has wrong shape: expected " + shape_str(ne) +
                   ", got " + shape_str(*t)};
    }
    return same ? t : nullptr;
  }

  kernels::matrix_view matrix(const std::string& name, int64_t n_cols, int64_t n_rows,
                              bool required = true) {
    const gguf::tensor_info* t = find(name, {n_cols, n_rows}, required);
    if (t == nullptr) return {};
    if (!is_supported_weight_type(t->type) && !err_) {
      err_ = error{"model: tensor '" + name + "' has unsupported type " +
                   std::string(type_traits(t->type).name)};
      return {};
    }
    return {t->type, n_cols, n_rows, f_.tensor_data(*t), row_size(t->type, n_cols)};
  }

  std::vector<float> vector(const std::string& name, int64_t n, bool required = true) {
    const gguf::tensor_info* t = find(name, {n}, required);
    if (t == nullptr) return {};
    if (!is_supported_weight_type(t->type) && !err_) {
      err_ = error{"model: tensor '" + name + "' has unsupported type " +
                   std::string(type_traits(t->type).name)};
      return {};
    }
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(t->type, f_.tensor_data(*t), out.data(), n);
    return out;
  }

  const std::optional<error>& err() const { return err_; }

 private:
  const gguf::file& f_;
  std::optional<error> err_;
};

layer_weights load_layer(tensor_loader& ld, const hparams& hp, const arch_desc& arch, int il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t e = hp.n_embd, q = hp.q_dim(), kv = hp.kv_dim(), ff = hp.n_ff;
  layer_weights lw;
  lw.attn_norm = ld.vector(p + "attn_norm.weight", e);
  lw.wq = ld.matrix(p + "attn_q.weight", e, q);
  lw.wk = ld.matrix(p + "attn_k.weight", e, kv);
  lw.wv = ld.matrix(p + "attn_v.weight", e, kv);
  lw.wo = ld.matrix(p + "attn_output.weight", q, e);
  // Biases are required for qwen2 and accepted for llama (some fine-tunes carry them).
  const bool bias_required = arch.has_qkv_bias;
  lw.bq = ld.vector(p + "attn_q.bias", q, bias_required);
  lw.bk = ld.vector(p + "attn_k.bias", kv, bias_required);
  lw.bv = ld.vector(p + "attn_v.bias", kv, bias_required);
  if (arch.has_qk_norm) {
    lw.q_norm = ld.vector(p + "attn_q_norm.weight", hp.head_dim);
    lw.k_norm = ld.vector(p + "attn_k_norm.weight", hp.head_dim);
  }
  lw.ffn_norm = ld.vector(p + "ffn_norm.weight", e);
  lw.w_gate = ld.matrix(p + "ffn_gate.weight", e, ff);
  lw.w_up = ld.matrix(p + "ffn_up.weight", e, ff);
  lw.w_down = ld.matrix(p + "ffn_down.weight", ff, e);
  return lw;
}

}  // namespace

result<model_weights> load_weights(const gguf::file& f, const hparams& hp) {
  const arch_desc& arch = arch_of(hp.arch);
  tensor_loader ld(f);
  model_weights w;
  w.token_embd = ld.matrix("token_embd.weight", hp.n_embd, hp.n_vocab);
  w.output_norm = ld.vector("output_norm.weight", hp.n_embd);
  w.output = ld.matrix("output.weight", hp.n_embd, hp.n_vocab, /*required=*/false);
  if (w.output.data == nullptr) w.output = w.token_embd;  // tied embeddings
  w.rope_freqs = ld.vector("rope_freqs.weight", hp.rope.n_rot / 2, /*required=*/false);
  for (int il = 0; il < hp.n_layer && !ld.err(); ++il) w.layers.push_back(load_layer(ld, hp, arch, il));
  if (ld.err()) return *ld.err();
  return w;
}

}  // namespace pocketlm
