// The prompt of `run`'s interactive chat: reads one line, with libedit's line editing and
// history where the build has it (POCKETLM_LINE_EDITING), else from the terminal in its cooked
// mode (the static Termux binary: the kernel still handles backspace and Ctrl-U; no history or
// arrow keys), which keeps libedit and libtinfo out of that binary.
#pragma once

#include <optional>
#include <string>

namespace pocketlm::cli {

// Prints `prompt` and reads one line without its newline. nullopt at end of input, or when a
// signal (Ctrl-C) interrupted the read.
std::optional<std::string> read_line(const char* prompt);
// Adds a sent message to the history (nothing without line editing).
void remember_line(const std::string& line);

}  // namespace pocketlm::cli
