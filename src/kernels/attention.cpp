#include "kernels/attention.h"

#include <algorithm>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels {

head_group_fn attend_group_for(isa_level level) {
  if (!isa_supported(level)) return nullptr;
  switch (level) {
#if defined(POCKETLM_X86_KERNELS)
    case isa_level::avx2: return x86::attend_group_avx2;
    case isa_level::avx512: return x86::attend_group_avx512;
#endif
#if defined(POCKETLM_ARM_KERNELS)
    case isa_level::neon:
    case isa_level::dotprod:
    case isa_level::i8mm: return arm::attend_group_neon;
#endif
    default: return attend_group_ref;
  }
}

namespace {

constexpr int64_t k_split_chunk = 256;  // positions per decode chunk
constexpr int64_t k_split_below = 8;    // split when fewer (token, KV head) pairs than this

// A softmax state for one head group: m (group), s (group), acc (group, head_dim), contiguous.
int64_t state_floats(int group, int64_t hd) { return group * (hd + 2); }

// Kernel arguments for token t's query heads of KV head kvh: rounds them to f16 into q_buf and
// resets `state` (state_floats long). Positions are left for the caller to set.
head_group_args start(const attention_args& a, int64_t t, int64_t kvh, std::vector<float>& q_buf, float* state) {
  const int group = static_cast<int>(a.n_head / a.n_head_kv);
  const int64_t n = group * a.head_dim;
  q_buf.resize(static_cast<size_t>(n));
  const float* src = a.q + t * a.q_stride + kvh * n;
  for (int64_t i = 0; i < n; ++i) q_buf[i] = fp16_to_f32(f32_to_fp16(src[i]));
  std::fill(state, state + group, -INFINITY);
  std::fill(state + group, state + state_floats(group, a.head_dim), 0.0f);
  head_group_args h;
  h.q = q_buf.data();
  h.group = group;
  h.head_dim = a.head_dim;
  h.scale = a.scale;
  h.softcap = a.softcap;
  h.kv = a.kv_of(t);
  h.offset = kvh * a.head_dim;
  h.m = state;
  h.s = state + group;
  h.acc = state + 2 * group;
  return h;
}

// Per-thread buffers, grown on first use and kept for the program.
struct thread_scratch {
  std::vector<float> q, state;
};
thread_scratch& scratch() {
  thread_local thread_scratch st;
  return st;
}

// out (group, head_dim) = acc / s per head; an all-zero weight gives zeros.
void finish(const head_group_args& h, float* out) {
  for (int g = 0; g < h.group; ++g) {
    const float inv = h.s[g] == 0.0f ? 0.0f : 1.0f / h.s[g];
    for (int64_t i = 0; i < h.head_dim; ++i) out[g * h.head_dim + i] = h.acc[g * h.head_dim + i] * inv;
  }
}

float* out_of(const attention_args& a, int64_t t, int64_t kvh) {
  return a.out + t * a.q_stride + kvh * (a.n_head / a.n_head_kv) * a.head_dim;
}

int64_t first_of(const attention_args& a, int64_t t) { return a.first_pos == nullptr ? 0 : a.first_pos[t]; }

// Runs fn over positions [h.p0, h.p1), mapped to the rows that hold them: in a ring the range
// may wrap, and then runs as two row ranges in position order.
void run_positions(head_group_fn fn, head_group_args h) {
  const int64_t ring = h.kv.ring;
  if (ring == 0 || h.p1 <= h.p0) {
    fn(h);
    return;
  }
  const int64_t len = h.p1 - h.p0, r0 = h.p0 % ring;
  h.p0 = r0;
  h.p1 = std::min(ring, r0 + len);
  fn(h);
  if (r0 + len > ring) {
    h.p0 = 0;
    h.p1 = r0 + len - ring;
    fn(h);
  }
}

// Every (token, KV head) whole on one thread; the longest (last tokens) are handed out first.
void attend_whole(const attention_args& a, head_group_fn fn, thread_pool& pool) {
  chunk_counter cc;
  cc.reset(a.n_tokens * a.n_head_kv);
  const int64_t n_state = state_floats(static_cast<int>(a.n_head / a.n_head_kv), a.head_dim);
  pool.run([&](int, int) {
    thread_scratch& ts = scratch();
    ts.state.resize(static_cast<size_t>(n_state));
    for (int64_t i; cc.next(i);) {
      const int64_t t = a.n_tokens - 1 - i / a.n_head_kv, kvh = i % a.n_head_kv;
      head_group_args h = start(a, t, kvh, ts.q, ts.state.data());
      h.p0 = first_of(a, t);
      h.p1 = a.last_pos[t] + 1;
      run_positions(fn, h);
      finish(h, out_of(a, t, kvh));
    }
  });
}

// Folds chunk state `src` into `dst` (both started as fresh states, over disjoint positions):
// both are rescaled to the larger max, as a flash-decoding reduction does.
void merge_state(float* dst, const float* src, int group, int64_t hd) {
  for (int g = 0; g < group; ++g) {
    const float m = std::max(dst[g], src[g]);
    const float fd = dst[g] == m ? 1.0f : std::exp(dst[g] - m);
    const float fs = src[g] == m ? 1.0f : std::exp(src[g] - m);
    dst[g] = m;
    dst[group + g] = dst[group + g] * fd + src[group + g] * fs;
    float* da = dst + 2 * group + g * hd;
    const float* sa = src + 2 * group + g * hd;
    for (int64_t i = 0; i < hd; ++i) da[i] = da[i] * fd + sa[i] * fs;
  }
}

// Flash-decoding: each (token, KV head) cut into chunks of `chunk` positions, one chunk per
// work item, each with its own state; the calling thread merges them in chunk order.
void attend_split(const attention_args& a, head_group_fn fn, thread_pool& pool, int64_t chunk) {
  const int group = static_cast<int>(a.n_head / a.n_head_kv);
  const int64_t n_pairs = a.n_tokens * a.n_head_kv, n_state = state_floats(group, a.head_dim);
  // Named through references: inside the job a thread_local name would be the worker's own.
  thread_local std::vector<int64_t> first_buf;  // first item of each pair, then the total
  thread_local std::vector<float> states_buf;   // (items, n_state)
  std::vector<int64_t>& first = first_buf;
  std::vector<float>& states = states_buf;
  first.resize(static_cast<size_t>(n_pairs + 1));
  first[0] = 0;
  for (int64_t i = 0; i < n_pairs; ++i) {
    const int64_t t = i / a.n_head_kv;
    first[i + 1] = first[i] + (a.last_pos[t] - first_of(a, t) + chunk) / chunk;
  }
  states.resize(static_cast<size_t>(first[n_pairs] * n_state));
  chunk_counter cc;
  cc.reset(first[n_pairs]);
  pool.run([&](int, int) {
    thread_scratch& ts = scratch();
    for (int64_t item; cc.next(item);) {
      const int64_t pair = std::upper_bound(first.begin(), first.end(), item) - first.begin() - 1;
      const int64_t t = pair / a.n_head_kv, kvh = pair % a.n_head_kv;
      head_group_args h = start(a, t, kvh, ts.q, states.data() + item * n_state);
      h.p0 = first_of(a, t) + (item - first[pair]) * chunk;
      h.p1 = std::min(h.p0 + chunk, a.last_pos[t] + 1);
      run_positions(fn, h);
    }
  });
  for (int64_t pair = 0; pair < n_pairs; ++pair) {
    float* dst = states.data() + first[pair] * n_state;
    for (int64_t item = first[pair] + 1; item < first[pair + 1]; ++item) {
      merge_state(dst, states.data() + item * n_state, group, a.head_dim);
    }
    head_group_args h;
    h.group = group;
    h.head_dim = a.head_dim;
    h.s = dst + group;
    h.acc = dst + 2 * group;
    finish(h, out_of(a, pair / a.n_head_kv, pair % a.n_head_kv));
  }
}

}  // namespace

void attention(const attention_args& a, thread_pool& pool) {
  const head_group_fn fn = active_kernels().attend_group;
  const int64_t chunk = a.split_chunk > 0 ? a.split_chunk : k_split_chunk;
  if (a.split_chunk > 0 || a.n_tokens * a.n_head_kv < k_split_below) {
    attend_split(a, fn, pool, chunk);
  } else {
    attend_whole(a, fn, pool);
  }
}

}  // namespace pocketlm::kernels
