// Tokenizer throughput: encodes a text file with a model's vocabulary several times and prints
// one JSON line {"bytes", "tokens", "seconds", "mb_per_s"} (best of the runs, load excluded).
// usage: tokenize_bench MODEL.gguf TEXT_FILE [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf TEXT_FILE [runs]\n", argv[0]);
    return 2;
  }
  auto f = pocketlm::gguf::file::open(argv[1]);
  if (!f) {
    std::fprintf(stderr, "error: %s\n", f.error_message().c_str());
    return 1;
  }
  auto tok = pocketlm::tokenizer::from_gguf(**f);
  if (!tok) {
    std::fprintf(stderr, "error: %s\n", tok.error_message().c_str());
    return 1;
  }
  std::ifstream in(argv[2], std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  double best = 1e30;
  size_t n_tokens = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    n_tokens = (*tok)->encode(text, false, true).size();
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    best = std::min(best, dt.count());
  }
  std::printf("{\"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.4f, \"mb_per_s\": %.2f}\n", text.size(), n_tokens, best,
              text.size() / best / 1e6);
  return 0;
}
