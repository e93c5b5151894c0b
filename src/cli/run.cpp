// `pocketlm run MODEL [PROMPT]`: one streamed answer, or an interactive chat (libedit line
// editing and history, """ multi-line input, /commands, Ctrl-C stops the current answer).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/chat_repl.h"
#include "cli/power_flags.h"
#include "cli/verbs.h"
#include "store/model_config.h"

namespace pocketlm::cli {

namespace {

std::string read_all_stdin() {
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

// A store model's params/system layers are defaults: a flag given on the command line wins.
void apply_store_defaults(const store::resolved_model& r, const CLI::App& cmd, run_args& a) {
  const auto unset = [&](const char* flag) { return cmd.get_option(flag)->count() == 0; };
  const store::model_params& p = r.params;
  auto& s = a.gen.sampling;
  if (p.temperature && unset("--temp")) s.temperature = static_cast<float>(*p.temperature);
  if (p.top_k && unset("--top-k")) s.top_k = static_cast<int>(*p.top_k);
  if (p.top_p && unset("--top-p")) s.top_p = static_cast<float>(*p.top_p);
  if (p.min_p && unset("--min-p")) s.min_p = static_cast<float>(*p.min_p);
  if (p.repeat_penalty && unset("--repeat-penalty")) s.repeat_penalty = static_cast<float>(*p.repeat_penalty);
  if (p.repeat_last_n && unset("--repeat-last-n")) s.repeat_last_n = static_cast<int>(*p.repeat_last_n);
  if (p.seed && unset("--seed")) s.seed = static_cast<uint64_t>(*p.seed);
  if (p.num_predict && unset("--num-predict")) a.gen.n_predict = static_cast<int>(*p.num_predict);
  if (p.num_ctx && unset("--ctx-size")) a.n_ctx = *p.num_ctx;
  if (!p.stop.empty() && unset("--stop")) a.gen.stop = p.stop;
  if (!r.system.empty() && unset("--system")) a.system = r.system;
  a.model_path = r.gguf_path;
}

int run_run(run_args& a, const power_flags& power, const CLI::App& cmd) {
  auto resolved = store::resolve_model(a.model_path);
  if (!resolved) return report(resolved.err());
  apply_store_defaults(*resolved, cmd, a);
  if (auto engine = engine_options(a.engine)) install_power_policy(power, engine->n_threads);
  auto loaded = load_chat_model(a);
  if (!loaded) return report(loaded.err());
  chat_model& cm = **loaded;
  if (!a.format.empty()) {
    auto g = load_format(a.format);
    if (!g) return report(g.err());
    a.gen.constraint.grammar = *g;
    a.gen.constraint.vocab = cm.vocab.get(*cm.tok);
  }
  install_sigint_handler();
  if (!a.prompt.empty() || !isatty(STDIN_FILENO)) {
    const std::string prompt = a.prompt.empty() ? read_all_stdin() : a.prompt;
    return answer_once(cm, a, prompt) ? 0 : 1;
  }
  return interactive_loop(cm, a);
}

}  // namespace

void register_run(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<run_args>();
  CLI::App* cmd = app.add_subcommand("run", "Chat with a model, or answer one prompt");
  cmd->add_option("model", a->model_path, "model name (e.g. qwen2.5:0.5b) or GGUF file")->required();
  cmd->add_option("prompt", a->prompt, "answer this prompt and exit (else: interactive chat)");
  cmd->add_option("--temp", a->gen.sampling.temperature, "temperature (0: greedy)");
  cmd->add_option("--top-k", a->gen.sampling.top_k, "top-k (0: off)");
  cmd->add_option("--top-p", a->gen.sampling.top_p, "top-p (1: off)");
  cmd->add_option("--min-p", a->gen.sampling.min_p, "min-p (0: off)");
  cmd->add_option("--repeat-penalty", a->gen.sampling.repeat_penalty, "repeat penalty (1: off)");
  cmd->add_option("--repeat-last-n", a->gen.sampling.repeat_last_n, "penalty window (-1: all)");
  cmd->add_option("--presence-penalty", a->gen.sampling.presence_penalty, "presence penalty");
  cmd->add_option("--frequency-penalty", a->gen.sampling.frequency_penalty, "frequency penalty");
  cmd->add_option("--seed", a->gen.sampling.seed, "random seed (default: a new one each run)");
  cmd->add_option("-n,--num-predict", a->gen.n_predict, "tokens to generate (-1: until done)");
  cmd->add_option("--stop", a->gen.stop, "stop string (repeatable)");
  add_engine_flags(cmd, a->engine);
  cmd->add_option("-c,--ctx-size", a->n_ctx, "context size (default: min(train, 4096))")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  std::string names;
  for (const auto& n : chat::builtin_names()) names += n + ", ";
  CLI::Option* by_name =
      cmd->add_option("--chat-template", a->chat_template,
                      "use a built-in chat template instead of the GGUF's: " + names + "or none (plain text)");
  cmd->add_option("--chat-template-file", a->chat_template_file, "use this Jinja chat template file")
      ->excludes(by_name);
  cmd->add_option("--chat-template-kwargs", a->chat_template_kwargs,
                  "extra template variables, a JSON object (e.g. '{\"enable_thinking\": false}')");
  cmd->add_flag("--verbose-prompt", a->verbose_prompt, "print each rendered prompt and its token ids");
  cmd->add_option("--system", a->system, "system prompt");
  cmd->add_flag("--hide-thinking", a->hide_thinking, "do not print reasoning");
  cmd->add_flag("!--no-think", a->think, "ask Qwen3-style models not to reason");
  cmd->add_flag("--verbose", a->verbose, "print load time and token rates");
  cmd->add_option("--format", a->format, "answer in JSON: 'json' (any object) or a JSON Schema file");
  auto power = std::make_shared<power_flags>();
  add_power_flags(cmd, *power);
  cmd->callback([a, power, cmd, &exit_code] { exit_code = run_run(*a, *power, *cmd); });
}

}  // namespace pocketlm::cli
