// Chat template rendering speed: parses a Jinja chat template once, then renders a 20-turn
// conversation (system + 10 user/assistant pairs + a final user turn, with a generation prompt)
// many times, and prints one JSON line {"template", "template_bytes", "output_bytes", "parse_us",
// "render_us_median", "render_us_best", "renders"}. Issue 14's target: under 1 ms per render with
// a 4 KB template (default: Llama 3.1's, 4.6 KB, from the chat corpus that the test fixture
// chat_corpus_setup or tools/chat_corpus.py builds in BUILD/chat-corpus).
// usage: chat_template_bench [TEMPLATE.jinja] [renders]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/jinja/jinja.h"

namespace {

using clock_type = std::chrono::steady_clock;

double micros_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

nlohmann::ordered_json twenty_turns() {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  msgs.push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
  const char* topics[] = {"the moon",  "bread", "rivers", "chess", "bees",
                          "volcanoes", "tea",   "trains", "owls",  "glass"};
  for (int i = 0; i < 10; ++i) {
    msgs.push_back({{"role", "user"}, {"content", std::string("Tell me one short fact about ") + topics[i] + "."}});
    msgs.push_back({{"role", "assistant"},
                    {"content", std::string("Here is a fact about ") + topics[i] +
                                    ": it has been studied for centuries, and people still find it fascinating."}});
  }
  msgs.push_back({{"role", "user"}, {"content", "Thanks! Which of those was your favourite?"}});
  return {{"messages", msgs},
          {"tools", nullptr},
          {"documents", nullptr},
          {"add_generation_prompt", true},
          {"bos_token", "<|begin_of_text|>"},
          {"eos_token", "<|eot_id|>"},
          {"date_string", "26 Jul 2025"}};
}

}  // namespace

int main(int argc, char** argv) {
  namespace jinja = pocketlm::chat::jinja;
  const std::string path =
      argc > 1 ? argv[1]
               : std::string(POCKETLM_BINARY_DIR) + "/chat-corpus/templates/meta-llama-Llama-3.1-8B-Instruct.jinja";
  const int renders = argc > 2 ? std::max(1, std::atoi(argv[2])) : 2000;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s%s\n", path.c_str(),
                 argc > 1 ? "" : " (build the chat corpus: ctest -R chat_corpus_setup, or tools/chat_corpus.py)");
    return 1;
  }
  const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto t0 = clock_type::now();
  auto prog = jinja::parse(source);
  const double parse_us = micros_since(t0);
  if (!prog) {
    std::fprintf(stderr, "error: %s\n", prog.error_message().c_str());
    return 1;
  }
  const auto ctx = twenty_turns();
  jinja::render_options opt;
  opt.now_unix = 1753531200;
  std::vector<double> times;
  times.reserve(renders);
  size_t out_bytes = 0;
  for (int i = 0; i < renders; ++i) {
    t0 = clock_type::now();
    auto out = jinja::render(**prog, ctx, opt);
    times.push_back(micros_since(t0));
    if (!out) {
      std::fprintf(stderr, "error: %s\n", out.error_message().c_str());
      return 1;
    }
    out_bytes = jinja::concat(*out).size();
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "{\"template\": \"%s\", \"template_bytes\": %zu, \"output_bytes\": %zu, \"parse_us\": %.1f, "
      "\"render_us_median\": %.1f, \"render_us_best\": %.1f, \"renders\": %d}\n",
      path.substr(path.find_last_of('/') + 1).c_str(), source.size(), out_bytes, parse_us, times[times.size() / 2],
      times.front(), renders);
  return 0;
}
