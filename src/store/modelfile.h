// Modelfiles (`pocketlm create NAME -f Modelfile`): FROM, PARAMETER, SYSTEM, LICENSE, TEMPLATE
// (parsed, then ignored: the GGUF's chat template is used), MESSAGE/ADAPTER refused.
// Arguments may be bare, "quoted" or """triple-quoted across lines"""; '#' starts a comment line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pocketlm::store {

struct modelfile {
  std::string from;                                             // a .gguf path or a model name
  std::vector<std::pair<std::string, std::string>> parameters;  // in file order
  std::optional<std::string> system;
  std::vector<std::string> licenses;
  bool has_template = false;
};

// Errors name the line: "Modelfile line 3: unknown instruction 'FORM'".
result<modelfile> parse_modelfile(std::string_view text);

}  // namespace pocketlm::store
