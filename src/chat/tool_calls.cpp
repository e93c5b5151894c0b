#include "chat/tool_calls.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

#include "chat/jinja/pytext.h"
#include "chat/tool_markup.h"

namespace pocketlm::chat {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view space_chars = " \t\n\r";

std::string_view trim(std::string_view s) {
  const size_t from = s.find_first_not_of(space_chars);
  if (from == std::string_view::npos) return {};
  return s.substr(from, s.find_last_not_of(space_chars) + 1 - from);
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The end (one past the closing bracket) of the JSON object or array starting at s[0], or npos
// while it is still open. Brackets inside strings do not count; mismatches are for the JSON
// parser to reject.
size_t json_end(std::string_view s) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

ojson parse_json(std::string_view text) { return ojson::parse(text.begin(), text.end(), nullptr, false); }

std::string compact(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

struct parsed_call {
  std::string name, arguments, id;
};

// Arguments as compact object text: an object, or a string holding one (some models write the
// arguments JSON-encoded, as OpenAI's API does).
std::optional<std::string> arguments_of(const ojson& a) {
  if (a.is_object()) return compact(a);
  if (a.is_string()) {
    const ojson inner = parse_json(a.get_ref<const std::string&>());
    if (inner.is_object()) return compact(inner);
  }
  return std::nullopt;
}

// {"name", "arguments" | "parameters", "id"?}, or OpenAI's {"type", "function": {...}}. Without
// arguments_required a missing "arguments" means none ({}).
std::optional<parsed_call> call_of(const ojson& j, bool arguments_required) {
  if (!j.is_object()) return std::nullopt;
  const ojson& f = j.contains("function") && j["function"].is_object() ? j["function"] : j;
  if (!f.contains("name") || !f["name"].is_string() || f["name"].get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  parsed_call c;
  c.name = f["name"].get<std::string>();
  const char* key = f.contains("arguments") ? "arguments" : f.contains("parameters") ? "parameters" : nullptr;
  if (key) {
    auto args = arguments_of(f[key]);
    if (!args) return std::nullopt;
    c.arguments = std::move(*args);
  } else if (arguments_required) {
    return std::nullopt;
  } else {
    c.arguments = "{}";
  }
  if (j.contains("id") && j["id"].is_string()) c.id = j["id"].get<std::string>();
  return c;
}

// What the text at a marker turned out to be.
struct scan {
  enum class state { incomplete, markup, not_a_call } st = state::incomplete;
  size_t consumed = 0;  // bytes of the text the markup (or the non-call) spans
  std::vector<parsed_call> calls;
  std::string content;  // generic: the response text
};

scan incomplete() { return {}; }
scan not_a_call(size_t consumed) { return {scan::state::not_a_call, consumed, {}, {}}; }
scan markup_of(size_t consumed, std::vector<parsed_call> calls) {
  return {scan::state::markup, consumed, std::move(calls), {}};
}

// One call object in `body`, as a markup scan spanning `consumed` bytes.
scan one_call(std::string_view body, size_t consumed, bool arguments_required) {
  auto c = call_of(parse_json(body), arguments_required);
  if (!c) return not_a_call(consumed);
  return markup_of(consumed, {std::move(*c)});
}

// "<tool_call>" JSON "</tool_call>", found by the JSON's end (a string may hold "</tool_call>");
// the closing tag may be missing. JSON that never closes is decided at the end of the answer.
scan scan_hermes(std::string_view s, bool at_end) {
  const size_t from = s.find_first_not_of(space_chars, hermes_open.size());
  if (from == std::string_view::npos) return at_end ? not_a_call(s.size()) : incomplete();
  if (s[from] != '{') return not_a_call(hermes_open.size());
  const size_t end = json_end(s.substr(from));
  if (end == std::string_view::npos) return at_end ? not_a_call(s.size()) : incomplete();
  size_t consumed = from + end;
  const size_t after = std::min(s.find_first_not_of(space_chars, consumed), s.size());
  const std::string_view rest = s.substr(after);
  if (rest.starts_with(hermes_close)) {
    consumed = after + hermes_close.size();
  } else if (!at_end && hermes_close.starts_with(rest)) {
    return incomplete();  // the closing tag may be on its way
  }
  return one_call(s.substr(from, end), consumed, false);
}

// A JSON call object starting at s[from] (Llama 3: "parameters", or "arguments").
scan scan_json_call(std::string_view s, size_t from) {
  const size_t end = json_end(s.substr(from));
  if (end == std::string_view::npos) return incomplete();
  return one_call(s.substr(from, end), from + end, true);
}

// "<|python_tag|>" then a JSON call; anything else there (a builtin tool's name.call(...), code)
// is held to the end of the answer and kept as it is.
scan scan_python_tag(std::string_view s, bool at_end) {
  const size_t from = s.find_first_not_of(space_chars, llama_python_tag.size());
  if (from != std::string_view::npos && s[from] == '{') return scan_json_call(s, from);
  return at_end ? not_a_call(s.size()) : incomplete();
}

bool name_char(char c) { return word_char(c) || c == '-' || c == '.'; }

// "[TOOL_CALLS]" then [{...}, ...] (Nemo), or "[TOOL_CALLS]name[ARGS]{...}" (or with
// "[CALL_ID]id" before "[ARGS]").
scan scan_mistral(std::string_view s) {
  const size_t from = s.find_first_not_of(space_chars, mistral_open.size());
  if (from == std::string_view::npos) return incomplete();
  if (s[from] == '[' || s[from] == '{') {
    const size_t end = json_end(s.substr(from));
    if (end == std::string_view::npos) return incomplete();
    const ojson j = parse_json(s.substr(from, end));
    std::vector<parsed_call> calls;
    for (const ojson& e : j.is_array() ? j : ojson::array({j})) {
      auto c = call_of(e, false);
      if (!c) return not_a_call(from + end);
      calls.push_back(std::move(*c));
    }
    if (calls.empty()) return not_a_call(from + end);
    return markup_of(from + end, std::move(calls));
  }
  const size_t args = s.find(mistral_args, from);
  const std::string_view head = s.substr(from, args == std::string_view::npos ? std::string_view::npos : args - from);
  const std::string_view name = head.substr(0, head.find('['));
  if (name.empty() || !std::all_of(name.begin(), name.end(), name_char)) return not_a_call(from);
  if (args == std::string_view::npos) return incomplete();
  const size_t body = s.find_first_not_of(space_chars, args + mistral_args.size());
  if (body == std::string_view::npos) return incomplete();
  if (s[body] != '{') return not_a_call(body);
  const size_t end = json_end(s.substr(body));
  if (end == std::string_view::npos) return incomplete();
  auto arguments = arguments_of(parse_json(s.substr(body, end)));
  if (!arguments) return not_a_call(body + end);
  parsed_call c{std::string(name), std::move(*arguments), {}};
  if (const size_t id = head.find(mistral_call_id); id != std::string_view::npos) {
    c.id = std::string(trim(head.substr(id + mistral_call_id.size())));
  }
  return markup_of(body + end, {std::move(c)});
}

// The body between "<｜tool▁call▁begin｜>" and "<｜tool▁call▁end｜>": R1's
// "function<｜tool▁sep｜>NAME\n```json\n{...}\n```" or V3.1's "NAME<｜tool▁sep｜>{...}".
std::optional<parsed_call> deepseek_call_of(std::string_view body) {
  const size_t sep = body.find(deepseek_sep);
  if (sep == std::string_view::npos) return std::nullopt;
  std::string_view name = body.substr(0, sep), args = body.substr(sep + deepseek_sep.size());
  if (const size_t open = args.find(deepseek_json_fence); open != std::string_view::npos) {
    name = args.substr(0, open);
    args = args.substr(open + deepseek_json_fence.size());
    const size_t close = args.rfind(deepseek_fence);
    if (close != std::string_view::npos) args = args.substr(0, close);
  }
  name = trim(name);
  auto arguments = arguments_of(parse_json(trim(args)));
  if (name.empty() || !arguments) return std::nullopt;
  return parsed_call{std::string(name), std::move(*arguments), {}};
}

scan scan_deepseek_call(std::string_view s, bool at_end) {
  const size_t close = s.find(deepseek_call_end, deepseek_call_begin.size());
  if (close == std::string_view::npos && !at_end) return incomplete();
  const size_t body_end = close == std::string_view::npos ? s.size() : close;
  const size_t consumed = close == std::string_view::npos ? s.size() : close + deepseek_call_end.size();
  auto c = deepseek_call_of(s.substr(deepseek_call_begin.size(), body_end - deepseek_call_begin.size()));
  if (!c) return not_a_call(consumed);
  return markup_of(consumed, {std::move(*c)});
}

// The whole answer as one JSON object (s starts at its "{").
scan scan_generic(std::string_view s) {
  const size_t end = json_end(s);
  if (end == std::string_view::npos) return incomplete();
  const ojson j = parse_json(s.substr(0, end));
  if (!j.is_object()) return not_a_call(end);
  if (j.contains("response")) {
    const ojson& r = j["response"];
    scan out = markup_of(end, {});
    out.content = r.is_string() ? r.get<std::string>() : compact(r);
    return out;
  }
  std::vector<parsed_call> calls;
  const ojson list = j.contains("tool_calls")  ? j["tool_calls"]
                     : j.contains("tool_call") ? ojson::array({j["tool_call"]})
                                               : ojson::array({j});
  if (!list.is_array() || list.empty()) return not_a_call(end);
  for (const ojson& e : list) {
    auto c = call_of(e, false);
    if (!c) return not_a_call(end);
    calls.push_back(std::move(*c));
  }
  return markup_of(end, std::move(calls));
}

// The length of `{"response": "` (JSON whitespace allowed) at the start of s; 0 when s opens
// something else; npos while s is still a prefix of it.
size_t response_opening(std::string_view s) {
  size_t i = 0;
  for (const std::string_view part : {"{", "\"response\"", ":", "\""}) {
    i = std::min(s.find_first_not_of(space_chars, i), s.size());
    const std::string_view here = s.substr(i, part.size());
    if (!part.starts_with(here)) return 0;
    if (here.size() < part.size()) return std::string_view::npos;
    i += part.size();
  }
  return i;
}

constexpr size_t escape_incomplete = 0;
constexpr size_t escape_invalid = std::string_view::npos;

// Four hex digits at s[at]: the value, -1 while digits are still missing, -2 for a non-digit.
long hex4(std::string_view s, size_t at) {
  long v = 0;
  for (size_t k = 0; k < 4; ++k) {
    if (at + k >= s.size()) return -1;
    const char c = s[at + k];
    if (!std::isxdigit(static_cast<unsigned char>(c))) return -2;
    v = v * 16 + (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10));
  }
  return v;
}

// Decodes the JSON string escape at s[i] (a backslash) onto out; returns its length, escape_incomplete
// while it may still complete, or escape_invalid.
size_t decode_escape(std::string_view s, size_t i, std::string& out) {
  if (i + 1 >= s.size()) return escape_incomplete;
  static constexpr std::string_view from = "\"\\/bfnrt", to = "\"\\/\b\f\n\r\t";
  if (const size_t k = from.find(s[i + 1]); k != std::string_view::npos) {
    out += to[k];
    return 2;
  }
  if (s[i + 1] != 'u') return escape_invalid;
  const long hi = hex4(s, i + 2);
  if (hi < 0) return hi == -1 ? escape_incomplete : escape_invalid;
  if (hi >= 0xDC00 && hi <= 0xDFFF) return escape_invalid;
  if (hi < 0xD800 || hi > 0xDFFF) {
    jinja::detail::utf8_append(out, static_cast<uint32_t>(hi));
    return 6;
  }
  const std::string_view low_mark = s.substr(i + 6, 2);  // a high surrogate: a low one's escape must follow
  if (!std::string_view("\\u").starts_with(low_mark)) return escape_invalid;
  if (low_mark.size() < 2) return escape_incomplete;
  const long lo = hex4(s, i + 8);
  if (lo == -1) return escape_incomplete;
  if (lo < 0xDC00 || lo > 0xDFFF) return escape_invalid;
  jinja::detail::utf8_append(out, static_cast<uint32_t>(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)));
  return 12;
}

// Length of the longest suffix of s that is a proper prefix of what.
size_t partial_suffix(std::string_view s, std::string_view what) {
  for (size_t n = std::min(s.size(), what.size() - 1); n > 0; --n) {
    if (what.starts_with(s.substr(s.size() - n))) return n;
  }
  return 0;
}

}  // namespace

tool_call_parser::tool_call_parser(tool_syntax syntax) : syntax_(std::move(syntax)) {
  switch (syntax_.kind) {
    case tool_syntax_kind::hermes: markers_ = {{hermes_open, markup::hermes}}; break;
    case tool_syntax_kind::llama3_json:
      markers_ = {{llama_open, markup::llama_json}, {llama_python_tag, markup::python_tag}};
      break;
    case tool_syntax_kind::mistral: markers_ = {{mistral_open, markup::mistral}}; break;
    case tool_syntax_kind::deepseek_r1:
      // The list's brackets are dropped; each call inside is reported as it ends.
      markers_ = {{deepseek_calls_begin, markup::drop},
                  {deepseek_call_begin, markup::deepseek_call},
                  {deepseek_calls_end, markup::drop}};
      break;
    case tool_syntax_kind::generic: break;
  }
}

tool_call_parser::output tool_call_parser::push(std::string_view text) {
  pending_ += text;
  output out;
  run(out, false);
  return out;
}

tool_call_parser::output tool_call_parser::finish() {
  output out;
  run(out, true);
  return out;
}

void tool_call_parser::run(output& out, bool at_end) {
  while (in_response_                     ? step_response(out, at_end)
         : (block_ >= 0 || whole_answer_) ? step_block(out, at_end)
                                          : step_text(out, at_end)) {}
}

void tool_call_parser::emit_text(output& out, std::string_view text) { out.content += text; }

void tool_call_parser::add_call(output& out, std::string name, std::string arguments, std::string id) {
  const size_t index = calls_.size();
  if (id.empty()) id = new_tool_call_id();
  out.deltas.push_back({index, id, name, {}});
  out.deltas.push_back({index, {}, {}, arguments});
  calls_.push_back({std::move(id), std::move(name), std::move(arguments)});
}

// Plain text up to the first marker; holds a suffix that may still become one, and trailing
// whitespace (dropped if markup follows). Returns whether a block now starts.
bool tool_call_parser::step_text(output& out, bool at_end) {
  if (syntax_.kind == tool_syntax_kind::generic && !answer_started_) {
    const size_t first = pending_.find_first_not_of(space_chars);
    if (first == std::string::npos) {
      if (at_end) {
        emit_text(out, pending_);
        pending_.clear();
      }
      return false;
    }
    answer_started_ = true;
    if (pending_[first] == '{') {
      lead_space_ = pending_.substr(0, first);
      pending_.erase(0, first);
      whole_answer_ = true;
      return true;
    }
  }
  if (response_end_) {  // the '}' after {"response": "..."
    const size_t first = pending_.find_first_not_of(space_chars);
    if (first == std::string::npos) {
      if (at_end) pending_.clear();
      return false;
    }
    response_end_ = false;
    if (pending_[first] == '}') {
      pending_.erase(0, first + 1);
      after_call_ = true;
      return true;
    }
  }
  if (after_call_) {
    const size_t first = pending_.find_first_not_of(space_chars);
    if (first == std::string::npos) {
      if (at_end) pending_.clear();
      return false;
    }
    after_call_ = false;  // text follows: the whitespace stays (or goes before more markup)
  }
  size_t at = std::string::npos;
  int which = -1;
  for (size_t i = 0; i < markers_.size(); ++i) {
    const size_t pos = pending_.find(markers_[i].text);
    if (pos < at) {
      at = pos;
      which = static_cast<int>(i);
    }
  }
  if (which >= 0) {
    const std::string_view before = std::string_view(pending_).substr(0, at);
    const size_t keep = before.find_last_not_of(space_chars) + 1;  // npos + 1 == 0
    emit_text(out, before.substr(0, keep));
    lead_space_ = std::string(before.substr(keep));
    pending_.erase(0, at);
    block_ = which;
    return true;
  }
  size_t hold = 0;
  if (!at_end) {
    for (const auto& m : markers_) hold = std::max(hold, partial_suffix(pending_, m.text));
    // and the whitespace before it, dropped if that becomes markup
    const size_t last_text = std::string_view(pending_).substr(0, pending_.size() - hold).find_last_not_of(space_chars);
    hold = last_text == std::string::npos ? pending_.size() : pending_.size() - last_text - 1;
  }
  emit_text(out, std::string_view(pending_).substr(0, pending_.size() - hold));
  pending_.erase(0, pending_.size() - hold);
  return false;
}

// The markup at the start of pending_: calls once it is complete, its raw text as content when it
// is no call. Returns whether it was decided.
bool tool_call_parser::step_block(output& out, bool at_end) {
  scan r;
  if (whole_answer_) {
    const size_t opening = response_opening(pending_);
    if (opening == std::string::npos && !at_end) return false;
    if (opening != std::string::npos && opening > 0) {  // {"response": "...: stream the text
      pending_.erase(0, opening);
      lead_space_.clear();
      whole_answer_ = false;
      in_response_ = true;
      return true;
    }
    r = scan_generic(pending_);
  } else {
    switch (markers_[block_].kind) {
      case markup::hermes: r = scan_hermes(pending_, at_end); break;
      case markup::llama_json: r = scan_json_call(pending_, 0); break;
      case markup::python_tag: r = scan_python_tag(pending_, at_end); break;
      case markup::mistral: r = scan_mistral(pending_); break;
      case markup::deepseek_call: r = scan_deepseek_call(pending_, at_end); break;
      case markup::drop: r = markup_of(markers_[block_].text.size(), {}); break;
    }
  }
  if (r.st == scan::state::incomplete) {
    if (!at_end) return false;
    r = not_a_call(pending_.size());  // an unfinished call is text
  }
  if (r.st == scan::state::not_a_call) {
    emit_text(out, lead_space_);
    emit_text(out, std::string_view(pending_).substr(0, r.consumed));
  } else {
    emit_text(out, r.content);
    for (auto& c : r.calls) add_call(out, std::move(c.name), std::move(c.arguments), std::move(c.id));
    after_call_ = true;
  }
  lead_space_.clear();
  pending_.erase(0, r.consumed);
  block_ = -1;
  whole_answer_ = false;
  return true;
}

// The generic answer's response string, decoded as it comes; an escape still incomplete is held.
// After the closing quote step_text drops the object's '}'; invalid JSON text (a bad escape, a
// raw control character) ends the decoding and what follows is content as written.
bool tool_call_parser::step_response(output& out, bool at_end) {
  std::string text;
  size_t i = 0;
  bool closed = false, bad = false;
  while (i < pending_.size()) {
    const unsigned char c = static_cast<unsigned char>(pending_[i]);
    if (c == '"') {
      closed = true;
      ++i;
      break;
    }
    if (c < 0x20) {
      bad = true;
      break;
    }
    if (c != '\\') {
      text += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t n = decode_escape(pending_, i, text);
    if (n == escape_incomplete || n == escape_invalid) {
      bad = n == escape_invalid;
      break;
    }
    i += n;
  }
  emit_text(out, text);
  pending_.erase(0, i);
  if (!closed && !bad && !at_end) return false;
  in_response_ = false;
  response_end_ = closed;
  return true;
}

}  // namespace pocketlm::chat
