// Anthropic's Messages API (POST /v1/messages, /v1/messages/count_tokens): system, messages with
// text, tool_use and tool_result blocks, stop reasons, streaming events, thinking, tools. The
// request is translated into the chat messages, tools and tool choice the OpenAI route builds
// (the same template fields and output plan), and the reply's parts into content blocks.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>

#include "server/routes.h"

namespace pocketlm::server {

namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void invalid(const std::string& field, const std::string& message) {
  throw api_error(400, field + ": " + message, field);
}

bool present(const ojson& o, const char* key) { return o.contains(key) && !o.at(key).is_null(); }

std::string string_at(const ojson& o, const char* key, const std::string& at) {
  if (!o.contains(key) || !o.at(key).is_string()) invalid(at + "." + key, "Input should be a valid string");
  return o.at(key).get<std::string>();
}

std::optional<double> number_in(const ojson& body, const char* key, double lo, double hi) {
  if (!present(body, key)) return std::nullopt;
  const ojson& v = body.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>())) invalid(key, "Input should be a valid number");
  const double d = v.get<double>();
  if (d < lo || d > hi) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "Input should be between %g and %g, got %g", lo, hi, d);
    invalid(key, buf);
  }
  return d;
}

// An integer (JavaScript clients may send 5 as 5.0) of at least `lo`, saturated at INT_MAX.
int integer_at_least(const ojson& body, const char* key, int lo) {
  const ojson& v = body.at(key);
  if (!v.is_number() || std::floor(v.get<double>()) != v.get<double>()) {
    invalid(key, "Input should be a valid integer");
  }
  const double d = v.get<double>();
  if (d < lo) invalid(key, "Input should be greater than or equal to " + std::to_string(lo));
  return d > INT_MAX ? INT_MAX : static_cast<int>(d);
}

[[noreturn]] void unsupported_media(const std::string& type, const std::string& at) {
  throw api_error(
      400, at + ": " + (type == "image" ? "images are" : "documents are") + " not supported by pocketlm's text models",
      at);
}

// A string, or an array of text blocks (system, tool_result content), joined by newlines.
std::string text_of(const ojson& v, const std::string& at) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) invalid(at, "Input should be a valid string or a list of text blocks");
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string bat = at + "." + std::to_string(i);
    const std::string type = v[i].is_object() ? v[i].value("type", "") : "";
    if (type == "image" || type == "document") unsupported_media(type, bat);
    if (type != "text") invalid(bat + ".type", "only text blocks are supported here");
    if (!out.empty()) out += '\n';
    out += string_at(v[i], "text", bat);
  }
  return out;
}

// One Anthropic message's blocks as OpenAI chat messages, appended to `out`: an assistant's
// text, thinking and tool_use blocks become one message with reasoning_content and tool_calls;
// a user's tool_result blocks become role "tool" messages (in order, text between them a user
// message; is_error prefixes the content with "Error: "). `names` maps tool_use ids to their
// tools' names, for the tool messages.
void add_blocks(const std::string& role, const ojson& blocks, const std::string& at, ojson& out,
                std::map<std::string, std::string>& names) {
  std::string text, reasoning;
  ojson calls = ojson::array();
  bool pushed = false;
  const auto flush_text = [&] {
    if (text.empty()) return;
    out.push_back({{"role", "user"}, {"content", std::move(text)}});
    text.clear();
    pushed = true;
  };
  for (size_t j = 0; j < blocks.size(); ++j) {
    const std::string bat = at + "." + std::to_string(j);
    const ojson& b = blocks[j];
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string()) invalid(bat + ".type", "Field required");
    const std::string type = b["type"].get<std::string>();
    const bool user = role == "user";
    if (type == "text") {
      if (!text.empty()) text += '\n';
      text += string_at(b, "text", bat);
    } else if (type == "image" || type == "document") {
      unsupported_media(type, bat);
    } else if (type == "tool_use" && !user) {
      const std::string id = string_at(b, "id", bat), name = string_at(b, "name", bat);
      const ojson input = b.value("input", ojson::object());
      if (!input.is_object()) invalid(bat + ".input", "Input should be a valid dictionary");
      calls.push_back({{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", input}}}});
      names[id] = name;
    } else if (type == "tool_result" && user) {
      flush_text();
      const std::string id = string_at(b, "tool_use_id", bat);
      std::string content = present(b, "content") ? text_of(b["content"], bat + ".content") : "";
      if (present(b, "is_error")) {
        if (!b["is_error"].is_boolean()) invalid(bat + ".is_error", "Input should be a valid boolean");
        if (b["is_error"].get<bool>()) content = content.empty() ? "Error" : "Error: " + content;
      }
      ojson m = {{"role", "tool"}, {"tool_call_id", id}, {"content", std::move(content)}};
      if (const auto it = names.find(id); it != names.end()) m["name"] = it->second;
      out.push_back(std::move(m));
      pushed = true;
    } else if (type == "thinking" && !user) {
      reasoning += string_at(b, "thinking", bat);
    } else if (type != "redacted_thinking" || user) {
      invalid(bat + ".type", "content block type '" + type + "' is not supported in a " + role + " message");
    }
  }
  if (role == "user") {
    if (!text.empty() || !pushed) out.push_back({{"role", "user"}, {"content", std::move(text)}});
    return;
  }
  ojson m = {{"role", "assistant"}, {"content", std::move(text)}};
  if (!reasoning.empty()) m["reasoning_content"] = std::move(reasoning);
  if (!calls.empty()) m["tool_calls"] = std::move(calls);
  out.push_back(std::move(m));
}

ojson chat_messages(const ojson& body) {
  ojson out = ojson::array();
  if (present(body, "system")) {
    const std::string prompt = text_of(body["system"], "system");
    if (!prompt.empty()) out.push_back({{"role", "system"}, {"content", prompt}});
  }
  if (!present(body, "messages")) invalid("messages", "Field required");
  const ojson& messages = body["messages"];
  if (!messages.is_array()) invalid("messages", "Input should be a valid list");
  if (messages.empty()) invalid("messages", "at least one message is required");
  std::map<std::string, std::string> names;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string at = "messages." + std::to_string(i);
    const ojson& m = messages[i];
    if (!m.is_object()) invalid(at, "Input should be a valid dictionary");
    const std::string role = m.value("role", ojson()).is_string() ? m["role"].get<std::string>() : "";
    if (role != "user" && role != "assistant") {
      invalid(at + ".role", role == "system" ? "a system prompt goes in the top-level 'system' field"
                                             : "Input should be 'user' or 'assistant'");
    }
    if (!m.contains("content")) invalid(at + ".content", "Field required");
    const ojson& content = m["content"];
    if (content.is_string()) {
      out.push_back({{"role", role}, {"content", content}});
    } else if (content.is_array()) {
      add_blocks(role, content, at + ".content", out, names);
    } else {
      invalid(at + ".content", "Input should be a valid string or a list of content blocks");
    }
  }
  if (messages.back().value("role", "") == "assistant") {
    invalid("messages", "a final assistant message (prefilling the reply) is not supported");
  }
  return out;
}

// tools and tool_choice in OpenAI's shape, into `oai`.
void add_tools(const ojson& body, ojson& oai) {
  if (present(body, "tools")) {
    const ojson& tools = body["tools"];
    if (!tools.is_array()) invalid("tools", "Input should be a valid list");
    ojson out = ojson::array();
    for (size_t i = 0; i < tools.size(); ++i) {
      const std::string at = "tools." + std::to_string(i);
      const ojson& t = tools[i];
      if (!t.is_object()) invalid(at, "Input should be a valid dictionary");
      if (present(t, "type") && t["type"] != "custom") {
        invalid(at + ".type", "tool type " + t["type"].dump() + " is not supported (only tools with an input_schema)");
      }
      ojson fn = {{"name", string_at(t, "name", at)}};
      if (present(t, "description")) fn["description"] = string_at(t, "description", at);
      if (!t.contains("input_schema") || !t["input_schema"].is_object()) {
        invalid(at + ".input_schema", "Input should be a JSON Schema object");
      }
      fn["parameters"] = t["input_schema"];
      out.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    if (!out.empty()) oai["tools"] = std::move(out);
  }
  if (!present(body, "tool_choice")) return;
  const ojson& c = body["tool_choice"];
  const std::string type = c.is_object() && c.value("type", ojson()).is_string() ? c["type"].get<std::string>() : "";
  if (type == "auto" || type == "none") {
    if (oai.contains("tools")) oai["tool_choice"] = type;
  } else if (type == "any") {
    oai["tool_choice"] = "required";
  } else if (type == "tool") {
    oai["tool_choice"] = {{"type", "function"}, {"function", {{"name", string_at(c, "name", "tool_choice")}}}};
  } else {
    invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
  }
  if (present(c, "disable_parallel_tool_use")) {
    if (!c["disable_parallel_tool_use"].is_boolean()) {
      invalid("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean");
    }
    oai["parallel_tool_calls"] = !c["disable_parallel_tool_use"].get<bool>();
  }
}

// thinking: enabled is on, disabled off; adaptive (and absent) leave it to the model's template.
std::optional<bool> thinking_of(const ojson& body) {
  if (!present(body, "thinking")) return std::nullopt;
  const ojson& t = body["thinking"];
  const std::string type = t.is_object() && t.value("type", ojson()).is_string() ? t["type"].get<std::string>() : "";
  if (type == "enabled") {
    if (!present(t, "budget_tokens")) invalid("thinking.budget_tokens", "Field required");
    integer_at_least(t, "budget_tokens", 1);  // checked; reasoning has no separate budget here
    return true;
  }
  if (type == "disabled") return false;
  if (type == "adaptive") return std::nullopt;
  invalid("thinking.type", "Input should be 'enabled', 'disabled' or 'adaptive'");
}

struct messages_request {
  std::string model;
  bool stream = false;
  std::vector<chat::message> messages;
  std::string chat_body;           // the request as an OpenAI chat body (messages, tools), for the template
  json sampling = json::object();  // temperature, top_p, max_tokens in OpenAI's fields
  std::optional<int> top_k;
  std::optional<bool> think;
  std::vector<std::string> stop_sequences;
  output_request output;

  prompt_spec spec() const {
    prompt_spec s;
    s.messages = messages;
    s.think = think;
    add_template_fields(s, chat_body);  // tool calls, tool results, tools
    return s;
  }
  void apply(gen_params& g) const {
    apply_openai_sampling(sampling, g);
    if (top_k) g.sampling.top_k = *top_k;
    if (!stop_sequences.empty()) g.stop = stop_sequences;  // generation says which one ended it
  }
};

// The whole request, checked before any model loads. count_tokens needs no max_tokens.
messages_request parse_messages_request(const std::string& raw, bool count_only) {
  const json checked = parse_body(raw);  // 400 for malformed JSON or a non-object
  const ojson body = ojson::parse(raw);  // key order kept: tool schemas generate in their order
  messages_request r;
  r.model = require_model(checked);
  if (!count_only) {
    if (!present(body, "max_tokens")) invalid("max_tokens", "Field required");
    r.sampling["max_tokens"] = integer_at_least(body, "max_tokens", 1);
    r.stream = bool_field(checked, "stream", false);
  }
  if (const auto t = number_in(body, "temperature", 0, 1)) r.sampling["temperature"] = *t;
  if (const auto p = number_in(body, "top_p", 0, 1)) r.sampling["top_p"] = *p;
  if (present(body, "top_k")) r.top_k = integer_at_least(body, "top_k", 0);
  if (present(body, "stop_sequences")) {
    const ojson& s = body["stop_sequences"];
    if (!s.is_array()) invalid("stop_sequences", "Input should be a valid list of strings");
    for (const ojson& v : s) {
      if (!v.is_string()) invalid("stop_sequences", "Input should be a valid list of strings");
      if (!v.get<std::string>().empty()) r.stop_sequences.push_back(v.get<std::string>());
    }
  }
  r.think = thinking_of(body);
  ojson oai = {{"model", r.model}, {"messages", chat_messages(body)}};
  add_tools(body, oai);
  r.chat_body = oai.dump();
  r.messages = parse_openai_messages(json::parse(r.chat_body)["messages"]);
  r.output = parse_openai_output(r.chat_body);
  return r;
}

// "toolu_" ids as Anthropic writes them; an id the model wrote itself (Mistral's, which its
// template checks when the call comes back) stays as it is.
std::string tool_use_id(const std::string& id) { return id.rfind("call_", 0) == 0 ? "toolu_" + id.substr(5) : id; }

// The reply's content blocks as generation produces them, each change also reported to `emit`
// as a streaming event (which returns false once the client is gone).
class reply_builder {
 public:
  using emitter = std::function<bool(const char* event, const ojson& data)>;
  explicit reply_builder(emitter emit) : emit_(std::move(emit)) {}

  completion_sinks sinks() {
    return {[this](std::string_view t) { return reasoning(t); }, [this](std::string_view t) { return answer(t); },
            [this](const chat::tool_call_delta& d) { return tool_call(d); }};
  }
  // After generation: the open block closes.
  void finish() { close(); }
  bool has_tool_use() const {
    return std::any_of(blocks_.begin(), blocks_.end(), [](const block& b) { return b.kind == block_kind::tool_use; });
  }
  ojson content() const {
    ojson out = ojson::array();
    for (const block& b : blocks_) {
      if (b.kind == block_kind::thinking) {
        out.push_back({{"type", "thinking"}, {"thinking", b.text}, {"signature", ""}});
      } else if (b.kind == block_kind::text) {
        out.push_back({{"type", "text"}, {"text", b.text}});
      } else {
        ojson input = b.text.empty() ? ojson::object() : ojson::parse(b.text, nullptr, false);
        if (!input.is_object()) input = ojson::object();
        out.push_back({{"type", "tool_use"}, {"id", b.id}, {"name", b.name}, {"input", std::move(input)}});
      }
    }
    return out;
  }

 private:
  enum class block_kind { none, thinking, text, tool_use };
  struct block {
    block_kind kind = block_kind::none;
    std::string text;  // thinking, text, or a tool_use's input as JSON text
    std::string id, name;
  };

  bool done() const { return !alive_; }
  bool emit(const char* event, const ojson& data) { return alive_ = alive_ && emit_(event, data); }
  void open(block_kind k, ojson start, std::string id = {}, std::string name = {}) {
    close();
    blocks_.push_back({k, "", std::move(id), std::move(name)});
    open_ = k;
    emit("content_block_start",
         {{"type", "content_block_start"}, {"index", blocks_.size() - 1}, {"content_block", std::move(start)}});
  }
  void close() {
    if (open_ == block_kind::none) return;
    open_ = block_kind::none;
    emit("content_block_stop", {{"type", "content_block_stop"}, {"index", blocks_.size() - 1}});
  }
  void delta(const char* type, const char* field, std::string_view t) {
    blocks_.back().text += t;
    emit("content_block_delta", {{"type", "content_block_delta"},
                                 {"index", blocks_.size() - 1},
                                 {"delta", {{"type", type}, {field, std::string(t)}}}});
  }
  void text(const std::string& t) {
    if (t.empty()) return;
    if (open_ != block_kind::text) open(block_kind::text, {{"type", "text"}, {"text", ""}});
    delta("text_delta", "text", t);
  }
  bool reasoning(std::string_view t) {
    if (done()) return false;
    if (open_ != block_kind::thinking)
      open(block_kind::thinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
    delta("thinking_delta", "thinking", t);
    return !done();
  }
  bool answer(std::string_view t) {
    if (done()) return false;
    text(std::string(t));
    return !done();
  }
  bool tool_call(const chat::tool_call_delta& d) {
    if (done()) return false;
    if (!d.id.empty()) {
      const std::string id = tool_use_id(d.id);
      open(block_kind::tool_use, {{"type", "tool_use"}, {"id", id}, {"name", d.name}, {"input", ojson::object()}}, id,
           d.name);
    }
    if (open_ == block_kind::tool_use && !d.arguments_fragment.empty()) {
      delta("input_json_delta", "partial_json", d.arguments_fragment);
    }
    return !done();
  }

  emitter emit_;
  bool alive_ = true;
  std::vector<block> blocks_;
  block_kind open_ = block_kind::none;
};

const char* stop_reason_of(const reply_builder& b, const completion_result& out) {
  if (!out.stats.stop_word.empty()) return "stop_sequence";
  if (b.has_tool_use()) return "tool_use";
  return out.finish == finish_reason::length ? "max_tokens" : "end_turn";
}

ojson stop_sequence_of(const completion_result& out) {
  return out.stats.stop_word.empty() ? ojson(nullptr) : ojson(out.stats.stop_word);
}

ojson message_shell(const std::string& id, const std::string& model) {
  return {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model}, {"content", ojson::array()}};
}

template <typename J>
std::string sse_event(const char* name, const J& data) {
  return std::string("event: ") + name + "\ndata: " + data.dump(-1, ' ', false, J::error_handler_t::replace) + "\n\n";
}

void stream_messages(httplib::Response& res, server_context& ctx, std::shared_ptr<generation_job> job,
                     const messages_request& r, const std::string& id) {
  stream_response(
      res, "text/event-stream",
      [&ctx, job, id, model = r.model](const chunk_writer& write) {
        const auto event = [&write](const char* name, const ojson& data) { return write(sse_event(name, data)); };
        ojson start = message_shell(id, model);
        start["stop_reason"] = nullptr;
        start["stop_sequence"] = nullptr;
        start["usage"] = {{"input_tokens", job->prompt.tokens.size()}, {"output_tokens", 0}};
        if (!event("message_start", {{"type", "message_start"}, {"message", std::move(start)}})) return;
        if (!event("ping", {{"type", "ping"}})) return;
        reply_builder b(event);
        const completion_result out =
            run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, b.sinks(), &job->output);
        note_finish(ctx, out);
        if (out.finish == finish_reason::cancel) return;  // the client left
        b.finish();
        event("message_delta",
              {{"type", "message_delta"},
               {"delta", {{"stop_reason", stop_reason_of(b, out)}, {"stop_sequence", stop_sequence_of(out)}}},
               {"usage", {{"output_tokens", out.stats.n_generated}}}});
        event("message_stop", {{"type", "message_stop"}});
      },
      [](const std::string& message) { return sse_event("error", anthropic_error_body(api_error(500, message))); });
}

void create_message(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const messages_request r = parse_messages_request(req.body, false);
  auto job = start_job(
      ctx, r.model, std::nullopt, [&](const loaded_model&) { return r.spec(); }, [&](gen_params& g) { r.apply(g); },
      &r.output);
  const std::string id = "msg_" + chat::new_tool_call_id().substr(5);
  if (r.stream) {
    stream_messages(res, ctx, job, r, id);
    return;
  }
  reply_builder b([&ctx](const char*, const ojson&) { return ctx.client_alive(); });
  const completion_result out =
      run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, b.sinks(), &job->output);
  note_finish(ctx, out);
  b.finish();
  ojson body = message_shell(id, r.model);
  body["content"] = b.content();
  body["stop_reason"] = stop_reason_of(b, out);
  body["stop_sequence"] = stop_sequence_of(out);
  body["usage"] = {{"input_tokens", out.stats.n_prompt}, {"output_tokens", out.stats.n_generated}};
  res.set_content(body.dump(-1, ' ', false, ojson::error_handler_t::replace), "application/json");
}

// The prompt's length as the model's template renders it (tools included); no slot is taken.
void count_tokens(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const messages_request r = parse_messages_request(req.body, true);
  model_lease lease = ctx.models.acquire(r.model, std::nullopt);
  const prepared_prompt p = render_prompt(lease.get(), r.spec());
  send_json(res, {{"input_tokens", p.tokens.size()}});
}

}  // namespace

void register_anthropic_routes(httplib::Server& svr, server_context& ctx) {
  const auto route = [&ctx](void (*fn)(const httplib::Request&, httplib::Response&, server_context&)) {
    return [&ctx, fn](const httplib::Request& req, httplib::Response& res) {
      ctx.counters.requests.fetch_add(1);
      guarded(res, flavor::anthropic, [&] { fn(req, res, ctx); });
    };
  };
  svr.Post("/v1/messages", route(create_message));
  svr.Post("/v1/messages/count_tokens", route(count_tokens));
}

}  // namespace pocketlm::server
