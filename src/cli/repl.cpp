// The interactive chat loop of `pocketlm run`, with Ollama's slash commands.
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>

#include "cli/chat_repl.h"
#include "cli/line_input.h"

namespace pocketlm::cli {

namespace {

constexpr const char* k_help =
    "Available commands:\n"
    "  /set parameter NAME VALUE   temperature, top_k, top_p, min_p, repeat_penalty,\n"
    "                              repeat_last_n, presence_penalty, frequency_penalty,\n"
    "                              seed, num_predict, stop\n"
    "  /set system TEXT            set the system prompt\n"
    "  /set think | /set nothink   turn reasoning on or off (Qwen3)\n"
    "  /clear                      forget the conversation\n"
    "  /bye                        exit\n"
    "Use \"\"\" to begin and end a multi-line message.\n";

// Applies `/set parameter NAME VALUE`; returns an error message or "".
std::string set_parameter(run_args& a, const std::string& name, const std::string& value) {
  auto& s = a.gen.sampling;
  try {
    if (name == "temperature")
      s.temperature = std::stof(value);
    else if (name == "top_k")
      s.top_k = std::stoi(value);
    else if (name == "top_p")
      s.top_p = std::stof(value);
    else if (name == "min_p")
      s.min_p = std::stof(value);
    else if (name == "repeat_penalty")
      s.repeat_penalty = std::stof(value);
    else if (name == "repeat_last_n")
      s.repeat_last_n = std::stoi(value);
    else if (name == "presence_penalty")
      s.presence_penalty = std::stof(value);
    else if (name == "frequency_penalty")
      s.frequency_penalty = std::stof(value);
    else if (name == "seed")
      s.seed = std::stoull(value);
    else if (name == "num_predict")
      a.gen.n_predict = std::stoi(value);
    else if (name == "stop")
      a.gen.stop.push_back(value);
    else
      return "unknown parameter '" + name + "'";
  } catch (const std::exception&) {
    return "invalid value '" + value + "' for " + name;
  }
  return "";
}

// Handles a line starting with '/'; returns false when the session should end.
bool handle_command(chat_model& cm, run_args& a, const std::string& line) {
  std::istringstream in(line);
  std::string cmd, what;
  in >> cmd >> what;
  if (cmd == "/bye") return false;
  if (cmd == "/clear") {
    cm.chat->clear();
    std::printf("Cleared session context\n");
  } else if (cmd == "/set" && what == "parameter") {
    std::string name, value;
    in >> name;
    std::getline(in >> std::ws, value);
    const std::string err = set_parameter(a, name, value);
    std::printf("%s\n", err.empty() ? ("Set parameter '" + name + "' to '" + value + "'").c_str() : err.c_str());
  } else if (cmd == "/set" && what == "system") {
    std::string text;
    std::getline(in >> std::ws, text);
    cm.chat->set_system(text);
    std::printf("Set system message.\n");
  } else if (cmd == "/set" && (what == "think" || what == "nothink")) {
    cm.chat->set_thinking(what == "think");
    std::printf("Set '%s' mode.\n", what.c_str());
  } else {
    std::printf("%s", k_help);
  }
  return true;
}

// Reads one message; """ starts and ends a multi-line one. Returns false at end of input.
bool read_message(std::string& out, bool& interrupted_at_prompt, std::atomic<bool>& interrupted) {
  out.clear();
  bool multi = false;
  for (;;) {
    interrupted.store(false);
    auto typed = read_line(multi ? "... " : ">>> ");
    if (!typed) {
      interrupted_at_prompt = interrupted.load();
      return false;
    }
    std::string line = std::move(*typed);
    if (!multi && line.rfind("\"\"\"", 0) == 0) {
      multi = true;
      line.erase(0, 3);
    } else if (multi && line.size() >= 3 && line.compare(line.size() - 3, 3, "\"\"\"") == 0) {
      out += line.substr(0, line.size() - 3);
      return true;
    }
    if (!multi) {
      out = line;
      return true;
    }
    out += line + "\n";
  }
}

}  // namespace

int interactive_loop(chat_model& cm, run_args& a) {
  for (;;) {
    std::string msg;
    bool interrupted_at_prompt = false;
    if (!read_message(msg, interrupted_at_prompt, chat_interrupt_flag())) {
      if (interrupted_at_prompt) {
        std::printf("\nUse Ctrl + d or /bye to exit.\n");
        continue;
      }
      std::printf("\n");
      return 0;
    }
    if (msg.find_first_not_of(" \t\n") == std::string::npos) continue;
    remember_line(msg);
    if (msg[0] == '/') {
      if (!handle_command(cm, a, msg)) return 0;
      continue;
    }
    answer_once(cm, a, msg);
    std::printf("\n");
  }
}

}  // namespace pocketlm::cli
