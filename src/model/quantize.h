// Model file quantization: llama.cpp's per-tensor type mixing rules (src/llama-quant.cpp) and a
// whole-file converter that streams a GGUF into another GGUF of a chosen file type.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "gguf/gguf.h"

namespace pocketlm {

// Target file types; values are llama.cpp's llama_ftype, written to general.file_type.
enum class file_type : uint32_t {
  all_f32 = 0,
  mostly_f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q8_0 = 7,
  q5_0 = 8,
  q5_1 = 9,
  q4_k_m = 15,
  q5_k_m = 17,
  q6_k = 18,
  bf16 = 32,
};

// Parses "q4_k_m", "Q4_K_M", "f16", "F32", ...; false when unknown.
bool parse_file_type(std::string_view name, file_type& out);
// Lower-case name as accepted by parse_file_type ("q4_k_m").
std::string_view file_type_name(file_type ft);
// Comma-separated list of every accepted name, for help and error messages.
std::string file_type_names();
// The element type most tensors get (llama_ftype_get_default_type): q4_K for q4_k_m, f16 for f16.
ggml_type file_type_base(file_type ft);

// Model facts the mixing rules look at; gathered once before the per-tensor pass.
struct mix_model_info {
  std::string arch;         // general.architecture
  int n_layer = 0;          // <arch>.block_count
  int n_head = 0;           // <arch>.attention.head_count
  int n_head_kv = 0;        // <arch>.attention.head_count_kv
  bool has_output = false;  // output.weight present; otherwise token_embd doubles as output
  int n_attn_v = 0;         // tensors in llama.cpp's "attn_v-like" category (attn_v/attn_qkv/attn_kv_b)
};

// Reads mix_model_info from a parsed file; errors when the file is a mixture-of-experts model,
// whose rules this engine does not implement.
result<mix_model_info> read_mix_model_info(const gguf::file& f);

// Per-file running state: llama.cpp counts attn_v and ffn_down tensors as it meets them, so the
// rules depend on the order tensors are presented in (see tensor_order_less).
struct mix_state {
  file_type ft = file_type::q8_0;
  mix_model_info info;
  int i_attn_v = 0;
  int i_ffn_down = 0;
  int n_fallback = 0;  // tensors whose row length forced a different type
};

// True when llama.cpp quantizes this tensor at all: at least 2-D (trailing 1s ignored), name ends
// in "weight" and is not a norm. Other tensors keep their type.
bool tensor_is_quantizable(const std::string& name, const std::array<int64_t, gguf::k_max_dims>& ne);

// The element type llama.cpp's quantizer gives tensor `t` (whose current type is t.type) when
// writing file type state.ft. Call once per tensor, in tensor_order_less order.
ggml_type choose_tensor_type(mix_state& state, const gguf::tensor_info& t);

// llama.cpp's tensor order when quantizing: non-block tensors first, then by block index, then by
// name. Quantized files list their tensors in this order.
bool tensor_order_less(const std::string& a, const std::string& b);

struct quantize_summary {
  size_t n_tensors = 0;
  size_t n_converted = 0;  // tensors whose type changed
  int n_fallback = 0;
  uint64_t bytes_in = 0;   // tensor data bytes read
  uint64_t bytes_out = 0;  // tensor data bytes written
};

// `done` and `total` count source tensor bytes; `tensor` names the tensor being converted.
using quantize_progress = std::function<void(size_t done, size_t total, const std::string& tensor)>;

// Quantizes `in` into `out` as file type `ft`: copies all metadata (general.file_type and
// general.quantization_version updated), converts tensors row by row on `n_threads` threads and
// streams them to disk one at a time. Errors are one line naming the file or tensor.
result<quantize_summary> quantize_file(const std::string& in, const std::string& out, file_type ft, int n_threads,
                                       const quantize_progress& progress);

}  // namespace pocketlm
