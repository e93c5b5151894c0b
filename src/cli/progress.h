// A one-line progress bar on stderr (percent, bytes, rate, ETA) for long downloads, copies and
// hashes: `pull`, `import`, `create`. Header-only: pull.cpp is left out of builds without HTTP.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "store/format.h"

namespace pocketlm::cli {

// Redraws one line per label at most 10 times a second on a terminal; elsewhere (logs, tests)
// prints only the finished line, or nothing when `tty_only`.
class progress_bar {
 public:
  explicit progress_bar(bool tty_only = false) : tty_only_(tty_only) {}
  ~progress_bar() { finish(); }

  void update(const std::string& label, int64_t done, int64_t total) {
    if (tty_only_ && !tty_) return;
    const auto now = clock_type::now();
    if (label != label_) {
      finish();
      label_ = label, start_ = now, start_bytes_ = done, last_draw_ = {};
    }
    done_ = done, total_ = total;
    const bool complete = done >= total;
    if (complete || (tty_ && now - last_draw_ > std::chrono::milliseconds(100))) draw(now), last_draw_ = now;
    if (complete) finish();
  }
  void finish() {
    if (!label_.empty() && tty_) std::fputc('\n', stderr);
    label_.clear();
  }

 private:
  using clock_type = std::chrono::steady_clock;

  void draw(clock_type::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0.05 ? static_cast<double>(done_ - start_bytes_) / secs : 0;
    const int pct = total_ > 0 ? static_cast<int>(100 * done_ / total_) : 100;
    std::string bar(20, ' ');
    for (int i = 0; i < pct / 5; ++i) bar[static_cast<size_t>(i)] = '#';
    std::string eta = done_ >= total_ ? ""
                      : rate > 0      ? std::to_string(static_cast<long>((total_ - done_) / rate)) + "s"
                                      : "?";
    std::fprintf(stderr, "%s%s: %3d%% [%s] %s/%s  %s/s  %s%s", tty_ ? "\r\x1b[K" : "", label_.c_str(), pct, bar.c_str(),
                 store::human_bytes(done_).c_str(), store::human_bytes(total_).c_str(),
                 store::human_bytes(static_cast<int64_t>(rate)).c_str(), eta.c_str(), tty_ ? "" : "\n");
    std::fflush(stderr);
  }

  bool tty_only_;
  bool tty_ = isatty(STDERR_FILENO) != 0;
  std::string label_;
  clock_type::time_point start_, last_draw_;
  int64_t start_bytes_ = 0, done_ = 0, total_ = 0;
};

}  // namespace pocketlm::cli
