// `pocketlm quantize IN.gguf OUT.gguf TYPE [-t N]`: re-encodes a model with llama.cpp's mixes.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "cli/verbs.h"
#include "model/quantize.h"

namespace pocketlm::cli {
namespace {

using clock_type = std::chrono::steady_clock;

struct quantize_options {
  std::string input;
  std::string output;
  std::string type;
  int threads = 0;  // 0: all cores
};

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// Redraws "[#####.....]  45% blk.3.ffn_up.weight  210.4 MB/s" on one stderr line, at most every
// 100 ms (and always at 100%).
class progress_bar {
 public:
  explicit progress_bar(clock_type::time_point start) : start_(start), last_draw_(start) {}

  void update(size_t done, size_t total, const std::string& tensor) {
    const auto now = clock_type::now();
    if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int k_width = 30;
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const int filled = static_cast<int>(frac * k_width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(k_width - filled), '.');
    const double elapsed = std::max(1e-9, seconds_since(start_));
    const double mb_per_s = static_cast<double>(done) / 1e6 / elapsed;
    std::fprintf(stderr, "\r[%s] %3d%% %-36.36s %8.1f MB/s", bar.c_str(), static_cast<int>(frac * 100.0),
                 tensor.c_str(), mb_per_s);
    std::fflush(stderr);
    drawn_ = true;
  }

  // Ends the progress line so later output starts on a fresh one.
  void finish() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

 private:
  clock_type::time_point start_;
  clock_type::time_point last_draw_;
  bool drawn_ = false;
};

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

int run_quantize(const quantize_options& opt) {
  file_type ft{};
  if (!parse_file_type(opt.type, ft)) {
    std::fprintf(stderr, "error: unknown type '%s' (expected one of: %s)\n", opt.type.c_str(),
                 file_type_names().c_str());
    return 1;
  }
  const auto start = clock_type::now();
  progress_bar bar(start);
  auto summary =
      quantize_file(opt.input, opt.output, ft, opt.threads,
                    [&bar](size_t done, size_t total, const std::string& tensor) { bar.update(done, total, tensor); });
  bar.finish();
  if (!summary) {
    std::fprintf(stderr, "error: %s\n", summary.error_message().c_str());
    return 1;
  }
  const double elapsed = seconds_since(start);
  std::fprintf(stderr, "%s: %.2f MiB -> %s: %.2f MiB (%s) in %.2f s\n", opt.input.c_str(),
               mib(file_size_or_zero(opt.input)), opt.output.c_str(), mib(file_size_or_zero(opt.output)),
               std::string(file_type_name(ft)).c_str(), elapsed);
  std::fprintf(stderr, "tensors: %zu, converted: %zu, fallback: %d; tensor data %.2f -> %.2f MiB\n", summary->n_tensors,
               summary->n_converted, summary->n_fallback, mib(summary->bytes_in), mib(summary->bytes_out));
  return 0;
}

}  // namespace

void register_quantize(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<quantize_options>();
  CLI::App* sub = app.add_subcommand("quantize", "Convert a GGUF model to another file type");
  sub->add_option("input", opt->input, "input GGUF file")->required();
  sub->add_option("output", opt->output, "output GGUF file")->required();
  sub->add_option("type", opt->type, "file type: " + file_type_names())->required();
  sub->add_option("-t,--threads", opt->threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  sub->callback([opt, &exit_code] { exit_code = run_quantize(*opt); });
}

}  // namespace pocketlm::cli
