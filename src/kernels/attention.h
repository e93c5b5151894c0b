// Fused causal attention over a KV cache, computed the way llama.cpp's CPU flash attention does:
// q rounded to f16, one online-softmax step per cached position (in position order), an f32
// weighted sum of V, and no memory quadratic in the context. The query heads that share one KV
// head (grouped-query attention) are processed together so that each K/V row is read once per
// group. Each ISA level has its own head-group kernel (x86/attn_*.cpp, arm/attn_neon.cpp), held
// to the scalar reference attend_group_ref to float rounding by tests/kernels/attention_test.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "kernels/dispatch.h"
#include "kernels/threads.h"

namespace pocketlm::kernels {

// How cached rows are stored: f16 values, or q8_0 blocks (f16 scale + 32 int8).
enum class kv_format { f16, q8_0 };

// One layer of one sequence's cache: position p's K row starts at k + p * row_bytes, its V row
// at v + p * row_bytes; a row holds n_head_kv heads of head_dim values. With ring > 0 the rows
// are a ring of that many cells: position p is in row p % ring.
struct kv_layer_view {
  kv_format format = kv_format::f16;
  const uint8_t* k = nullptr;
  const uint8_t* v = nullptr;
  size_t row_bytes = 0;
  int64_t ring = 0;
};

// The work of one KV head for `group` query heads over rows [p0, p1), continuing an online
// softmax whose state (m: running max score, s: running weight sum, acc: weighted V sum) the
// caller owns. Start a fresh state with m = -INFINITY, s = 0, acc = 0.
struct head_group_args {
  const float* q = nullptr;  // (group, head_dim), values already rounded to f16
  int group = 1;
  int64_t head_dim = 0;
  float scale = 1.0f;    // applied to q.k
  float softcap = 0.0f;  // > 0: scores become softcap * tanh(score / softcap) (gemma2)
  kv_layer_view kv;
  int64_t offset = 0;  // element offset of this KV head inside a row
  int64_t p0 = 0, p1 = 0;
  float* m = nullptr;    // (group)
  float* s = nullptr;    // (group)
  float* acc = nullptr;  // (group, head_dim)
};

// q.k scaled, then soft-capped where `softcap` > 0 as llama.cpp's flash attention does it (the
// scale divided by the cap first, the product of tanh and cap after).
inline float attention_score(float dot, float scale, float softcap) {
  if (softcap > 0.0f) return softcap * std::tanh(dot * (scale / softcap));
  return dot * scale;
}

// Folds one score into a head's (m, s); sets acc_scale (the factor for the old acc, already
// applied to s) and v_weight (the weight of this position's V row). Exactly one exp per
// position, as llama.cpp computes it.
inline void online_softmax_step(float score, float& m, float& s, float& acc_scale, float& v_weight) {
  acc_scale = 1.0f;
  v_weight = 1.0f;
  if (score > m) {
    acc_scale = std::exp(m - score);
    m = score;
  } else {
    v_weight = std::exp(score - m);
  }
  s = s * acc_scale + v_weight;
}

// Scalar reference: decodes each row to f32, dots in double as ggml's generic f16 dot does.
void attend_group_ref(const head_group_args& a);

namespace x86 {
void attend_group_avx2(const head_group_args& a);    // AVX2 + FMA + F16C
void attend_group_avx512(const head_group_args& a);  // AVX-512F
}  // namespace x86
namespace arm {
void attend_group_neon(const head_group_args& a);
}  // namespace arm

// The head-group kernel of `level` (the level below's where it has none of its own); nullptr if
// the level is not supported here.
head_group_fn attend_group_for(isa_level level);

// A batch of tokens: token t (query q + t * q_stride, n_head heads of head_dim) attends positions
// first_pos[t]..last_pos[t] (first_pos null: from 0) of the cache kv_of(t); out + t * q_stride
// gets n_head heads of head_dim. A ring cache must hold every position a token attends.
struct attention_args {
  int64_t n_tokens = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;
  float softcap = 0.0f;  // attention logit soft-capping (head_group_args::softcap)
  const float* q = nullptr;
  int64_t q_stride = 0;
  const int64_t* last_pos = nullptr;
  const int64_t* first_pos = nullptr;
  std::function<kv_layer_view(int64_t token)> kv_of;
  float* out = nullptr;
  // Positions per chunk when one (token, KV head) is split across threads (flash-decoding).
  // 0: chosen from the shape alone, so results never depend on the thread count. > 0: always
  // split with this chunk (tests; a chunk longer than the context gives the unsplit result).
  int64_t split_chunk = 0;
};

// Runs the active ISA level's head-group kernel over every (token, KV head) on the pool. When
// there are few of those (decode), each is cut into position chunks whose partial states are
// merged afterwards. Allocates only when a per-thread scratch buffer has to grow.
void attention(const attention_args& a, thread_pool& pool);

}  // namespace pocketlm::kernels
