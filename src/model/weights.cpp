#include "model/weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "kernels/repack.h"
#include "model/arch.h"
#include "model/tensor_loader.h"
#include "tensor/quant.h"

namespace pocketlm {

namespace {

// The attention tensors of layer prefix `p` (every layer but lfm2's convolution ones).
void load_attention(tensor_loader& ld, const hparams& hp, const arch_desc& arch, const std::string& p,
                    layer_weights& lw) {
  const int64_t e = hp.n_embd, q = hp.q_dim(), kv = hp.kv_dim();
  if (arch.fused_ffn) lw.wqkv = ld.matrix(p + "attn_qkv.weight", e, q + 2 * kv, /*required=*/false);
  if (lw.wqkv.data == nullptr) {
    lw.wq = ld.matrix(p + "attn_q.weight", e, q);
    lw.wk = ld.matrix(p + "attn_k.weight", e, kv);
    lw.wv = ld.matrix(p + "attn_v.weight", e, kv);
  }
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
  if (arch.has_post_norms) lw.attn_post_norm = ld.vector(p + "post_attention_norm.weight", e);
}

layer_weights load_layer(tensor_loader& ld, const hparams& hp, const arch_desc& arch, int il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t e = hp.n_embd, ff = hp.n_ff;
  layer_weights lw;
  lw.attn_norm = ld.vector(p + "attn_norm.weight", e);
  if (hp.is_conv(il)) {  // lfm2: a short convolution in attention's place
    lw.conv_in = ld.matrix(p + "shortconv.in_proj.weight", e, 3 * e);
    lw.conv_kernel = ld.rows(p + "shortconv.conv.weight", hp.conv_l_cache, e);
    lw.conv_out = ld.matrix(p + "shortconv.out_proj.weight", e, e);
  } else {
    load_attention(ld, hp, arch, p, lw);
  }
  lw.ffn_norm = ld.vector(p + "ffn_norm.weight", e);
  if (arch.fused_ffn) {
    lw.w_up = ld.matrix(p + "ffn_up.weight", e, 2 * ff);
  } else {
    lw.w_gate = ld.matrix(p + "ffn_gate.weight", e, ff);
    lw.w_up = ld.matrix(p + "ffn_up.weight", e, ff);
  }
  lw.w_down = ld.matrix(p + "ffn_down.weight", ff, e);
  if (arch.has_post_norms) lw.ffn_post_norm = ld.vector(p + "post_ffw_norm.weight", e);
  return lw;
}

// The matrices that repacking may rewrite: every projection and the output head. An untied
// token_embd stays plain (its rows are looked up one at a time); a tied one becomes the
// repacked head's view once it is repacked (see repack_weights).
std::vector<kernels::matrix_view*> packable_views(model_weights& w) {
  std::vector<kernels::matrix_view*> v{&w.output};
  for (auto& l : w.layers) {
    for (auto* m : {&l.wqkv, &l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.conv_in, &l.conv_out}) {
      if (m->data != nullptr) v.push_back(m);
    }
  }
  return v;
}

kernels::weight_layout chosen_layout(const kernels::matrix_view& m) {
  const kernels::weight_layout layout = kernels::repack_layout(m.type, m.n_rows);
  return kernels::packed_gemm_native(layout) ? layout : kernels::weight_layout::plain;
}

uintptr_t page_size() {
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// Gives back the file pages of [begin, end) rounded inwards to whole pages, returns the
// rounded end. The mapping is read-only and private, so nothing is written back; a later read
// would fault the page in again from the file.
const uint8_t* release_pages(const uint8_t* begin, const uint8_t* end) {
  const uintptr_t page = page_size();
  const uintptr_t b = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t e = reinterpret_cast<uintptr_t>(end) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
  return reinterpret_cast<const uint8_t*>(std::max(b, e));
}

// Repacks `m` into dst a slice of rows at a time, releasing each slice's source pages once it
// is copied, so a matrix is never resident twice (beyond one slice).
void repack_matrix(kernels::matrix_view& m, kernels::weight_layout layout, uint8_t* dst) {
  constexpr size_t k_slice_bytes = 4u << 20;
  const int64_t n_groups = m.n_rows / 4;
  const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(k_slice_bytes / (4 * m.row_bytes)));
  const uint8_t* src = m.data;
  const uint8_t* released = src;
  for (int64_t g0 = 0; g0 < n_groups; g0 += step) {
    const int64_t g1 = std::min(n_groups, g0 + step);
    kernels::repack_groups(m, layout, g0, g1, dst);
    released = release_pages(released, src + g1 * 4 * m.row_bytes);
  }
  m.data = dst;
  m.layout = layout;
}

// Repacks every matrix with a native repacked kernel into one anonymous mapping. Nothing
// changes when none qualifies or the mapping cannot be made.
void repack_weights(model_weights& w) {
  constexpr size_t k_align = 64;
  size_t total = 0;
  for (auto* m : packable_views(w)) {
    if (chosen_layout(*m) != kernels::weight_layout::plain) {
      total += (static_cast<size_t>(m->n_rows) * m->row_bytes + k_align - 1) / k_align * k_align;
    }
  }
  if (total == 0) return;
  const bool tied = w.output.data == w.token_embd.data;
  auto mem = std::make_shared<anon_memory>(total);
  if (mem->data() == nullptr) return;
  uint8_t* dst = mem->data();
  for (auto* m : packable_views(w)) {
    const kernels::weight_layout layout = chosen_layout(*m);
    if (layout == kernels::weight_layout::plain) continue;
    const size_t bytes = static_cast<size_t>(m->n_rows) * m->row_bytes;
    repack_matrix(*m, layout, dst);
    dst += (bytes + k_align - 1) / k_align * k_align;
  }
  // The file's table was released while the head was copied; looking tokens up in the copy
  // keeps it from being paged back in (fault-around would bring 64 KiB per looked-up row).
  if (tied) w.token_embd = w.output;
  w.packed = std::move(mem);
}

}  // namespace

anon_memory::anon_memory(size_t bytes) {
  constexpr uintptr_t k_huge = 2u << 20;
  const size_t map_bytes = bytes + k_huge;
  void* p = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  map_ = p;
  map_bytes_ = map_bytes;
  data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + k_huge - 1) / k_huge * k_huge);
  size_ = bytes;
#if defined(MADV_HUGEPAGE)
  madvise(data_, size_, MADV_HUGEPAGE);  // advice only: without THP the pages stay 4 KiB
#endif
}

anon_memory::~anon_memory() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

bool repack_enabled_by_env() {
  const char* v = std::getenv("POCKETLM_REPACK");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

result<model_weights> load_weights(const gguf::file& f, const hparams& hp, bool repack) {
  const arch_desc& arch = arch_of(hp.arch);
  tensor_loader ld(f);
  model_weights w;
  w.token_embd = ld.matrix("token_embd.weight", hp.n_embd, hp.n_vocab);
  w.output_norm = ld.vector(std::string(arch.output_norm), hp.n_embd);
  w.output = ld.matrix("output.weight", hp.n_embd, hp.n_vocab, /*required=*/false);
  if (w.output.data == nullptr) w.output = w.token_embd;  // tied embeddings
  w.rope_freqs = ld.vector("rope_freqs.weight", hp.rope.n_rot / 2, /*required=*/false);
  if (arch.fused_ffn) {
    w.rope_long = ld.vector("rope_factors_long.weight", hp.rope.n_rot / 2, /*required=*/false);
    w.rope_short = ld.vector("rope_factors_short.weight", hp.rope.n_rot / 2, /*required=*/false);
  }
  for (int il = 0; il < hp.n_layer && ld.err().ok(); ++il) w.layers.push_back(load_layer(ld, hp, arch, il));
  if (!ld.err()) return ld.err().err();
  if (repack) repack_weights(w);
  return w;
}

}  // namespace pocketlm
