// `pocketlm pull NAME`: download a model from an Ollama-compatible registry into the store,
// with a progress bar (percent, bytes, rate, ETA) on stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/verbs.h"
#include "store/format.h"
#include "store/registry.h"

namespace pocketlm::cli {

namespace {

using clock_type = std::chrono::steady_clock;

// Redraws one line per blob at most 10 times a second on a terminal; elsewhere (logs, tests)
// prints only the finished line.
class progress_bar {
 public:
  void update(const std::string& hex, int64_t done, int64_t total) {
    const auto now = clock_type::now();
    if (hex != hex_) {
      finish();
      hex_ = hex, start_ = now, start_bytes_ = done, last_draw_ = {};
    }
    done_ = done, total_ = total;
    const bool complete = done >= total;
    if (complete || (tty_ && now - last_draw_ > std::chrono::milliseconds(100))) draw(now), last_draw_ = now;
    if (complete) finish();
  }
  void finish() {
    if (!hex_.empty() && tty_) std::fputc('\n', stderr);
    hex_.clear();
  }

 private:
  void draw(clock_type::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0.05 ? static_cast<double>(done_ - start_bytes_) / secs : 0;
    const int pct = total_ > 0 ? static_cast<int>(100 * done_ / total_) : 100;
    std::string bar(20, ' ');
    for (int i = 0; i < pct / 5; ++i) bar[static_cast<size_t>(i)] = '#';
    std::string eta = done_ >= total_ ? "" : rate > 0 ? std::to_string(static_cast<long>((total_ - done_) / rate)) + "s" : "?";
    std::fprintf(stderr, "%spulling %s: %3d%% [%s] %s/%s  %s/s  %s%s", tty_ ? "\r\x1b[K" : "", hex_.substr(0, 12).c_str(),
                 pct, bar.c_str(), store::human_bytes(done_).c_str(), store::human_bytes(total_).c_str(),
                 store::human_bytes(static_cast<int64_t>(rate)).c_str(), eta.c_str(), tty_ ? "" : "\n");
    std::fflush(stderr);
  }

  bool tty_ = isatty(STDERR_FILENO) != 0;
  std::string hex_;
  clock_type::time_point start_, last_draw_;
  int64_t start_bytes_ = 0, done_ = 0, total_ = 0;
};

int run_pull(const std::string& name) {
  auto n = store::parse_name(name);
  if (!n) return std::fprintf(stderr, "error: %s\n", n.error_message().c_str()), 1;
  auto s = store::model_store::pocketlm_default();
  progress_bar bar;
  store::pull_events ev;
  ev.on_status = [&](std::string_view m) { bar.finish(), std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data()); };
  ev.on_progress = [&](const std::string& hex, int64_t done, int64_t total) { bar.update(hex, done, total); };
  const auto st = store::pull(s, *n, ev);
  bar.finish();
  if (!st) return std::fprintf(stderr, "error: %s\n", st.error_message().c_str()), 1;
  std::fprintf(stderr, "success\n");
  return 0;
}

}  // namespace

void register_pull(CLI::App& app, int& exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("pull", "Download a model from a registry ($POCKETLM_REGISTRY overrides)");
  cmd->add_option("name", *name, "model name, e.g. qwen2.5:0.5b")->required();
  cmd->callback([name, &exit_code] { exit_code = run_pull(*name); });
}

}  // namespace pocketlm::cli
