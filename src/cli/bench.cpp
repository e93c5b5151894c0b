// `pocketlm bench`: prefill (pp) and decode (tg) throughput with llama-bench's flags and fields,
// so the two tools' tables line up side by side.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/verbs.h"
#include "model/model.h"
#include "runtime/bandwidth.h"
#include "runtime/planner.h"

namespace pocketlm::cli {

namespace {

struct bench_args {
  std::string model_path;
  std::string n_prompt = "512";
  std::string n_gen = "128";
  std::string threads = "2";
  int reps = 5;
  std::string output = "md";
  engine_flags engine;  // --ram, --kv-type (threads come from -t's list)
};

struct bench_row {
  int n_prompt = 0, n_gen = 0, n_threads = 0;
  std::vector<double> samples_ns;
  std::vector<double> samples_ts;
  double avg_ts = 0, stddev_ts = 0, avg_ns = 0, stddev_ns = 0;
  double ceiling_ts = 0;  // tg only: bandwidth / bytes read per token
  double load_ms = 0;     // model::load of this thread count's model
};

std::vector<int> parse_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      out.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw std::runtime_error(std::string(flag) + ": '" + item + "' is not a number");
    }
  }
  return out;
}

void mean_sd(const std::vector<double>& v, double& mean, double& sd) {
  mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
}

// One timed test: a prompt of n_prompt tokens in one batch, then n_gen single-token decodes,
// from an empty cache (llama-bench runs pp and tg as separate tests the same way).
double run_once(model& m, int n_prompt, int n_gen, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(m.params().n_vocab - 1));
  m.truncate(0);
  const auto t0 = std::chrono::steady_clock::now();
  if (n_prompt > 0) {
    std::vector<int32_t> ids(static_cast<size_t>(n_prompt));
    for (auto& t : ids) t = tok(rng);
    if (!m.eval(ids, false)) throw std::runtime_error("prompt evaluation failed");
  }
  for (int i = 0; i < n_gen; ++i) {
    if (!m.eval({tok(rng)}, false)) throw std::runtime_error("decode failed");
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

long peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss * 1024L;
}

// Decode ceiling: this machine's read bandwidth over the bytes a token reads (weights, plus the
// KV cache at the average position of an n_gen-token run).
double decode_ceiling(const std::string& path, int n_gen, int n_threads) {
  plan_request req;
  req.model_path = path;
  req.n_ctx = std::max(n_gen / 2, 1);
  auto plan = make_plan(req);
  if (!plan) return 0;
  const double bw = measure_read_bandwidth(n_threads);
  const double bytes = static_cast<double>(plan->traffic.weight_bytes + plan->traffic.kv_bytes);
  std::fprintf(stderr, "read bandwidth (%d threads): %.1f GB/s; %.1f MB read per token\n", n_threads, bw / 1e9,
               bytes / 1e6);
  return bytes > 0 ? bw / bytes : 0;
}

std::string test_name(const bench_row& r) {
  if (r.n_prompt > 0 && r.n_gen > 0) return "pp" + std::to_string(r.n_prompt) + "+tg" + std::to_string(r.n_gen);
  return r.n_prompt > 0 ? "pp" + std::to_string(r.n_prompt) : "tg" + std::to_string(r.n_gen);
}

void print_rows(const bench_args& a, const model& m, const std::vector<bench_row>& rows, long rss) {
  const auto& f = m.file();
  const std::string name = f.get_string("general.name").value_or(a.model_path);
  const double size_gib = static_cast<double>(f.size()) / (1024.0 * 1024.0 * 1024.0);
  if (a.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      out.push_back({{"model_filename", a.model_path},
                     {"model_type", name},
                     {"model_size", f.size()},
                     {"n_threads", r.n_threads},
                     {"n_prompt", r.n_prompt},
                     {"n_gen", r.n_gen},
                     {"avg_ns", r.avg_ns},
                     {"stddev_ns", r.stddev_ns},
                     {"avg_ts", r.avg_ts},
                     {"stddev_ts", r.stddev_ts},
                     {"samples_ns", r.samples_ns},
                     {"samples_ts", r.samples_ts},
                     {"peak_rss_bytes", rss},
                     {"ceiling_ts", r.ceiling_ts},
                     {"load_ms", r.load_ms}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else if (a.output == "csv") {
    std::printf(
        "model_filename,model_type,model_size,n_threads,n_prompt,n_gen,avg_ns,stddev_ns,avg_ts,stddev_ts,peak_rss_"
        "bytes\n");
    for (const auto& r : rows) {
      std::printf("\"%s\",\"%s\",%zu,%d,%d,%d,%.0f,%.0f,%.6f,%.6f,%ld\n", a.model_path.c_str(), name.c_str(), f.size(),
                  r.n_threads, r.n_prompt, r.n_gen, r.avg_ns, r.stddev_ns, r.avg_ts, r.stddev_ts, rss);
    }
  } else {
    std::printf(
        "| model | size | threads | test | t/s | of decode ceiling |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (const auto& r : rows) {
      const std::string share = r.ceiling_ts > 0
                                    ? std::to_string(static_cast<int>(100.0 * r.avg_ts / r.ceiling_ts + 0.5)) +
                                          "% of " + std::to_string(static_cast<int>(r.ceiling_ts)) + " t/s"
                                    : "";
      std::printf("| %s | %.2f GiB | %d | %s | %.2f ± %.2f | %s |\n", name.c_str(), size_gib, r.n_threads,
                  test_name(r).c_str(), r.avg_ts, r.stddev_ts, share.c_str());
    }
    std::printf("\npeak RSS: %.1f MiB; load: %.0f ms\n", static_cast<double>(rss) / (1024.0 * 1024.0),
                rows.empty() ? 0.0 : rows.front().load_ms);
  }
}

int run_bench(const bench_args& a) {
  try {
    const auto prompts = parse_list(a.n_prompt, "-p");
    const auto gens = parse_list(a.n_gen, "-n");
    std::vector<bench_row> rows;
    std::unique_ptr<model> last;
    for (int nt : parse_list(a.threads, "-t")) {
      engine_flags flags = a.engine;
      flags.n_threads = nt;
      auto engine = engine_options(flags);
      if (!engine) throw std::runtime_error(engine.error_message());
      model_options opt = std::move(*engine);
      const int max_p = prompts.empty() ? 0 : *std::max_element(prompts.begin(), prompts.end());
      const int max_g = gens.empty() ? 0 : *std::max_element(gens.begin(), gens.end());
      opt.n_ctx = std::max(max_p, max_g) + 1;
      opt.n_batch = std::max(max_p, 1);
      const auto load_start = std::chrono::steady_clock::now();
      auto m = model::load(a.model_path, opt);
      if (!m) throw std::runtime_error(m.error_message());
      const double load_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
      std::mt19937 rng(1234);
      std::vector<std::pair<int, int>> tests;
      for (int p : prompts)
        if (p > 0) tests.emplace_back(p, 0);
      for (int g : gens)
        if (g > 0) tests.emplace_back(0, g);
      for (auto [p, g] : tests) {
        bench_row r{p, g, nt, {}, {}, 0, 0, 0, 0, 0, load_ms};
        run_once(**m, p, g, rng);  // warm-up: page in weights, fill caches
        for (int i = 0; i < a.reps; ++i) {
          const double ns = run_once(**m, p, g, rng);
          r.samples_ns.push_back(ns);
          r.samples_ts.push_back(1e9 * (p + g) / ns);
        }
        mean_sd(r.samples_ns, r.avg_ns, r.stddev_ns);
        mean_sd(r.samples_ts, r.avg_ts, r.stddev_ts);
        rows.push_back(r);
        std::fprintf(stderr, "%s t=%d: %.2f t/s\n", test_name(r).c_str(), nt, r.avg_ts);
      }
      last = std::move(*m);
    }
    // Peak RSS is the model's: read it before the bandwidth probe allocates its buffer.
    const long rss = peak_rss_bytes();
    for (auto& r : rows) {
      if (r.n_gen > 0 && r.n_prompt == 0) r.ceiling_ts = decode_ceiling(a.model_path, r.n_gen, r.n_threads);
    }
    if (last) print_rows(a, *last, rows, rss);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<bench_args>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill and decode speed (llama-bench style)");
  cmd->add_option("-m,--model", a->model_path, "GGUF model file")->required();
  cmd->add_option("-p,--n-prompt", a->n_prompt, "prompt lengths, comma-separated (default 512)");
  cmd->add_option("-n,--n-gen", a->n_gen, "generated tokens, comma-separated (default 128)");
  cmd->add_option("-t,--threads", a->threads, "thread counts, comma-separated (default 2)");
  cmd->add_option("-r,--repetitions", a->reps, "repetitions per test (default 5)")->check(CLI::Range(1, 1000));
  cmd->add_option("-o,--output", a->output, "md, json or csv")->check(CLI::IsMember({"md", "json", "csv"}));
  cmd->add_option("--ram", a->engine.ram, "RAM budget, e.g. 6G (default: available RAM less a reserve)");
  cmd->add_option("--kv-type", a->engine.kv_type, "KV cache type")->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->callback([a, &exit_code] { exit_code = run_bench(*a); });
}

}  // namespace pocketlm::cli
