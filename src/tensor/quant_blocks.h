// tensor/: owns element types and their in-memory block layouts (byte-compatible with llama.cpp
// GGUF files), fp16/bf16, and scalar reference quantize/dequantize. Calls gguf/types.h only.
#pragma once

#include <cstdint>

#include "gguf/types.h"
#include "tensor/fp16.h"

namespace pocketlm {

constexpr int qk4_0 = 32;
constexpr int qk4_1 = 32;
constexpr int qk5_0 = 32;
constexpr int qk5_1 = 32;
constexpr int qk8_0 = 32;
constexpr int qk8_1 = 32;
constexpr int qk_k = 256;         // super-block size of the K-quants
constexpr int k_scale_size = 12;  // packed 6-bit scales/mins of q4_K and q5_K

// x = d * (q - 8), q in [0, 15]: 4.5 bits per weight.
struct block_q4_0 {
  fp16_t d;
  uint8_t qs[qk4_0 / 2];  // low nibble: element j, high nibble: element j + 16
};
static_assert(sizeof(block_q4_0) == 2 + qk4_0 / 2);

// x = d * q + m, q in [0, 15]: 5 bits per weight.
struct block_q4_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qs[qk4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 4 + qk4_1 / 2);

// x = d * (q - 16), q in [0, 31], fifth bit in qh: 5.5 bits per weight.
struct block_q5_0 {
  fp16_t d;
  uint8_t qh[4];
  uint8_t qs[qk5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 2 + 4 + qk5_0 / 2);

// x = d * q + m, q in [0, 31]: 6 bits per weight.
struct block_q5_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qh[4];
  uint8_t qs[qk5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 4 + 4 + qk5_1 / 2);

// x = d * q, q in [-127, 127]: 8.5 bits per weight.
struct block_q8_0 {
  fp16_t d;
  int8_t qs[qk8_0];
};
static_assert(sizeof(block_q8_0) == 2 + qk8_0);

// Activation format for q4_1/q5_1 dots: s = d * sum(qs) precomputed.
struct block_q8_1 {
  fp16_t d;
  fp16_t s;
  int8_t qs[qk8_1];
};
static_assert(sizeof(block_q8_1) == 4 + qk8_1);

// 8 sub-blocks of 32: x = d * sc * q - dmin * m, 6-bit sc/m packed in scales: 4.5 bits per weight.
struct block_q4_k {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[k_scale_size];
  uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q4_k) == 4 + k_scale_size + qk_k / 2);

// As q4_K with a fifth bit per weight in qh: 5.5 bits per weight.
struct block_q5_k {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[k_scale_size];
  uint8_t qh[qk_k / 8];
  uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q5_k) == 4 + k_scale_size + qk_k / 8 + qk_k / 2);

// 16 sub-blocks of 16: x = d * sc * (q - 32), q 6-bit (4 low in ql, 2 high in qh), sc int8:
// 6.5625 bits per weight.
struct block_q6_k {
  uint8_t ql[qk_k / 2];
  uint8_t qh[qk_k / 4];
  int8_t scales[qk_k / 16];
  fp16_t d;
};
static_assert(sizeof(block_q6_k) == qk_k / 2 + qk_k / 4 + qk_k / 16 + 2);

// Activation format for K-quant dots: float scale, bsums = sums of each 16 qs.
struct block_q8_k {
  float d;
  int8_t qs[qk_k];
  int16_t bsums[qk_k / 16];
};
static_assert(sizeof(block_q8_k) == 4 + qk_k + qk_k / 16 * 2);

}  // namespace pocketlm
