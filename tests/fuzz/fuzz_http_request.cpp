// libFuzzer target: raw request bodies through the four generation routes' parsers (both APIs),
// the layer between an HTTP body and the sampler. A malformed body must be an api_error 400;
// anything else thrown, a crash, or parameters no sampler can use (non-finite, negative counts,
// a keep_alive that is not a number) is a finding.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/requests.h"

namespace {

using namespace pocketlm::server;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_params(const gen_params& g) {
  const auto& s = g.sampling;
  for (float v : {s.temperature, s.top_p, s.min_p, s.repeat_penalty, s.presence_penalty, s.frequency_penalty}) {
    check(std::isfinite(v));
  }
  check(s.temperature >= 0 && s.top_p >= 0 && s.min_p >= 0 && s.repeat_penalty >= 0);
  check(s.top_k >= 0 && s.repeat_last_n >= -1 && g.n_predict >= -1);
  if (g.num_ctx) check(*g.num_ctx >= 1);
}

void run(generation_request (*parse)(const std::string&), const std::string& body) {
  try {
    const generation_request r = parse(body);
    check(!r.model.empty());
    check_params(r.params);
    check_params(r.over(gen_params{}));
    if (r.keep_alive) check(std::isfinite(*r.keep_alive));
  } catch (const api_error& e) {
    check(e.status == 400);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the route, so every route sees every shape of body.
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: run(parse_openai_chat_request, body); break;
    case 1: run(parse_openai_completion_request, body); break;
    case 2: run(parse_ollama_chat_request, body); break;
    default: run(parse_ollama_generate_request, body); break;
  }
  return 0;
}
