#include "model/quantize.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>
#include <thread>
#include <vector>

#include "tensor/quant.h"

namespace pocketlm {
namespace {

struct file_type_row {
  file_type ft;
  std::string_view name;
  ggml_type base;
};

constexpr std::array<file_type_row, 11> k_file_types = {{
    {file_type::all_f32, "f32", ggml_type::f32},
    {file_type::mostly_f16, "f16", ggml_type::f16},
    {file_type::bf16, "bf16", ggml_type::bf16},
    {file_type::q8_0, "q8_0", ggml_type::q8_0},
    {file_type::q4_0, "q4_0", ggml_type::q4_0},
    {file_type::q4_1, "q4_1", ggml_type::q4_1},
    {file_type::q5_0, "q5_0", ggml_type::q5_0},
    {file_type::q5_1, "q5_1", ggml_type::q5_1},
    {file_type::q4_k_m, "q4_k_m", ggml_type::q4_k},
    {file_type::q5_k_m, "q5_k_m", ggml_type::q5_k},
    {file_type::q6_k, "q6_k", ggml_type::q6_k},
}};

const file_type_row& file_type_entry(file_type ft) {
  for (const auto& row : k_file_types) {
    if (row.ft == ft) return row;
  }
  return k_file_types[0];  // unreachable for valid enum values
}

// Broad tensor roles, as llama.cpp's tensor_get_category sees them (only the roles whose rules
// differ for the file types above are kept apart).
enum class category { output, token_embd, attn_v_like, ffn_down, other };

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Mirrors the order of llama.cpp's checks: attention roles win over ffn ones.
category categorize(const std::string& name) {
  if (name == "output.weight") return category::output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
    return category::token_embd;
  }
  if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") || contains(name, "attn_v.weight")) {
    return category::attn_v_like;
  }
  if (contains(name, "attn_k.weight") || contains(name, "attn_q.weight") || contains(name, "attn_output.weight") ||
      contains(name, "ffn_up") || contains(name, "ffn_gate")) {
    return category::other;
  }
  if (contains(name, "ffn_down")) return category::ffn_down;
  return category::other;
}

// llama.cpp gives these layers more bits: the first and last eighth, and every third in between.
bool use_more_bits(int i_layer, int n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

// llama.cpp's LLM_TYPE_70B, whose attn_v gets an extra bump.
bool is_70b(const mix_model_info& info) {
  if (info.n_layer != 80) return false;
  if (info.arch == "qwen2") return true;
  return info.arch == "llama" && info.n_head != info.n_head_kv;
}

uint32_t block_size(ggml_type t) { return type_traits(t).block_size; }

bool is_k_mix(file_type ft) { return ft == file_type::q4_k_m || ft == file_type::q5_k_m; }

// llama_tensor_get_type_impl restricted to the file types we write.
ggml_type mixed_type(mix_state& s, const gguf::tensor_info& t, ggml_type type) {
  const category cat = categorize(t.name);
  if (cat == category::output || (!s.info.has_output && cat == category::token_embd)) {
    if (s.info.arch == "falcon" || t.ne[0] % block_size(type) != 0) return ggml_type::q8_0;
    return type == ggml_type::q8_0 ? type : ggml_type::q6_k;
  }
  if (cat == category::attn_v_like) {
    if (is_k_mix(s.ft) && use_more_bits(s.i_attn_v, s.info.n_attn_v)) type = ggml_type::q6_k;
    if (is_70b(s.info) && type == ggml_type::q4_k) type = ggml_type::q5_k;
    ++s.i_attn_v;
    return type;
  }
  if (cat == category::ffn_down) {
    const int i = s.i_ffn_down++;
    const int n = s.info.n_layer;
    if (s.ft == file_type::q4_k_m && s.info.arch == "falcon") {
      return i < n / 16 ? ggml_type::q6_k : use_more_bits(i, n) ? ggml_type::q5_k : ggml_type::q4_k;
    }
    if (is_k_mix(s.ft) && use_more_bits(i, n)) type = ggml_type::q6_k;
  }
  return type;
}

// Rows whose length is not a multiple of the block size get a smaller-block type, else f16.
ggml_type fallback_type(mix_state& s, int64_t n_cols, ggml_type type) {
  if (n_cols % block_size(type) == 0) return type;
  ++s.n_fallback;
  switch (type) {
    case ggml_type::q4_k: type = ggml_type::q5_0; break;
    case ggml_type::q5_k: type = ggml_type::q5_1; break;
    case ggml_type::q6_k: type = ggml_type::q8_0; break;
    default: break;  // already a 32-element block type
  }
  return n_cols % block_size(type) == 0 ? type : ggml_type::f16;
}

// Substrings of tensors llama.cpp never quantizes even though their names end in "weight".
constexpr std::string_view k_never_quantized[] = {
    "_norm.weight",
    "ffn_gate_inp.weight",
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
    "mm.a.code_embd",
    "position_embd.weight",
};

int64_t n_rows(const gguf::tensor_info& t) { return t.ne[1] * t.ne[2] * t.ne[3]; }

// One tensor of the output: where its bytes come from and what they become.
struct conversion {
  gguf::tensor_info src;
  ggml_type dst = ggml_type::f32;
};

// Runs fn(first_row, end_row) over [0, rows) split into contiguous ranges, one per thread.
template <typename Fn>
void parallel_rows(int64_t rows, int n_threads, const Fn& fn) {
  const int64_t n = std::max<int64_t>(1, std::min<int64_t>(n_threads, rows));
  std::vector<std::thread> workers;
  for (int64_t i = 1; i < n; ++i) {
    workers.emplace_back([&fn, i, n, rows] { fn(rows * i / n, rows * (i + 1) / n); });
  }
  fn(0, rows / n);
  for (auto& w : workers) w.join();
}

// Decodes each row to f32 and re-encodes it as `dst`; rows [r0, r1) only.
void convert_rows(const conversion& c, const uint8_t* src, uint8_t* dst, int64_t r0, int64_t r1) {
  const int64_t n = c.src.ne[0];
  const size_t src_row = row_size(c.src.type, n);
  const size_t dst_row = row_size(c.dst, n);
  std::vector<float> row(static_cast<size_t>(n));
  for (int64_t r = r0; r < r1; ++r) {
    dequantize_row(c.src.type, src + r * src_row, row.data(), n);
    quantize_row(c.dst, row.data(), dst + r * dst_row, n);
  }
}

// Shared by every tensor's fill callback while the writer streams the file.
struct progress_tracker {
  const quantize_progress* callback = nullptr;
  size_t done = 0;
  size_t total = 0;
  void advance(size_t bytes, const std::string& name) {
    done += bytes;
    if (*callback) (*callback)(done, total, name);
  }
};

// Produces the output bytes of one tensor, a slab of rows (~16 MiB of source) at a time so the
// progress callback keeps moving on large tensors.
void fill_tensor(const gguf::file& f, const conversion& c, int n_threads, progress_tracker& progress,
                 std::vector<uint8_t>& out) {
  const uint8_t* src = f.tensor_data(c.src);
  if (c.dst == c.src.type) {
    out.assign(src, src + c.src.n_bytes);
    progress.advance(c.src.n_bytes, c.src.name);
    return;
  }
  const int64_t rows = n_rows(c.src);
  const size_t src_row = row_size(c.src.type, c.src.ne[0]);
  const size_t dst_row = row_size(c.dst, c.src.ne[0]);
  out.resize(static_cast<size_t>(rows) * dst_row);
  const int64_t slab = std::max<int64_t>(1, static_cast<int64_t>((size_t{16} << 20) / src_row));
  for (int64_t first = 0; first < rows; first += slab) {
    const int64_t count = std::min(slab, rows - first);
    parallel_rows(count, n_threads,
                  [&](int64_t r0, int64_t r1) { convert_rows(c, src, out.data(), first + r0, first + r1); });
    progress.advance(static_cast<size_t>(count) * src_row, c.src.name);
  }
}

// Picks every tensor's output type in llama.cpp's order; errors on types we cannot decode.
result<std::vector<conversion>> plan_conversions(const gguf::file& f, mix_state& state) {
  std::vector<conversion> plan;
  for (const auto& t : f.tensors()) plan.push_back({t, t.type});
  std::stable_sort(plan.begin(), plan.end(),
                   [](const conversion& a, const conversion& b) { return tensor_order_less(a.src.name, b.src.name); });
  for (auto& c : plan) {
    c.dst = choose_tensor_type(state, c.src);
    if (c.dst != c.src.type && !is_supported_weight_type(c.src.type)) {
      return error{"tensor '" + c.src.name + "' has type " + std::string(type_traits(c.src.type).name) +
                   ", which cannot be converted"};
    }
  }
  return plan;
}

void copy_metadata(const gguf::file& f, file_type ft, gguf::writer& w) {
  for (const auto& kv : f.metadata()) {
    if (kv.key == "general.file_type" || kv.key == "general.quantization_version") continue;
    w.set_value(kv.key, kv.val);
  }
  // Appended last, as llama.cpp's gguf_set_val_* (remove, then append) leaves them.
  w.set_u32("general.quantization_version", 2);
  w.set_u32("general.file_type", static_cast<uint32_t>(ft));
}

}  // namespace

bool parse_file_type(std::string_view name, file_type& out) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& row : k_file_types) {
    if (row.name == lower) {
      out = row.ft;
      return true;
    }
  }
  return false;
}

std::string_view file_type_name(file_type ft) { return file_type_entry(ft).name; }

std::string file_type_names() {
  std::string names;
  for (const auto& row : k_file_types) {
    if (!names.empty()) names += ", ";
    names += row.name;
  }
  return names;
}

ggml_type file_type_base(file_type ft) { return file_type_entry(ft).base; }

result<mix_model_info> read_mix_model_info(const gguf::file& f) {
  mix_model_info info;
  const auto arch = f.get_string("general.architecture");
  if (!arch) return error{"missing general.architecture"};
  info.arch = *arch;
  const auto n_layer = f.get_u32(info.arch + ".block_count");
  if (!n_layer) return error{"missing " + info.arch + ".block_count"};
  info.n_layer = static_cast<int>(*n_layer);
  info.n_head = static_cast<int>(f.get_u32(info.arch + ".attention.head_count").value_or(0));
  info.n_head_kv =
      static_cast<int>(f.get_u32(info.arch + ".attention.head_count_kv").value_or(static_cast<uint32_t>(info.n_head)));
  if (f.get_u32(info.arch + ".expert_count").value_or(0) > 1) {
    return error{"mixture-of-experts models (" + info.arch + ".expert_count > 1) are not supported"};
  }
  for (const auto& t : f.tensors()) {
    if (t.name == "output.weight") info.has_output = true;
    if (categorize(t.name) == category::attn_v_like) ++info.n_attn_v;
  }
  return info;
}

bool tensor_is_quantizable(const std::string& name, const std::array<int64_t, gguf::k_max_dims>& ne) {
  // ggml_n_dims: trailing dimensions of size 1 do not count.
  int n_dims = gguf::k_max_dims;
  while (n_dims > 1 && ne[n_dims - 1] == 1) --n_dims;
  if (n_dims < 2) return false;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  if (name == "token_types.weight") return false;
  return std::none_of(std::begin(k_never_quantized), std::end(k_never_quantized),
                      [&](std::string_view part) { return contains(name, part); });
}

ggml_type choose_tensor_type(mix_state& state, const gguf::tensor_info& t) {
  if (!tensor_is_quantizable(t.name, t.ne)) return t.type;
  const ggml_type base = file_type_base(state.ft);
  if (block_size(base) == 1) return base;  // f32/f16/bf16 files: no mixing
  return fallback_type(state, t.ne[0], mixed_type(state, t, base));
}

bool tensor_order_less(const std::string& a, const std::string& b) {
  const auto layer = [](const std::string& s) {
    int i = -1;
    return std::sscanf(s.c_str(), "blk.%d.", &i) == 1 ? i : -1;
  };
  const int la = layer(a);
  const int lb = layer(b);
  if (la != lb) return la < lb;
  return a < b;
}

result<quantize_summary> quantize_file(const std::string& in, const std::string& out, file_type ft, int n_threads,
                                       const quantize_progress& progress) {
  auto opened = gguf::file::open(in);
  if (!opened) return opened.err();  // the gguf reader's message already names the file
  const gguf::file& f = **opened;
  auto info = read_mix_model_info(f);
  if (!info) return error{"'" + in + "': " + info.error_message()};
  mix_state state{ft, std::move(*info)};
  auto plan = plan_conversions(f, state);
  if (!plan) return error{"'" + in + "': " + plan.error_message()};
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  quantize_summary summary;
  progress_tracker tracker{&progress};
  gguf::writer w;
  copy_metadata(f, ft, w);
  for (const auto& c : *plan) {
    std::vector<int64_t> ne(c.src.ne.begin(), c.src.ne.begin() + c.src.n_dims);
    w.add_tensor_lazy(c.src.name, c.dst, std::move(ne), [&f, &c, n_threads, &tracker](std::vector<uint8_t>& bytes) {
      fill_tensor(f, c, n_threads, tracker, bytes);
    });
    summary.n_tensors++;
    summary.n_converted += c.dst != c.src.type ? 1 : 0;
    summary.bytes_in += c.src.n_bytes;
    summary.bytes_out += row_size(c.dst, c.src.ne[0]) * static_cast<uint64_t>(n_rows(c.src));
    tracker.total += c.src.n_bytes;
  }
  summary.n_fallback = state.n_fallback;
  const status written = w.write_file(out);
  if (!written) return error{written.error_message()};  // names the output file
  return summary;
}

}  // namespace pocketlm
