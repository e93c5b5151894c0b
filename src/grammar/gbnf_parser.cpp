// GBNF text -> rules (grammar/rules.h).
#include "grammar/rules.h"

namespace pocketlm::grammar {

grammar::~grammar() = default;

result<std::shared_ptr<const grammar>> grammar::parse(std::string_view gbnf, std::string_view root) {
  return error{"GBNF parsing is not implemented yet", error_kind::unsupported};
}

}  // namespace pocketlm::grammar
