// Exit codes from error kinds (verbs.h), so scripts can tell "no such model" from "out of memory".
#include <cstdio>

#include "cli/verbs.h"

namespace pocketlm::cli {

int exit_code_of(error_kind kind) {
  switch (kind) {
    case error_kind::invalid_input: return 2;
    case error_kind::not_found: return 3;
    case error_kind::unsupported: return 4;
    case error_kind::exhausted: return 5;
    case error_kind::cancelled: return 130;
    case error_kind::io:
    case error_kind::internal: return 1;
  }
  return 1;
}

int report(const error& e) {
  std::fprintf(stderr, "error: %s\n", e.message.c_str());
  return exit_code_of(e.kind);
}

}  // namespace pocketlm::cli
