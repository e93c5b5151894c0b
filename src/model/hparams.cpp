#include "model/hparams.h"

#include <algorithm>
#include <cmath>
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

// A finite float key, or `fallback` when absent; a key of another type or a non-finite value
// is an error.
result<float> read_f32(const gguf::file& f, const std::string& key, float fallback) {
  const auto v = f.get_f32(key);
  if (!v && f.find(key)) return error{"model: '" + key + "' must be a 32-bit float"};
  if (v && !std::isfinite(*v)) return error{"model: '" + key + "' is not finite"};
  return v.value_or(fallback);
}

// Linear RoPE position scaling (rope.scaling.factor with type "linear", or the older
// rope.scale_linear), as llama.cpp applies it to every family. Other scaling types (YaRN,
// LongRoPE) leave the frequencies as they are.
status read_scaling(const gguf::file& f, const std::string& a, hparams& hp) {
  const auto type = f.get_string(a + ".rope.scaling.type");
  auto factor = read_f32(f, a + ".rope.scaling.factor", 0.0f);
  if (!factor) return factor.err();
  auto linear = read_f32(f, a + ".rope.scale_linear", 0.0f);
  if (!linear) return linear.err();
  float scale = 0.0f;
  if (*factor != 0.0f && (!type || *type == "linear")) scale = *factor;
  if (scale == 0.0f) scale = *linear;
  if (scale < 0.0f) return error{"model: RoPE scaling factor " + std::to_string(scale) + " must be positive"};
  if (scale > 0.0f) hp.rope.freq_scale = 1.0f / scale;
  auto attn_factor = read_f32(f, a + ".rope.scaling.attn_factor", 1.0f);
  if (!attn_factor) return attn_factor.err();
  if (!(*attn_factor > 0.0f)) return error{"model: rope.scaling.attn_factor must be positive"};
  hp.rope.attn_factor = *attn_factor;
  hp.n_ctx_orig = hp.n_ctx_train;
  const std::string orig_key = a + ".rope.scaling.original_context_length";
  if (f.find(orig_key)) {
    if (auto ok = read_dim(f, a, "rope.scaling.original_context_length", hp.n_ctx_orig); !ok) return ok.err();
  }
  return {};
}

// Which layers use the window (llama.cpp's load_swa_pattern): attention.sliding_window_pattern
// as one flag per layer, or as a period n (the last layer of every n is global; 0: all
// window layers), else the family's period.
status read_swa_layers(const gguf::file& f, hparams& hp, int64_t default_period) {
  const std::string key = hp.arch_name + ".attention.sliding_window_pattern";
  hp.swa_layers.assign(static_cast<size_t>(hp.n_layer), false);
  const gguf::value* v = f.find(key);
  if (const auto* arr = v ? v->as_array() : nullptr) {
    if (static_cast<int64_t>(arr->items.size()) != hp.n_layer) {
      return error{"model: '" + key + "' has " + std::to_string(arr->items.size()) + " entries for " +
                   std::to_string(hp.n_layer) + " layers"};
    }
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      const auto flag = arr->items[static_cast<size_t>(il)].as_int();
      if (!flag) return error{"model: '" + key + "' must hold booleans or integers"};
      hp.swa_layers[static_cast<size_t>(il)] = *flag != 0;
    }
    return {};
  }
  int64_t period = default_period;
  if (v) {
    const auto n = f.get_u32(key);
    if (!n) return error{"model: '" + key + "' must be an unsigned 32-bit integer or an array"};
    period = *n;
  }
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    hp.swa_layers[static_cast<size_t>(il)] = period == 0 || il % period < period - 1;
  }
  return {};
}

result<float> read_softcap(const gguf::file& f, const std::string& key, float fallback) {
  auto cap = read_f32(f, key, fallback);
  if (!cap) return cap.err();
  if (*cap < 0.0f) return error{"model: '" + key + "' must not be negative"};
  return *cap;
}

// Gemma 2 and 3 (llama.cpp's LLM_ARCH_GEMMA2, LLM_ARCH_GEMMA3): embeddings scaled by
// sqrt(n_embd); q.k by 1/sqrt(head_dim), except the largest model's 1/sqrt(n_embd/n_head) (27B:
// 46 layers in Gemma 2, 62 in Gemma 3). Gemma 2: every other layer a window layer (4096 unless
// attention.sliding_window says otherwise) with the same RoPE, q.k capped by
// attn_logit_softcapping (50) and the logits by final_logit_softcapping (30). Gemma 3: with
// attention.sliding_window, five window layers (RoPE base 10000, unscaled) per global one, and
// final_logit_softcapping only if the file has it. rope.freq_base_swa overrides a window
// layer's base in both.
status read_gemma(const gguf::file& f, hparams& hp) {
  const bool gemma2 = hp.arch == arch_kind::gemma2;
  const std::string key = hp.arch_name + ".attention.sliding_window";
  const auto window = f.get_u32(key);
  if (!window && f.find(key)) return error{"model: '" + key + "' must be an unsigned 32-bit integer"};
  const uint32_t n_swa = window.value_or(gemma2 ? 4096 : 0);
  if (n_swa > 0) {
    hp.n_swa = n_swa;
    if (auto ok = read_swa_layers(f, hp, gemma2 ? 2 : 6); !ok) return ok.err();
    hp.rope_swa = hp.rope;
    if (!gemma2) {
      hp.rope_swa.freq_base = 10000.0f;
      hp.rope_swa.freq_scale = 1.0f;
    }
    auto base = read_f32(f, hp.arch_name + ".rope.freq_base_swa", hp.rope_swa.freq_base);
    if (!base) return base.err();
    if (!(*base > 0.0f)) return error{"model: rope.freq_base_swa must be > 0"};
    hp.rope_swa.freq_base = *base;
  }
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  if (hp.n_layer == (gemma2 ? 46 : 62)) hp.kq_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  auto cap = read_softcap(f, hp.arch_name + ".final_logit_softcapping", gemma2 ? 30.0f : 0.0f);
  if (!cap) return cap.err();
  hp.final_softcap = *cap;
  if (gemma2) {
    auto attn_cap = read_softcap(f, hp.arch_name + ".attn_logit_softcapping", 50.0f);
    if (!attn_cap) return attn_cap.err();
    hp.attn_softcap = *attn_cap;
  }
  return {};
}

// Granite: multipliers for the embeddings, each residual branch, q.k and the logits (0 or
// absent: none; logit_scale is required, as llama.cpp has it). rope.scaling.finetuned = false
// turns RoPE off.
status read_granite(const gguf::file& f, hparams& hp) {
  const std::string& a = hp.arch_name;
  if (!f.find(a + ".logit_scale")) return missing(a + ".logit_scale");
  auto logit = read_f32(f, a + ".logit_scale", 1.0f);
  auto embd = read_f32(f, a + ".embedding_scale", 0.0f);
  auto residual = read_f32(f, a + ".residual_scale", 0.0f);
  auto attention = read_f32(f, a + ".attention.scale", 0.0f);
  for (const auto* r : {&logit, &embd, &residual, &attention}) {
    if (!*r) return r->err();
  }
  if (*logit == 0.0f) return error{"model: '" + a + ".logit_scale' must not be 0"};
  hp.logit_scale = *logit;
  if (*embd != 0.0f) hp.embd_scale = *embd;
  if (*residual != 0.0f) hp.residual_scale = *residual;
  if (*attention != 0.0f) hp.kq_scale = *attention;
  const auto finetuned = f.get_bool(a + ".rope.scaling.finetuned");
  hp.use_rope = finetuned.value_or(true);
  return {};
}

// LFM2 (llama.cpp's LLM_ARCH_LFM2): attention.head_count_kv is one value per layer, 0 for a
// short-convolution layer; the attention layers share one KV head count (a scalar makes every
// layer attention). shortconv.l_cache is the convolution's width.
status read_lfm2_layers(const gguf::file& f, hparams& hp) {
  const std::string& a = hp.arch_name;
  const std::string kv_key = a + ".attention.head_count_kv";
  hp.conv_layers.assign(static_cast<size_t>(hp.n_layer), false);
  hp.n_head_kv = hp.n_head;
  if (const gguf::array_value* arr = f.get_array(kv_key)) {
    if (static_cast<int64_t>(arr->items.size()) != hp.n_layer) {
      return error{"model: '" + kv_key + "' has " + std::to_string(arr->items.size()) + " values for " +
                   std::to_string(hp.n_layer) + " layers"};
    }
    int64_t attn_kv = 0;
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      const auto v = arr->items[static_cast<size_t>(il)].as_int();
      if (!v || *v < 0 || *v > hp.n_head) {
        return error{"model: '" + kv_key + "'[" + std::to_string(il) + "] must be an integer in [0, head_count]"};
      }
      if (*v == 0) {
        hp.conv_layers[static_cast<size_t>(il)] = true;
      } else if (attn_kv != 0 && *v != attn_kv) {
        return error{"model: '" + kv_key + "': attention layers with different KV head counts (" +
                     std::to_string(attn_kv) + " and " + std::to_string(*v) + ") are not supported"};
      } else {
        attn_kv = *v;
      }
    }
    if (attn_kv > 0) hp.n_head_kv = attn_kv;
  } else if (f.find(kv_key)) {
    if (auto ok = read_dim(f, a, "attention.head_count_kv", hp.n_head_kv); !ok) return ok.err();
  }
  if (auto ok = read_dim(f, a, "shortconv.l_cache", hp.conv_l_cache); !ok) return ok.err();
  if (hp.conv_l_cache < 2 || hp.conv_l_cache > 64) {
    return error{"model: '" + a + ".shortconv.l_cache' = " + std::to_string(hp.conv_l_cache) + " is outside [2, 64]"};
  }
  return {};
}

// LFM2's options: a sliding window applies to every attention layer (same RoPE); a
// bidirectional model (the LFM2 embedding models, causal_attention = false) is not a chat model.
status read_lfm2(const gguf::file& f, hparams& hp) {
  const std::string& a = hp.arch_name;
  if (!f.get_bool(a + ".attention.causal").value_or(true)) {
    return error{"model: bidirectional lfm2 models (" + a + ".attention.causal = false) are not supported"};
  }
  const std::string key = a + ".attention.sliding_window";
  const auto window = f.get_u32(key);
  if (!window && f.find(key)) return error{"model: '" + key + "' must be an unsigned 32-bit integer"};
  if (window && *window > 0) {
    hp.n_swa = *window;
    hp.swa_layers.resize(static_cast<size_t>(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) hp.swa_layers[static_cast<size_t>(il)] = !hp.is_conv(il);
    hp.rope_swa = hp.rope;
  }
  return {};
}

// Keys of embedding models: the pooling type of any architecture (a causal Qwen3-Embedding
// pools too); the encoders' LayerNorm epsilon, attention.causal and token type count.
status read_embedding_keys(const gguf::file& f, hparams& hp) {
  const std::string& a = hp.arch_name;
  if (const auto* v = f.find(a + ".pooling_type")) {
    const auto type = v->as_int();
    if (!type || *type < 0 || *type > 3)
      return error{"model: '" + a + ".pooling_type' must be 0 (none), 1 (mean), 2 (cls) or 3 (last)"};
    hp.pooling = static_cast<pooling_type>(*type);
  }
  if (const auto causal = f.get_bool(a + ".attention.causal")) hp.causal = *causal;
  if (!arch_of(hp.arch).encoder) {
    // A decoder run without its mask (EmbeddingGemma's gemma3) would need a bidirectional pass.
    if (!hp.causal)
      return error{"model: '" + a + "' with attention.causal = false is not supported", error_kind::unsupported};
    return {};
  }
  hp.causal = false;  // encoders attend both ways (their converter writes attention.causal = false)
  auto eps = read_f32(f, a + ".attention.layer_norm_epsilon", 0.0f);
  if (!eps) return eps.err();
  if (!f.find(a + ".attention.layer_norm_epsilon")) return missing(a + ".attention.layer_norm_epsilon");
  hp.norm_eps = *eps;
  const auto types = f.get_u32("tokenizer.ggml.token_type_count");
  if (!types || *types == 0) return error{"model: " + a + " needs tokenizer.ggml.token_type_count > 0"};
  hp.n_token_types = *types;
  return {};
}

}  // namespace

result<hparams> read_hparams(const gguf::file& f) {
  hparams hp;
  const auto arch_name = f.get_string("general.architecture");
  if (!arch_name) return missing("general.architecture");
  const arch_desc* arch = find_arch(*arch_name);
  if (arch == nullptr) {
    return error{"model: unknown architecture '" + *arch_name + "' (supported: " + supported_arch_names() + ")"};
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
  if (hp.arch == arch_kind::lfm2) {
    if (auto ok = read_lfm2_layers(f, hp); !ok) return ok.err();
  } else if (f.find(a + ".attention.head_count_kv")) {
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
  if (auto ok = read_scaling(f, a, hp); !ok) return ok.err();
  hp.ffn_act = arch->ffn_act;
  hp.kq_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  if (hp.arch == arch_kind::gemma2 || hp.arch == arch_kind::gemma3) {
    if (auto ok = read_gemma(f, hp); !ok) return ok.err();
  } else if (hp.arch == arch_kind::granite) {
    if (auto ok = read_granite(f, hp); !ok) return ok.err();
  } else if (hp.arch == arch_kind::smollm3) {
    hp.no_rope_step = 4;  // as llama.cpp: a constant of the architecture, no metadata key
  } else if (hp.arch == arch_kind::lfm2) {
    if (auto ok = read_lfm2(f, hp); !ok) return ok.err();
  }
  if (auto ok = read_embedding_keys(f, hp); !ok) return ok.err();
  const gguf::tensor_info* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return error{"model: missing tensor 'token_embd.weight'"};
  hp.n_vocab = embd->ne[1];
  return hp;
}

int64_t default_context(const hparams& hp) { return std::min<int64_t>(hp.n_ctx_train, 4096); }

}  // namespace pocketlm
