#include "store/modelfile.h"

#include <algorithm>
#include <cctype>

namespace pocketlm::store {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

// Cursor over the text; reads one instruction's argument, which may span lines when
// triple-quoted.
struct reader {
  std::string_view text;
  size_t pos = 0;
  int line = 1;

  std::string_view next_line() {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view l = text.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line;
    return l;
  }

  // `rest` is what followed the instruction on its line.
  result<std::string> argument(std::string_view rest, int at) {
    rest = trim(rest);
    if (rest.starts_with("\"\"\"")) {
      std::string out(rest.substr(3));
      bool first = out.empty();  // `"""` alone ends its line: the text starts on the next one
      for (;;) {
        if (const size_t close = out.find("\"\"\""); close != std::string::npos) {
          if (!trim(std::string_view(out).substr(close + 3)).empty()) break;
          out.resize(close);
          return out;
        }
        if (pos >= text.size()) break;
        if (!first) out += "\n";
        first = false;
        out += next_line();
      }
      return error{"Modelfile line " + std::to_string(at) + ": unterminated \"\"\""};
    }
    if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"')
      return std::string(rest.substr(1, rest.size() - 2));
    return std::string(rest);
  }
};

status apply(modelfile& mf, const std::string& instr, std::string arg, int at) {
  const auto fail = [&](const std::string& why) { return error{"Modelfile line " + std::to_string(at) + ": " + why}; };
  if (instr == "FROM") {
    if (arg.empty()) return fail("FROM needs a model name or .gguf path");
    mf.from = std::move(arg);
  } else if (instr == "PARAMETER") {
    const std::string_view a = arg;
    const size_t sp = a.find_first_of(" \t");
    if (sp == std::string_view::npos) return fail("PARAMETER needs a name and a value");
    std::string value(trim(a.substr(sp)));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    mf.parameters.emplace_back(std::string(a.substr(0, sp)), std::move(value));
  } else if (instr == "SYSTEM") {
    mf.system = std::move(arg);
  } else if (instr == "LICENSE") {
    mf.licenses.push_back(std::move(arg));
  } else if (instr == "TEMPLATE") {
    mf.has_template = true;
  } else if (instr == "MESSAGE" || instr == "ADAPTER" || instr == "REQUIRES" || instr == "RENDERER" ||
             instr == "PARSER") {
    return fail(instr + " is not supported by pocketlm");
  } else {
    return fail("unknown instruction '" + instr + "'");
  }
  return {};
}

}  // namespace

result<modelfile> parse_modelfile(std::string_view text) {
  modelfile mf;
  reader r{text};
  while (r.pos < text.size()) {
    const int at = r.line;
    const std::string_view l = trim(r.next_line());
    if (l.empty() || l.front() == '#') continue;
    const size_t sp = l.find_first_of(" \t");
    const std::string instr = upper(l.substr(0, sp));
    auto arg = r.argument(sp == std::string_view::npos ? std::string_view{} : l.substr(sp), at);
    if (!arg) return arg.err();
    if (auto st = apply(mf, instr, std::move(*arg), at); !st) return error{st.error_message()};
  }
  if (mf.from.empty()) return error{"Modelfile has no FROM line"};
  return mf;
}

}  // namespace pocketlm::store
