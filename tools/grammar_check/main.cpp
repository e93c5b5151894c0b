// pocketlm-grammar-check SCHEMA.json [DOC...] [--jsonl FILE] [--print-grammar]
// Compiles the schema (grammar/json_schema.h), parses the GBNF, and prints one line per document:
// "accept" or "reject" (the matcher takes the whole document and can end there), a tab, and the
// document's name (its path, or its line number in the JSON lines file, where each line is a
// JSON string holding one document's text, so malformed documents can be written too).
// Exit status: 0 checked, 2 the schema is unsupported, 1 anything else (an invalid schema, a
// compiled grammar that does not parse, an unreadable file).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

const char* verdict(const pocketlm::grammar::grammar_ptr& g, const std::string& doc) {
  pocketlm::grammar::matcher m(g);
  return m.accept(doc) && m.can_end() ? "accept" : "reject";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pocketlm;
  CLI::App app{"pocketlm-grammar-check: which documents the grammar compiled from a JSON Schema accepts"};
  std::string schema_path, jsonl_path;
  std::vector<std::string> doc_paths;
  bool print_grammar = false;
  app.add_option("schema", schema_path, "JSON Schema file")->required();
  app.add_option("docs", doc_paths, "document files");
  app.add_option("--jsonl", jsonl_path, "JSON lines file: one JSON string (a document's text) per line; - for stdin");
  app.add_flag("--print-grammar", print_grammar, "print the GBNF before the verdicts");
  CLI11_PARSE(app, argc, argv);

  std::string schema_text;
  if (!read_file(schema_path, schema_text)) {
    std::fprintf(stderr, "error: cannot read %s\n", schema_path.c_str());
    return 1;
  }
  auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) {
    std::fprintf(stderr, "error: %s is not JSON\n", schema_path.c_str());
    return 1;
  }
  auto gbnf = grammar::json_schema_to_gbnf(schema);
  if (!gbnf) {
    std::fprintf(stderr, "error: %s\n", gbnf.error_message().c_str());
    return gbnf.kind() == error_kind::unsupported ? 2 : 1;
  }
  if (print_grammar) std::cout << *gbnf << "\n";
  auto g = grammar::grammar::parse(*gbnf);
  if (!g) {
    std::fprintf(stderr, "error: the compiled grammar does not parse (a bug): %s\n", g.error_message().c_str());
    return 1;
  }
  for (const auto& path : doc_paths) {
    std::string doc;
    if (!read_file(path, doc)) {
      std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
      return 1;
    }
    std::cout << verdict(*g, doc) << "\t" << path << "\n";
  }
  if (!jsonl_path.empty()) {
    std::ifstream file;
    if (jsonl_path != "-") file.open(jsonl_path, std::ios::binary);
    std::istream& in = jsonl_path == "-" ? std::cin : file;
    if (!in) {
      std::fprintf(stderr, "error: cannot read %s\n", jsonl_path.c_str());
      return 1;
    }
    std::string line;
    for (size_t n = 1; std::getline(in, line); n++) {
      auto doc = nlohmann::json::parse(line, nullptr, false);
      if (!doc.is_string()) {
        std::fprintf(stderr, "error: %s line %zu is not a JSON string\n", jsonl_path.c_str(), n);
        return 1;
      }
      std::cout << verdict(*g, doc.get<std::string>()) << "\t" << n << "\n";
    }
  }
  return 0;
}
