#include "model/hparams.h"

#include <algorithm>
#include <optional>

#include "model/arch.h"

namespace pocketlm {

namespace {

error missing(const std::string& key) { return error{"model: missing metadata key '" + key + "'"}; }

// Reads a required positive integer `<arch>.<suffix>`, bounded to keep later products in range.
status read_dim(const gguf::file& f, const std::string& arch, const char* suffix, int64_t& out) {
  const std::string key = arch + "." + suffix;
  const auto v = f.get_u32(key);
  if (!v && f.find(key)) return error{"model: '" + key + "' must be an unsigned 32-bit integer"};
  if (!v) return missing(key);
  if (*v == 0 || *v > (1u << 24)) {
    return error{"model: '" + key + "' = " + std::to_string(*v) + " is outside [1, 16777216]"};
  }
  out = *v;
  return {};
}

}  // namespace

result<hparams> read_hparams(const gguf::file& f) {
  hparams hp;
  const auto arch_name = f.get_string("general.architecture");
  if (!arch_name) return missing("general.architecture");
  const arch_desc* arch = find_arch(*arch_name);
  if (arch == nullptr) {
    return error{"model: unknown architecture '" + *arch_name + "' (supported: llama, qwen2, qwen3)"};
  }
  hp.arch = arch->kind;
  hp.arch_name = *arch_name;
  const std::string& a = *arch_name;
  for (auto [suffix, dst] : {std::pair{"embedding_length", &hp.n_embd}, std::pair{"block_count", &hp.n_layer},
                             std::pair{"feed_forward_length", &hp.n_ff}, std::pair{"attention.head_count", &hp.n_head},
                             std::pair{"context_length", &hp.n_ctx_train}}) {
    if (auto ok = read_dim(f, a, suffix, *dst); !ok) return ok.err();
  }
  hp.n_head_kv = hp.n_head;
  if (f.find(a + ".attention.head_count_kv")) {
    if (auto ok = read_dim(f, a, "attention.head_count_kv", hp.n_head_kv); !ok) return ok.err();
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    return error{"model: head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
                 std::to_string(hp.n_head_kv)};
  }
  hp.head_dim = hp.n_embd / hp.n_head;
  if (f.find(a + ".attention.key_length")) {
    if (auto ok = read_dim(f, a, "attention.key_length", hp.head_dim); !ok) return ok.err();
  }
  if (hp.head_dim % 2 != 0) {
    return error{"model: head dimension " + std::to_string(hp.head_dim) + " must be even"};
  }
  int64_t n_rot = hp.head_dim;
  if (f.find(a + ".rope.dimension_count")) {
    if (auto ok = read_dim(f, a, "rope.dimension_count", n_rot); !ok) return ok.err();
  }
  if (n_rot > hp.head_dim || n_rot % 2 != 0) {
    return error{"model: rope.dimension_count " + std::to_string(n_rot) + " must be even and <= head dimension " +
                 std::to_string(hp.head_dim)};
  }
  hp.rope.n_rot = static_cast<int>(n_rot);
  hp.rope.mode = arch->rope_mode;
  hp.rope.freq_base = f.get_f32(a + ".rope.freq_base").value_or(10000.0f);
  hp.rms_eps = f.get_f32(a + ".attention.layer_norm_rms_epsilon").value_or(1e-5f);
  if (!(hp.rope.freq_base > 0.0f) || !(hp.rms_eps >= 0.0f)) {
    return error{"model: rope.freq_base must be > 0 and layer_norm_rms_epsilon >= 0"};
  }
  const gguf::tensor_info* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return error{"model: missing tensor 'token_embd.weight'"};
  hp.n_vocab = embd->ne[1];
  return hp;
}

int64_t default_context(const hparams& hp) { return std::min<int64_t>(hp.n_ctx_train, 4096); }

}  // namespace pocketlm
