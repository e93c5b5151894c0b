#include "server/completion.h"

#include <algorithm>
#include <optional>

#include "chat/think_split.h"
#include "runtime/chat_session.h"
#include "server/logprobs.h"

namespace pocketlm::server {

gen_params model_defaults(const loaded_model& lm) {
  gen_params g;
  const store::model_params& p = lm.info.params;
  auto& s = g.sampling;
  if (p.temperature) s.temperature = static_cast<float>(*p.temperature);
  if (p.top_k) s.top_k = static_cast<int>(*p.top_k);
  if (p.top_p) s.top_p = static_cast<float>(*p.top_p);
  if (p.min_p) s.min_p = static_cast<float>(*p.min_p);
  if (p.repeat_penalty) s.repeat_penalty = static_cast<float>(*p.repeat_penalty);
  if (p.repeat_last_n) s.repeat_last_n = static_cast<int>(*p.repeat_last_n);
  if (p.seed) s.seed = static_cast<uint64_t>(*p.seed);
  if (p.num_predict) g.n_predict = static_cast<int>(*p.num_predict);
  g.stop = p.stop;
  return g;
}

prompt_spec generate_prompt(const loaded_model& lm, const std::string& system, const std::string& prompt, bool raw) {
  prompt_spec spec;
  const std::string sys = system.empty() ? lm.info.system : system;
  if (raw || !lm.templates.main) {
    spec.chat = false;
    spec.text = raw ? prompt : sys + prompt;
    return spec;
  }
  if (!sys.empty()) spec.messages.push_back({"system", sys, ""});
  spec.messages.push_back({"user", prompt, ""});
  return spec;
}

namespace {

using ojson = nlohmann::ordered_json;

// Fields the message parser already carries (role, string content, reasoning).
bool parsed_field(const std::string& k, const ojson& v) {
  return k == "role" || k == "reasoning_content" || k == "thinking" || k == "images" ||
         (k == "content" && (v.is_string() || v.is_null()));  // null: an assistant's call, as ""
}

// OpenAI clients send a call's arguments as JSON text; templates print them with tojson and
// transformers passes them as objects, so text that holds an object becomes that object (as
// llama.cpp does), and the template renders the call as the model wrote it.
void arguments_as_objects(ojson& calls) {
  if (!calls.is_array()) return;
  for (ojson& c : calls) {
    ojson* fn = c.is_object() && c.contains("function") ? &c["function"] : &c;
    if (!fn->is_object() || !fn->contains("arguments") || !(*fn)["arguments"].is_string()) continue;
    ojson args = ojson::parse((*fn)["arguments"].get<std::string>(), nullptr, false);
    if (args.is_object()) (*fn)["arguments"] = std::move(args);
  }
}

// Sinks that hand the queue's released token reports to given.on_token (and keep them in `all`)
// before each part of text: a report travels with the text its token became.
completion_sinks reporting(const completion_sinks& given, token_report_queue& queue, std::vector<token_report>& all) {
  completion_sinks s = given;
  const auto release = [&given, &queue, &all] {
    for (token_report& r : queue.take()) {
      if (given.on_token) given.on_token(r);
      all.push_back(std::move(r));
    }
  };
  s.on_reasoning = [release, f = given.on_reasoning](std::string_view t) {
    release();
    return f(t);
  };
  s.on_answer = [release, f = given.on_answer](std::string_view t) {
    release();
    return f(t);
  };
  return s;
}

}  // namespace

void add_template_fields(prompt_spec& spec, const std::string& raw_body) {
  const ojson body = ojson::parse(raw_body, nullptr, false);
  if (!body.is_object()) return;  // the request parser already rejected what is not an object
  if (const auto it = body.find("messages"); it != body.end() && it->is_array()) {
    for (size_t i = 0; i < it->size() && i < spec.messages.size(); ++i) {
      const ojson& m = (*it)[i];
      if (!m.is_object()) continue;
      ojson extra = ojson::object();
      for (const auto& [k, v] : m.items()) {
        if (!parsed_field(k, v)) extra[k] = v;
      }
      if (extra.contains("tool_calls")) arguments_as_objects(extra["tool_calls"]);
      if (!extra.empty()) spec.messages[i].extra = std::move(extra);
    }
  }
  if (const auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw api_error(400, "invalid type for 'tools': expected an array", "tools");
    spec.tools = *it;
  }
  if (const auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      throw api_error(400, "invalid type for 'chat_template_kwargs': expected an object", "chat_template_kwargs");
    }
    spec.template_kwargs = *it;
  }
  if (const auto it = body.find("reasoning_effort"); it != body.end() && !it->is_null()) {
    if (!it->is_string())
      throw api_error(400, "invalid type for 'reasoning_effort': expected a string", "reasoning_effort");
    spec.reasoning_effort = it->get<std::string>();
  }
}

bool can_think(const chat::chat_template* tmpl) {
  if (!tmpl) return false;
  const std::string& src = tmpl->source();
  return tmpl->reasoning() || src.find("enable_thinking") != std::string::npos ||
         src.find("reasoning_effort") != std::string::npos;
}

namespace {

bool asks_to_think(const prompt_spec& spec) {
  return spec.think.value_or(false) || (spec.reasoning_effort && *spec.reasoning_effort != "none");
}

// Ollama's deprecated context: the earlier tokens first, then this prompt without its BOS.
void continue_context(const loaded_model& lm, const std::vector<int32_t>& context, std::vector<int32_t>& tokens) {
  for (int32_t t : context) {
    if (t >= lm.tok->n_vocab()) {
      throw api_error(400, "invalid 'context': token " + std::to_string(t) + " is not in the model's vocabulary",
                      "context");
    }
  }
  if (lm.tok->bos() >= 0 && !tokens.empty() && tokens.front() == lm.tok->bos()) tokens.erase(tokens.begin());
  tokens.insert(tokens.begin(), context.begin(), context.end());
}

}  // namespace

prepared_prompt render_prompt(const loaded_model& lm, const prompt_spec& spec) {
  prepared_prompt p;
  const chat::chat_template* tmpl = lm.templates.pick(spec.tools.is_array() && !spec.tools.empty());
  if (asks_to_think(spec) && !can_think(spec.chat ? tmpl : nullptr)) {
    throw api_error(400, "\"" + lm.key + "\" does not support thinking", spec.think ? "think" : "reasoning_effort");
  }
  if (spec.chat) {
    std::vector<chat::message> msgs = spec.messages;
    const bool has_system = !msgs.empty() && msgs.front().role == "system";
    if (!has_system && !lm.info.system.empty()) msgs.insert(msgs.begin(), {"system", lm.info.system, ""});
    chat::options opt = chat_options_for(*lm.tok);
    opt.enable_thinking = spec.think;
    opt.tools = spec.tools;
    opt.kwargs = spec.template_kwargs;
    opt.reasoning_effort = spec.reasoning_effort;
    // A template that renders no tools learns them from a system message (the generic syntax).
    if (opt.tools.is_array() && !opt.tools.empty() && (!tmpl || chat::tool_syntax_of(*tmpl).needs_system_prompt)) {
      const std::string about = chat::system_prompt_for_tools(opt.tools);
      if (!msgs.empty() && msgs.front().role == "system")
        msgs.front().content = about + "\n\n" + msgs.front().content;
      else
        msgs.insert(msgs.begin(), {"system", about, ""});
    }
    auto prompt = chat_prompt_tokens(*lm.tok, tmpl, msgs, opt);
    if (!prompt) throw api_error(400, prompt.error_message(), "messages");
    p.tokens = std::move(prompt->tokens);
    p.text = std::move(prompt->text);
    // A generation prompt that opens <think> (DeepSeek-R1) starts the reply inside reasoning.
    p.starts_in_think = tmpl && prompt->starts_in_think;
    p.tmpl = tmpl;
  } else {
    p.tokens = lm.tok->encode(spec.text, /*add_special=*/true, /*parse_special=*/true);
    p.text = spec.text;
  }
  if (!spec.context.empty()) continue_context(lm, spec.context, p.tokens);
  p.reasoning_model = spec.split_thinking && (p.starts_in_think || (spec.chat && tmpl && tmpl->reasoning()));
  // A generation prompt that ends with an empty "<think>\n\n</think>" (enable_thinking false)
  // has done the reasoning: what follows is the answer.
  if (p.reasoning_model && !p.starts_in_think && chat::ends_think_block(p.text)) p.reasoning_model = false;
  return p;
}

void require_embedding_model(const loaded_model& lm) {
  if (!lm.llm->is_embedding_model()) throw api_error(400, "this model does not support embeddings", "model");
}

void require_generative_model(const loaded_model& lm, const std::string& name, const char* what) {
  if (lm.llm->is_embedding_model()) throw api_error(400, "\"" + name + "\" does not support " + what, "model");
}

prepared_prompt prepare_prompt(const loaded_model& lm, const prompt_spec& spec, std::optional<int64_t> num_ctx) {
  prepared_prompt p = render_prompt(lm, spec);
  if (p.tokens.empty()) throw api_error(400, "the prompt is empty", "prompt");
  const int64_t n_ctx = std::min(lm.llm->n_ctx(), num_ctx.value_or(lm.llm->n_ctx()));
  p.n_ctx = n_ctx;
  if (static_cast<int64_t>(p.tokens.size()) >= n_ctx) {
    throw api_error(400,
                    "prompt is " + std::to_string(p.tokens.size()) + " tokens, context is " + std::to_string(n_ctx) +
                        " (the prompt must leave room for the reply)",
                    "messages", "context_length_exceeded");
  }
  return p;
}

completion_result run_completion(session& s, const loaded_model& lm, const prepared_prompt& p, const gen_params& params,
                                 const completion_sinks& given, const output_plan* output) {
  completion_result out;
  token_report_queue reports;
  const completion_sinks sinks = params.top_logprobs < 0 ? given : reporting(given, reports, out.tokens);
  generate_request req;
  req.top_logprobs = params.top_logprobs;
  req.on_token = [&reports](const token_report& r) { reports.add(r); };
  req.prompt = p.tokens;
  req.sampling = params.sampling;
  req.stop = params.stop;
  const int room = static_cast<int>(p.n_ctx - static_cast<int64_t>(p.tokens.size()));
  req.n_predict = params.n_predict < 0 ? room : std::min(params.n_predict, room);
  if (output) req.constraint = output->constraint;
  chat::think_splitter split(p.starts_in_think);
  bool go_on = true;
  std::optional<chat::tool_call_parser> calls;
  if (output && output->tool_syntax) calls.emplace(*output->tool_syntax);
  // Answer text goes through the tool call parser when the request has tools: markup never
  // reaches the content.
  const auto answer = [&](std::string_view text) {
    if (!calls) {
      out.answer += text;
      return go_on = sinks.on_answer(text) && go_on;
    }
    chat::tool_call_parser::output o = calls->push(text);
    if (!o.content.empty()) {
      out.answer += o.content;
      go_on = sinks.on_answer(o.content) && go_on;
    }
    for (const auto& d : o.deltas) go_on = (!sinks.on_tool_call || sinks.on_tool_call(d)) && go_on;
    return go_on;
  };
  const auto finish_calls = [&] {
    if (!calls) return;
    chat::tool_call_parser::output o = calls->finish();
    if (!o.content.empty()) {
      out.answer += o.content;
      go_on = sinks.on_answer(o.content) && go_on;
    }
    for (const auto& d : o.deltas) go_on = (!sinks.on_tool_call || sinks.on_tool_call(d)) && go_on;
    out.tool_calls = calls->calls();
  };
  const auto route = [&](const chat::think_splitter::out& o) {
    if (!o.reasoning.empty()) {
      out.reasoning += o.reasoning;
      go_on = sinks.on_reasoning(o.reasoning) && go_on;
    }
    if (!o.answer.empty()) answer(o.answer);
    return go_on;
  };
  const auto sink = [&](std::string_view text) {
    reports.shown(text);
    if (!p.reasoning_model) return answer(text);
    return route(split.push(text));
  };
  auto stats = generate(s, *lm.tok, req, sink);
  if (!stats) throw api_error(500, stats.error_message());
  if (p.reasoning_model && go_on) route(split.flush());
  if (go_on) finish_calls();
  for (token_report& r : reports.finish()) {
    if (given.on_token) given.on_token(r);
    out.tokens.push_back(std::move(r));
  }
  out.stats = *stats;
  out.finish = stats->done_reason;
  return out;
}

}  // namespace pocketlm::server
