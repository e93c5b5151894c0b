// JSON Schema -> GBNF, objects and arrays (grammar/json_schema_converter.h).
//
// Objects: the declared properties in schema order, each optional one skippable, then any
// additional ones (additionalProperties true or a schema; their keys are none of the declared
// names). Unlike a validator, the grammar fixes the order: it says how to write a document, and
// one order is enough. As llama.cpp, an object schema with `properties` but no
// `additionalProperties` admits no other keys; one with neither admits any.
//
// Arrays: prefixItems (or a draft-7 `items` list) for the first positions, `items` (or
// `additionalItems`) for the rest, minItems..maxItems elements in all.
#include <algorithm>
#include <functional>
#include <map>

#include "grammar/json_schema_converter.h"

namespace pocketlm::grammar::json_schema_parts {

namespace {

// The same guard as in json_schema_types.cpp: a '{' or '[' has been read, so $refs entered
// before cannot recurse without consuming a byte.
struct consumed_guard {
  explicit consumed_guard(std::vector<std::string>& pending) : pending_(pending), saved_(std::move(pending)) {
    pending_.clear();
  }
  ~consumed_guard() { pending_ = std::move(saved_); }
  std::vector<std::string>& pending_;
  std::vector<std::string> saved_;
};

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : b.empty() ? a : a + " " + b; }

std::vector<uint32_t> code_points(const std::string& utf8) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < utf8.size();) {
    unsigned char b = utf8[i];
    int extra = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
    uint32_t c = extra == 0 ? b : extra == 1 ? b & 0x1F : extra == 2 ? b & 0x0F : b & 0x07;
    for (int k = 1; k <= extra && i + k < utf8.size(); k++) c = (c << 6) | (utf8[i + k] & 0x3F);
    out.push_back(c);
    i += extra + 1;
  }
  return out;
}

struct name_trie {
  std::map<uint32_t, name_trie> children;
  bool is_name = false;
};

}  // namespace

std::string converter::object_value(const json& schema, const std::string& ptr, const std::string& name) {
  consumed_guard consumed(pending_refs_);
  const json empty = json::object();
  if (schema.contains("properties") && !schema["properties"].is_object()) {
    fail(error_kind::invalid_input, "'properties' must be an object at " + where(ptr));
  }
  const json& properties = schema.contains("properties") ? schema["properties"] : empty;
  std::vector<std::string> required;
  if (schema.contains("required")) {
    if (!schema["required"].is_array()) fail(error_kind::invalid_input, "'required' must be an array at " + where(ptr));
    for (const auto& r : schema["required"]) {
      if (!r.is_string()) fail(error_kind::invalid_input, "'required' must list strings at " + where(ptr));
      if (std::find(required.begin(), required.end(), r.get<std::string>()) == required.end()) required.push_back(r);
    }
  }
  // The schema of additional properties' values; "" when there may be none.
  std::string extra;
  bool extra_is_any = false;
  const json* additional = schema.contains("additionalProperties") ? &schema["additionalProperties"] : nullptr;
  if (additional && additional->is_object()) {
    extra = visit(*additional, child_pointer(ptr, "additionalProperties"), name + "-additional");
  } else if (additional && !additional->is_boolean()) {
    fail(error_kind::invalid_input, "'additionalProperties' must be a boolean or a schema at " + where(ptr));
  } else if ((additional && additional->get<bool>()) || (!additional && !schema.contains("properties"))) {
    extra = primitive("any");
    extra_is_any = true;
  }
  if (extra_is_any && required.empty() && !schema.contains("properties")) {
    return primitive("any-object");
  }
  std::string sp = primitive("space");
  std::vector<std::pair<std::string, std::string>> kvs;  // name, kv rule
  std::vector<bool> is_required;
  std::vector<std::string> names;
  auto add_kv = [&](const std::string& key, const std::string& value_rule) {
    kvs.emplace_back(key, add_rule(name + "-" + key + "-kv",
                                   gbnf_literal(json(key).dump()) + " " + sp + " \":\" " + sp + " " + value_rule));
    is_required.push_back(std::find(required.begin(), required.end(), key) != required.end());
    names.push_back(key);
  };
  std::string props_ptr = child_pointer(ptr, "properties");
  for (const auto& [key, sub] : properties.items()) {
    bool needed = std::find(required.begin(), required.end(), key) != required.end();
    if (sub == false) {
      if (needed) fail(error_kind::invalid_input, "required property '" + key + "' has schema false at " + where(ptr));
      names.push_back(key);  // never written, and not an additional property either
      continue;
    }
    add_kv(key, visit(sub, child_pointer(props_ptr, key), name + "-" + key));
  }
  for (const auto& key : required) {
    if (properties.contains(key)) continue;
    if (extra.empty()) {
      fail(error_kind::invalid_input, "required property '" + key +
                                          "' is not in 'properties' and no additional properties are allowed at " +
                                          where(ptr));
    }
    add_kv(key, extra);
  }
  std::string extra_kv;
  if (!extra.empty()) extra_kv = add_rule(name + "-additional-kv", not_names_key(names) + " \":\" " + sp + " " + extra);
  return object_body(kvs, is_required, extra_kv, name);
}

// "{" then the properties in order (first required one at `first_required`), "}". A start
// alternative per property that may come first; after it, the rest with a comma before each.
std::string converter::object_body(const std::vector<std::pair<std::string, std::string>>& kvs,
                                   const std::vector<bool>& required, const std::string& extra_kv,
                                   const std::string& name) {
  std::string sp = primitive("space");
  std::string comma = "\",\" " + sp + " ";
  size_t n = kvs.size();
  size_t first_required = std::find(required.begin(), required.end(), true) - required.begin();
  auto piece = [&](size_t j) { return required[j] ? comma + kvs[j].second : "(" + comma + kvs[j].second + ")?"; };
  std::string extras_after = extra_kv.empty() ? "" : "(" + comma + extra_kv + ")*";
  // after[k]: properties k.. when one was written before.
  std::vector<std::string> after(n + 1);
  size_t tail_from = std::min(first_required + 1, n);
  std::string tail;
  for (size_t j = tail_from; j < n; j++) tail = join(tail, piece(j));
  after[tail_from] = join(tail, extras_after);
  for (size_t k = tail_from; k-- > 1;)
    after[k] = add_rule(name + "-after-" + std::to_string(k), join(piece(k), after[k + 1]));
  std::string start;
  for (size_t i = 0; i < n && i <= first_required; i++) start += (i ? " | " : "") + join(kvs[i].second, after[i + 1]);
  if (first_required >= n) {
    if (!extra_kv.empty()) start += (start.empty() ? "" : " | ") + join(extra_kv, extras_after);
    if (!start.empty()) start = "(" + start + ")?";
  } else if (first_required > 0) {
    start = "(" + start + ")";
  }
  return join("\"{\" " + sp, join(start, "\"}\" " + sp));
}

// A JSON string key that is none of `names` (they are declared properties): a trie of the
// names, leaving each node by any other character, or past a name's end.
std::string converter::not_names_key(const std::vector<std::string>& names) {
  if (names.empty()) return primitive("string");
  name_trie root;
  for (const auto& n : names) {
    name_trie* node = &root;
    for (uint32_t c : code_points(n)) node = &node->children[c];
    node->is_name = true;
  }
  std::string chr = primitive("char");
  std::function<std::string(const name_trie&, size_t)> branches = [&](const name_trie& node, size_t depth) {
    std::string out;
    code_set taken;
    for (const auto& [c, child] : node.children) {
      taken.add(c, c);
      std::string step = json_char_expr(code_set(c, c));
      if (child.children.empty()) {
        step += " " + chr + "+";  // the name itself is taken: at least one more character
      } else {
        // A long name nests a group per character: a rule every 64 keeps GBNF's nesting bound.
        std::string rest = branches(child, depth + 1);
        if ((depth + 1) % 64 == 0) rest = add_rule("additional-key", rest);
        step += " (" + rest + ")" + (child.is_name ? "" : "?");
      }
      out += (out.empty() ? "" : " | ") + step;
    }
    std::string other = json_char_expr(code_set(0, 0x10FFFF).minus(taken));
    if (!other.empty()) out += (out.empty() ? "" : " | ") + other + " " + chr + "*";
    return out;
  };
  return "\"\\\"\" (" + branches(root, 0) + ")" + (root.is_name ? "" : "?") + " \"\\\"\" " + primitive("space");
}

std::string converter::array_value(const json& schema, const std::string& ptr, const std::string& name) {
  consumed_guard consumed(pending_refs_);
  const json* prefix = nullptr;
  const char* rest_key = "items";
  if (schema.contains("prefixItems")) {
    prefix = &schema.at("prefixItems");
  } else if (schema.contains("items") && schema["items"].is_array()) {
    prefix = &schema.at("items");  // draft 7 tuples
    rest_key = "additionalItems";
  }
  if (prefix && !prefix->is_array()) fail(error_kind::invalid_input, "'prefixItems' must be an array at " + where(ptr));
  uint64_t min = schema.contains("minItems") ? count_keyword(schema, "minItems", ptr, 0) : 0;
  std::optional<uint64_t> max;
  if (schema.contains("maxItems")) max = count_keyword(schema, "maxItems", ptr, 0);
  std::vector<std::string> positions;
  if (prefix) {
    std::string prefix_ptr = child_pointer(ptr, std::string(rest_key) == "items" ? "prefixItems" : "items");
    for (size_t i = 0; i < prefix->size(); i++) {
      if ((*prefix)[i] == false) {
        max = std::min<uint64_t>(max.value_or(i), i);
        break;
      }
      if (max && i >= *max) break;
      positions.push_back(
          visit((*prefix)[i], child_pointer(prefix_ptr, std::to_string(i)), name + "-" + std::to_string(i)));
    }
  }
  size_t k = positions.size();
  std::string rest;  // "" when no more elements may follow the prefix
  bool rest_allowed = !(max && *max <= k);
  if (rest_allowed && schema.contains(rest_key) && schema[rest_key] == false) rest_allowed = false;
  if (rest_allowed) {
    rest = schema.contains(rest_key) ? visit(schema[rest_key], child_pointer(ptr, rest_key), name + "-item")
                                     : primitive("any");
  }
  if (rest.empty()) max = std::min<uint64_t>(max.value_or(k), k);
  if (max && min > *max)
    fail(error_kind::invalid_input, "'minItems' exceeds the elements the array may hold at " + where(ptr));
  std::string sp = primitive("space");
  std::string comma = "\",\" " + sp;
  std::string elements;
  if (!rest.empty()) {
    uint64_t rest_min = min > k ? min - k : 0;
    std::optional<uint64_t> rest_max;
    if (max) rest_max = *max - k;
    elements = k == 0 ? repetition(rest, rest_min, rest_max, comma)
                      : repetition("(" + comma + " " + rest + ")", rest_min, rest_max);
  }
  // Prefix positions back to front: each optional one (at or past minItems) a rule of its own.
  for (size_t i = k; i-- > 0;) {
    std::string here = join(i ? comma + " " + positions[i] : positions[i], elements);
    elements = i < min ? here : add_rule(name + "-from-" + std::to_string(i), here) + "?";
  }
  return join("\"[\" " + sp, join(elements, "\"]\" " + sp));
}

}  // namespace pocketlm::grammar::json_schema_parts
