#include "cli/line_input.h"

#ifdef POCKETLM_LINE_EDITING
#include <editline/readline.h>

#include <cstdlib>
#else
#include <unistd.h>

#include <cstdio>
#endif

namespace pocketlm::cli {

#ifdef POCKETLM_LINE_EDITING

std::optional<std::string> read_line(const char* prompt) {
  char* raw = readline(prompt);
  if (raw == nullptr) return std::nullopt;
  std::string line(raw);
  std::free(raw);
  return line;
}

void remember_line(const std::string& line) {
  static const bool started = (using_history(), true);
  (void)started;
  add_history(line.c_str());
}

#else

// One byte per read(): stdin may be shared with nothing else, and a line typed at a terminal
// arrives whole anyway. SIGINT's handler has no SA_RESTART, so Ctrl-C makes read() fail (EINTR).
std::optional<std::string> read_line(const char* prompt) {
  std::fputs(prompt, stdout);
  std::fflush(stdout);
  std::string line;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      if (c == '\n') return line;
      line += c;
      continue;
    }
    if (n < 0) return std::nullopt;  // EINTR (Ctrl-C) or a read error
    // End of input: a last line without its newline is still a line (like readline).
    if (line.empty()) return std::nullopt;
    return line;
  }
}

void remember_line(const std::string&) {}

#endif

}  // namespace pocketlm::cli
