// chat/ internals: one renderer per template family. Each mirrors its Jinja template statement by
// statement; the comments name the template branch a line reproduces.
#pragma once

#include <vector>

#include "chat/chat.h"

namespace pocketlm::chat::detail {

std::vector<piece> render_chatml(const std::vector<message>& msgs, const options& opt);
std::vector<piece> render_qwen3(const std::vector<message>& msgs, const options& opt);
std::vector<piece> render_deepseek_r1(const std::vector<message>& msgs, const options& opt);
std::vector<piece> render_llama3(const std::vector<message>& msgs, const options& opt);
std::vector<piece> render_llama2(const std::vector<message>& msgs, const options& opt);
std::vector<piece> render_mistral(const std::vector<message>& msgs, const options& opt);

}  // namespace pocketlm::chat::detail
