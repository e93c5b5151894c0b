// OpenAI's Responses API (POST /v1/responses), stateless. A request is translated into a chat
// completions body (input items as messages, instructions as the system message, text.format as
// response_format, function tools as chat tools, reasoning.effort as reasoning_effort) and runs
// the chat path; the answer comes back as output items (reasoning, message, function_call), or
// streamed as the API's typed events. previous_response_id and conversation need stored state:
// 400s.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string_view>
#include <utility>

#include "server/openai_common.h"
#include "server/requests.h"
#include "server/routes.h"

namespace pocketlm::server {

namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void bad_request(const std::string& message, const std::string& param) {
  throw api_error(400, message, param);
}

bool present(const ojson& o, const char* key) { return o.contains(key) && !o.at(key).is_null(); }

// o[key] as a string: `fallback` when absent or null; a 400 naming `at` when another type.
std::string text_field(const ojson& o, const char* key, const std::string& at, const std::string& fallback = {}) {
  if (!present(o, key)) return fallback;
  if (!o.at(key).is_string()) bad_request("invalid type for '" + at + "': expected a string", at);
  return o.at(key).get<std::string>();
}

// A message's (or a tool output's) content: a string, or text parts (input_text, output_text,
// refusal); images, files and audio are 400s.
std::string content_text(const ojson& content, const std::string& at) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return {};
  if (!content.is_array()) {
    bad_request("invalid type for '" + at + "': expected a string or an array of content parts", at);
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const ojson& part = content[i];
    const std::string pat = at + "[" + std::to_string(i) + "]";
    if (!part.is_object()) bad_request("invalid type for '" + pat + "': expected a content part object", pat);
    const std::string type = text_field(part, "type", pat + ".type");
    if (type != "input_text" && type != "output_text" && type != "text" && type != "refusal") {
      bad_request("'" + pat + "': content parts of type '" + type +
                      "' are not supported (pocketlm's models read text: input_text, output_text)",
                  pat);
    }
    const char* key = type == "refusal" ? "refusal" : "text";
    if (!present(part, key)) bad_request("'" + pat + "." + key + "' is required", pat + "." + key);
    text += text_field(part, key, pat + "." + key);
  }
  return text;
}

// The chat messages that input items become, in order.
struct chat_turns {
  ojson messages = ojson::array();
  std::string reasoning;  // a reasoning item's text, for the assistant turn after it

  // The assistant turn a function_call joins (the last message, when it is the assistant's), or
  // a new one.
  ojson& assistant(bool fresh) {
    if (fresh || messages.empty() || messages.back()["role"] != "assistant") {
      ojson m = {{"role", "assistant"}, {"content", nullptr}};
      if (!reasoning.empty()) m["reasoning_content"] = std::exchange(reasoning, {});
      messages.push_back(std::move(m));
    }
    return messages.back();
  }
};

void add_message(chat_turns& turns, const ojson& item, const std::string& at) {
  std::string role = text_field(item, "role", at + ".role");
  if (role == "developer") role = "system";  // the Responses API's name for system turns
  if (role != "user" && role != "assistant" && role != "system") {
    bad_request("'" + at + ".role' must be 'user', 'assistant', 'system' or 'developer'", at + ".role");
  }
  const std::string text = content_text(item.value("content", ojson()), at + ".content");
  if (role == "assistant")
    turns.assistant(true)["content"] = text;
  else
    turns.messages.push_back({{"role", role}, {"content", text}});
}

void add_call(chat_turns& turns, const ojson& item, const std::string& at) {
  const std::string call_id = text_field(item, "call_id", at + ".call_id");
  const std::string name = text_field(item, "name", at + ".name");
  if (call_id.empty() || name.empty()) bad_request("'" + at + "': a function_call needs 'call_id' and 'name'", at);
  const std::string arguments = text_field(item, "arguments", at + ".arguments", "{}");
  ojson& turn = turns.assistant(false);
  if (!turn.contains("tool_calls")) turn["tool_calls"] = ojson::array();
  turn["tool_calls"].push_back(
      {{"id", call_id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", arguments}}}});
}

void add_call_output(chat_turns& turns, const ojson& item, const std::string& at) {
  const std::string call_id = text_field(item, "call_id", at + ".call_id");
  if (call_id.empty()) bad_request("'" + at + ".call_id' is required", at + ".call_id");
  const std::string output = content_text(item.value("output", ojson()), at + ".output");
  turns.messages.push_back({{"role", "tool"}, {"tool_call_id", call_id}, {"content", output}});
}

// A reasoning item's text (its content, else its summary) goes with the next assistant turn.
void add_reasoning(chat_turns& turns, const ojson& item, const std::string& at) {
  for (const char* key : {"content", "summary"}) {
    if (!present(item, key)) continue;
    if (!item.at(key).is_array()) bad_request("invalid type for '" + at + "." + key + "': expected an array", at);
    std::string text;
    for (const ojson& p : item.at(key)) {
      if (p.is_object() && p.contains("text") && p.at("text").is_string()) text += p.at("text").get<std::string>();
    }
    if (!text.empty()) {
      turns.reasoning += text;
      return;
    }
  }
}

void add_item(chat_turns& turns, const ojson& item, const std::string& at) {
  if (!item.is_object()) bad_request("invalid type for '" + at + "': expected an input item object", at);
  const std::string type = text_field(item, "type", at + ".type");
  if (type.empty() || type == "message")
    add_message(turns, item, at);
  else if (type == "function_call")
    add_call(turns, item, at);
  else if (type == "function_call_output")
    add_call_output(turns, item, at);
  else if (type == "reasoning")
    add_reasoning(turns, item, at);
  else
    bad_request("'" + at + "': input items of type '" + type +
                    "' are not supported (message, function_call, function_call_output and reasoning are)",
                at + ".type");
}

ojson input_messages(const ojson& body) {
  chat_turns turns;
  if (present(body, "instructions")) {
    turns.messages.push_back({{"role", "system"}, {"content", text_field(body, "instructions", "instructions")}});
  }
  if (!present(body, "input")) bad_request("'input' is required", "input");
  const ojson& input = body.at("input");
  if (input.is_string()) {
    turns.messages.push_back({{"role", "user"}, {"content", input.get<std::string>()}});
  } else if (input.is_array()) {
    if (input.empty()) bad_request("'input' must not be empty", "input");
    for (size_t i = 0; i < input.size(); ++i) add_item(turns, input[i], "input[" + std::to_string(i) + "]");
  } else {
    bad_request("invalid type for 'input': expected a string or an array of input items", "input");
  }
  return std::move(turns.messages);
}

// Function tools ({type, name, description, parameters, strict}) as chat tools.
ojson chat_tools(const ojson& tools) {
  if (!tools.is_array()) bad_request("invalid type for 'tools': expected an array", "tools");
  ojson out = ojson::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson& t = tools[i];
    const std::string at = "tools[" + std::to_string(i) + "]";
    if (!t.is_object() || t.value("type", ojson()) != "function") {
      bad_request("'" + at + "': only tools of type 'function' are supported", at);
    }
    ojson fn = ojson::object();
    for (const auto& [k, v] : t.items()) {
      if (k != "type") fn[k] = v;
    }
    out.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  return out;
}

ojson chat_tool_choice(const ojson& c) {
  if (c.is_string()) return c;  // none, auto, required: the chat parser checks which
  if (c.is_object() && c.value("type", ojson()) == "function" && c.contains("name") && c.at("name").is_string()) {
    return {{"type", "function"}, {"function", {{"name", c.at("name")}}}};
  }
  bad_request("tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", \"name\": ...}",
              "tool_choice");
}

// text.format as a chat response_format (null: free text).
ojson chat_format(const ojson& text) {
  if (!text.is_object()) bad_request("invalid type for 'text': expected an object", "text");
  if (!present(text, "format")) return nullptr;
  const ojson& f = text.at("format");
  const std::string type = f.is_object() ? text_field(f, "type", "text.format.type") : "";
  if (type == "text") return nullptr;
  if (type == "json_object") return {{"type", type}};
  if (type == "json_schema") {
    if (!present(f, "schema")) bad_request("text.format of type 'json_schema' needs 'schema'", "text.format");
    ojson js = {{"name", f.value("name", ojson("response"))}, {"schema", f.at("schema")}};
    if (present(f, "strict")) js["strict"] = f.at("strict");
    return {{"type", "json_schema"}, {"json_schema", std::move(js)}};
  }
  bad_request("text.format type must be 'text', 'json_object' or 'json_schema'", "text.format");
}

// The chat completions body that answers a Responses request (key order kept: a schema's
// properties are generated in its order). Fields the Responses API has and chat does not
// (store, include, truncation, metadata, user, ...) change nothing here.
ojson chat_body(const ojson& body) {
  for (const char* key : {"previous_response_id", "conversation"}) {
    if (present(body, key)) {
      bad_request(std::string("'") + key +
                      "' is not supported: pocketlm's /v1/responses is stateless and stores no responses; "
                      "send the whole conversation in 'input'",
                  key);
    }
  }
  if (present(body, "background") && body.at("background") == true) {
    bad_request("background responses are not supported: pocketlm's /v1/responses is stateless", "background");
  }
  if (present(body, "prompt")) bad_request("stored prompts are not supported: send 'input'", "prompt");
  ojson chat = ojson::object();
  for (const char* key : {"model", "stream", "temperature", "top_p", "parallel_tool_calls"}) {
    if (body.contains(key)) chat[key] = body.at(key);
  }
  if (body.contains("max_output_tokens")) chat["max_completion_tokens"] = body.at("max_output_tokens");
  chat["messages"] = input_messages(body);
  if (present(body, "reasoning")) {
    const ojson& r = body.at("reasoning");
    if (!r.is_object()) bad_request("invalid type for 'reasoning': expected an object", "reasoning");
    if (present(r, "effort")) chat["reasoning_effort"] = r.at("effort");
  }
  if (present(body, "text")) {
    ojson format = chat_format(body.at("text"));
    if (!format.is_null()) chat["response_format"] = std::move(format);
  }
  if (present(body, "tools")) chat["tools"] = chat_tools(body.at("tools"));
  if (present(body, "tool_choice")) chat["tool_choice"] = chat_tool_choice(body.at("tool_choice"));
  return chat;
}

// An error of the chat path, naming its field as the Responses request does.
api_error as_responses_error(const api_error& e) {
  static constexpr std::pair<std::string_view, std::string_view> k_names[] = {
      {"max_completion_tokens", "max_output_tokens"},
      {"response_format", "text.format"},
      {"reasoning_effort", "reasoning.effort"},
      {"messages", "input"}};
  std::string message = e.what();
  std::string param = e.param;
  for (const auto& [chat, responses] : k_names) {
    for (size_t at = message.find(chat); at != std::string::npos; at = message.find(chat, at + responses.size())) {
      message.replace(at, chat.size(), responses);
    }
    if (param.compare(0, chat.size(), chat) == 0) param = std::string(responses) + param.substr(chat.size());
  }
  return api_error(e.status, message, param, e.code);
}

// Output items and their parts, as the API shapes them.
json output_text_part(const std::string& text) {
  return {{"type", "output_text"}, {"text", text}, {"annotations", json::array()}, {"logprobs", json::array()}};
}
json reasoning_text_part(const std::string& text) { return {{"type", "reasoning_text"}, {"text", text}}; }
json message_item(const std::string& text, const char* status) {
  return {{"type", "message"},
          {"id", new_id("msg_")},
          {"status", status},
          {"role", "assistant"},
          {"content", json::array({output_text_part(text)})}};
}
// The model's reasoning is its own text (content), not a summary of it.
json reasoning_item(const std::string& text, const char* status) {
  return {{"type", "reasoning"},
          {"id", new_id("rs_")},
          {"summary", json::array()},
          {"content", json::array({reasoning_text_part(text)})},
          {"status", status}};
}
json call_item(const std::string& call_id, const std::string& name, const std::string& arguments, const char* status) {
  return {{"type", "function_call"}, {"id", new_id("fc_")}, {"call_id", call_id}, {"name", name},
          {"arguments", arguments},  {"status", status}};
}

bool cut_short(const completion_result& out) { return out.finish == finish_reason::length; }

// Whether an answer has a message item: it has text, or nothing else (an empty message).
bool has_message(const completion_result& out) {
  return !out.answer.empty() || (out.tool_calls.empty() && out.reasoning.empty());
}

// A whole answer's items: its reasoning, its text, its calls.
json output_items(const completion_result& out) {
  const bool cut = cut_short(out);
  json items = json::array();
  if (!out.reasoning.empty()) {
    const bool cut_in_reasoning = cut && out.answer.empty() && out.tool_calls.empty();
    items.push_back(reasoning_item(out.reasoning, cut_in_reasoning ? "incomplete" : "completed"));
  }
  if (has_message(out)) {
    items.push_back(message_item(out.answer, cut && out.tool_calls.empty() ? "incomplete" : "completed"));
  }
  for (const auto& c : out.tool_calls) items.push_back(call_item(c.id, c.name, c.arguments, "completed"));
  return items;
}

json usage_of(const completion_result& out, const loaded_model& lm) {
  const generate_stats& st = out.stats;
  // Reasoning tokens counted by tokenizing the reasoning text again.
  const int64_t reasoning =
      out.reasoning.empty() ? 0 : static_cast<int64_t>(lm.tok->encode(out.reasoning, false, false).size());
  return {{"input_tokens", st.n_prompt},
          {"input_tokens_details", {{"cached_tokens", st.n_prompt - st.n_prompt_evaluated}}},
          {"output_tokens", st.n_generated},
          {"output_tokens_details", {{"reasoning_tokens", std::min(reasoning, st.n_generated)}}},
          {"total_tokens", st.n_prompt + st.n_generated}};
}

double shown(float v) { return std::round(static_cast<double>(v) * 1e6) / 1e6; }  // 0.7, not 0.699999988

// The response before any output: the request's settings as they run.
json response_object(const ojson& body, const generation_job& job, const std::string& model) {
  const auto echo = [&](const char* key, json fallback) {
    return present(body, key) ? json(body.at(key)) : std::move(fallback);
  };
  const ojson reasoning = body.value("reasoning", ojson());
  return {{"id", new_id("resp_")},
          {"object", "response"},
          {"created_at", unix_now()},
          {"status", "in_progress"},
          {"background", false},
          {"error", nullptr},
          {"incomplete_details", nullptr},
          {"instructions", echo("instructions", nullptr)},
          {"max_output_tokens", echo("max_output_tokens", nullptr)},
          {"metadata", echo("metadata", json::object())},
          {"model", model},
          {"output", json::array()},
          {"parallel_tool_calls", echo("parallel_tool_calls", true)},
          {"previous_response_id", nullptr},
          {"reasoning",
           {{"effort", reasoning.is_object() ? json(reasoning.value("effort", ojson())) : json(nullptr)},
            {"summary", nullptr}}},
          {"store", false},
          {"temperature", shown(job.params.sampling.temperature)},
          {"text", echo("text", {{"format", {{"type", "text"}}}})},
          {"tool_choice", echo("tool_choice", "auto")},
          {"tools", echo("tools", json::array())},
          {"top_p", shown(job.params.sampling.top_p)},
          {"truncation", "disabled"},
          {"usage", nullptr}};
}

// Status, output and usage once the generation is over.
void finish_response(json& r, const completion_result& out, const loaded_model& lm, json output) {
  if (cut_short(out)) {
    r["status"] = "incomplete";
    r["incomplete_details"] = {{"reason", "max_output_tokens"}};
  } else {
    r["status"] = "completed";
    r["completed_at"] = unix_now();
  }
  r["output"] = std::move(output);
  r["usage"] = usage_of(out, lm);
}

// One SSE event: `event: TYPE` and its data, numbered by `seq` (0, 1, ... across the stream).
std::string event_chunk(int64_t& seq, const char* type, json ev) {
  ev["type"] = type;
  ev["sequence_number"] = seq++;
  return std::string("event: ") + type + "\ndata: " + ev.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

// The events of one streamed response. Output items open (output_item.added, then
// content_part.added for text), grow (deltas) and close (the .done events) one at a time, in
// output order; response.completed (or .incomplete) carries them all.
class response_events {
 public:
  response_events(const chunk_writer& write, int64_t& seq, json response)
      : write_(write), seq_(seq), response_(std::move(response)) {}

  bool start() {
    return send("response.created", {{"response", response_}}) &&
           send("response.in_progress", {{"response", response_}});
  }
  bool reasoning(std::string_view t) { return grow(kind::reasoning, t); }
  bool answer(std::string_view t) { return grow(kind::message, t); }

  bool call(const chat::tool_call_delta& d) {
    if (!d.id.empty()) {  // a new call
      if (!close("completed") || !open(kind::call, call_item(d.id, d.name, "", "in_progress"))) return false;
    }
    if (open_ != kind::call || d.arguments_fragment.empty()) return true;
    text_ += d.arguments_fragment;
    return send("response.function_call_arguments.delta", at_item({{"delta", d.arguments_fragment}}));
  }

  void finish(const completion_result& out, const loaded_model& lm) {
    const char* status = cut_short(out) ? "incomplete" : "completed";
    if (!close(status)) return;
    if (!had_message_ && has_message(out) && !(open_message() && close(status))) return;  // an empty one
    json r = response_;
    finish_response(r, out, lm, output_);
    send(cut_short(out) ? "response.incomplete" : "response.completed", {{"response", std::move(r)}});
  }

 private:
  enum class kind { none, reasoning, message, call };

  bool send(const char* type, json ev) { return write_(event_chunk(seq_, type, std::move(ev))); }
  json at_item(json ev) const {
    ev["item_id"] = item_["id"];
    ev["output_index"] = output_.size();
    if (open_ == kind::message || open_ == kind::reasoning) ev["content_index"] = 0;
    return ev;
  }
  json part(const std::string& text) const {
    return open_ == kind::message ? output_text_part(text) : reasoning_text_part(text);
  }

  bool open(kind k, json item) {
    open_ = k;
    item_ = std::move(item);
    text_.clear();
    if (k != kind::call) item_["content"] = json::array();
    if (!send("response.output_item.added", {{"output_index", output_.size()}, {"item", item_}})) return false;
    return k == kind::call || send("response.content_part.added", at_item({{"part", part("")}}));
  }
  bool open_message() { return open(kind::message, message_item("", "in_progress")); }

  bool grow(kind k, std::string_view t) {
    if (open_ != k) {
      if (!close("completed")) return false;
      if (!(k == kind::message ? open_message() : open(k, reasoning_item("", "in_progress")))) return false;
    }
    text_ += t;
    if (k == kind::reasoning) return send("response.reasoning_text.delta", at_item({{"delta", std::string(t)}}));
    return send("response.output_text.delta", at_item({{"delta", std::string(t)}, {"logprobs", json::array()}}));
  }

  // The open item's .done events, with `status`; the item joins the output.
  bool close(const char* status) {
    if (open_ == kind::none) return true;
    bool ok = true;
    if (open_ == kind::call) {
      item_["arguments"] = text_;
      ok = send("response.function_call_arguments.done", at_item({{"arguments", text_}}));
    } else {
      const json p = part(text_);
      json done = at_item({{"text", text_}});
      if (open_ == kind::message) done["logprobs"] = json::array();
      ok = send(open_ == kind::message ? "response.output_text.done" : "response.reasoning_text.done", done) &&
           send("response.content_part.done", at_item({{"part", p}}));
      item_["content"] = json::array({p});
    }
    item_["status"] = status;
    ok = ok && send("response.output_item.done", {{"output_index", output_.size()}, {"item", item_}});
    had_message_ = had_message_ || open_ == kind::message;
    open_ = kind::none;
    output_.push_back(std::move(item_));
    return ok;
  }

  const chunk_writer& write_;
  int64_t& seq_;
  json response_;
  json output_ = json::array();  // the closed items
  kind open_ = kind::none;
  json item_;         // the open item
  std::string text_;  // its text (or arguments) so far
  bool had_message_ = false;
};

void stream_events(httplib::Response& res, server_context& ctx, std::shared_ptr<generation_job> job, json response) {
  auto seq = std::make_shared<int64_t>(0);
  stream_response(
      res, "text/event-stream",
      [&ctx, job, seq, response = std::move(response)](const chunk_writer& write) {
        response_events events(write, *seq, response);
        if (!events.start()) return;
        completion_sinks sinks{[&](std::string_view t) { return events.reasoning(t); },
                               [&](std::string_view t) { return events.answer(t); },
                               [&](const chat::tool_call_delta& d) { return events.call(d); }};
        const completion_result out =
            run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, sinks, &job->output);
        note_finish(ctx, out);
        if (out.finish == finish_reason::cancel) return;
        events.finish(out, job->lease.get());
      },
      [seq](const std::string& message) {
        return event_chunk(*seq, "error", {{"code", "server_error"}, {"message", message}, {"param", nullptr}});
      });
}

void create_response(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  parse_body(req.body);  // the JSON and object checks, with their messages
  const ojson body = ojson::parse(req.body);
  const std::string chat_text = chat_body(body).dump();
  const generation_request r = parse_openai_chat_request(chat_text);
  auto job = start_job(
      ctx, r.model, std::nullopt,
      [&](const loaded_model&) {
        prompt_spec s;
        s.messages = r.messages;
        add_template_fields(s, chat_text);  // tool calls and results, tools, reasoning_effort
        // Effort "none" turns thinking off (enable_thinking false), any other level on.
        if (s.reasoning_effort) s.think = *s.reasoning_effort != "none";
        return s;
      },
      [&](gen_params& g) { g = r.over(g); }, &r.output);
  json response = response_object(body, *job, r.model);
  if (r.stream) {
    stream_events(res, ctx, job, std::move(response));
    return;
  }
  const completion_result out =
      run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, while_connected(ctx), &job->output);
  note_finish(ctx, out);
  finish_response(response, out, job->lease.get(), output_items(out));
  send_json(res, response);
}

}  // namespace

void register_openai_responses_routes(httplib::Server& svr, server_context& ctx) {
  svr.Post("/v1/responses", [&ctx](const httplib::Request& req, httplib::Response& res) {
    ctx.counters.requests.fetch_add(1);
    guarded(res, flavor::openai, [&] {
      try {
        create_response(req, res, ctx);
      } catch (const api_error& e) {
        throw as_responses_error(e);
      }
    });
  });
}

}  // namespace pocketlm::server
