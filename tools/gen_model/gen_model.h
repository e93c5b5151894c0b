// tools/gen_model/: the pocketlm-gen-model tool. Owns model presets (real architectures' shapes
// and metadata), tokenizer vocabularies read from HF tokenizer.json files, and seeded random
// weights. Calls model/quantize (type mixing), tensor/quant (encoding) and gguf/ (writing).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/quantize.h"

namespace pocketlm::gen {

// qwen, llama3: GPT-2 style BPE; gemma3, llama2: SentencePiece (tokenizer.ggml.model "llama");
// wordpiece: the synthetic BERT vocabulary of encoder.cpp (tokenizer.ggml.model "bert").
enum class vocab_kind { qwen, llama3, gemma3, llama2, wordpiece };

// Shapes and metadata of one synthetic model, as llama.cpp's converter would write them.
struct preset {
  std::string_view name;        // --preset value
  std::string_view arch;        // general.architecture
  std::string_view model_name;  // general.name
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;  // per-head width; n_embd / n_head unless the arch says otherwise
  int n_ff = 0;
  int64_t n_vocab = 0;  // rows of token_embd; tokenizer padded with [PAD<i>] up to this
  bool tied = false;    // no output.weight: token_embd doubles as the output matrix
  bool qkv_bias = false;
  bool qk_norm = false;     // qwen3, gemma3: attn_q_norm / attn_k_norm over head_dim
  bool post_norms = false;  // gemma2, gemma3: post_attention_norm / post_ffw_norm
  uint32_t n_swa = 0;       // gemma2, gemma3: attention.sliding_window
  float rope_scale = 0.0f;  // rope.scaling.factor (linear) when > 0
  // phi3: fused attn_qkv and gate|up ffn_up, partial rotary (n_rot < head_dim), LongRoPE factor
  // tensors with their attention factor and original context
  bool fused = false;
  int n_rot = 0;  // 0: head_dim
  float rope_attn_factor = 0.0f;
  uint32_t n_ctx_orig = 0;
  float final_softcap = 0.0f;
  float attn_softcap = 0.0f;  // gemma2: attn_logit_softcapping
  // granite multipliers, written when logit_scale > 0
  float embedding_scale = 0.0f;
  float residual_scale = 0.0f;
  float attention_scale = 0.0f;
  float logit_scale = 0.0f;
  float rope_base = 10000.0f;
  uint32_t n_ctx = 0;
  float rms_eps = 1e-6f;
  vocab_kind vocab = vocab_kind::qwen;
  std::string_view pre;  // tokenizer.ggml.pre
  int32_t bos = -1;      // special token ids; -1: not written
  int32_t eos = -1;
  int32_t pad = -1;
  int32_t unk = -1;
  bool add_bos = false;
  // lfm2: bit il set makes layer il a short convolution of conv_l_cache taps (head_count_kv 0,
  // shortconv tensors instead of attention ones)
  uint32_t conv_layers = 0;
  uint32_t conv_l_cache = 0;
  uint32_t pooling = 0;  // encoders: <arch>.pooling_type (1 mean, 2 cls, 3 last)
};

// Looks a preset up by name; nullptr when unknown.
const preset* find_preset(std::string_view name);
// Comma-separated preset names for help text.
std::string preset_names();

// A GPT-2 style BPE vocabulary (merges) or a SentencePiece one (scores) as GGUF stores it.
struct vocab_data {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;  // llama.cpp token types: 1 normal, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;
  std::vector<float> scores;  // SentencePiece only
  std::string chat_template;  // empty when tokenizer_config.json has none
};

// Reads <models_dir>/tokenizer.json (+ tokenizer_config.json) and lays the vocabulary out over
// n_vocab ids the way convert_hf_to_gguf.py does. `sentencepiece`: the tokenizer.json is a
// converted SentencePiece BPE model; pieces get scores in id order (the order SentencePiece
// ranks them) and <0xXX> pieces the byte type, as the converter reads them from tokenizer.model.
result<vocab_data> load_vocab(const std::string& models_dir, int64_t n_vocab, bool sentencepiece = false);

// The synthetic WordPiece vocabulary (encoder.cpp), padded with [unused<i>] to n_vocab.
vocab_data wordpiece_vocab(int64_t n_vocab);

struct gen_options {
  const preset* p = nullptr;
  file_type type = file_type::all_f32;
  std::string output;
  uint64_t seed = 42;
  int n_layer = 0;      // 0: the preset's
  float qk_std = 0.0f;  // 0: same as other matrices
  std::string node_modules;
  int threads = 2;
  int pooling = -1;  // >= 0: overrides an encoder preset's pooling type
};

// Writes the model; progress lines go to stderr.
status generate_model(const gen_options& opt);

}  // namespace pocketlm::gen
