// chat/: the markup of tool calls as the corpus templates write it (tools/chat_corpus.py: Qwen 2.5
// and Hermes 2 Pro, Llama 3.1-3.3, Mistral Nemo and Devstral, DeepSeek R1 and V3.1), shared by
// syntax detection (tool_syntax.cpp) and the parser (tool_calls.cpp). Internal to chat/.
#pragma once

#include <string_view>

namespace pocketlm::chat {

inline constexpr std::string_view hermes_open = "<tool_call>";
inline constexpr std::string_view hermes_close = "</tool_call>";
inline constexpr std::string_view llama_open = "{\"name\"";
inline constexpr std::string_view llama_python_tag = "<|python_tag|>";
inline constexpr std::string_view mistral_open = "[TOOL_CALLS]";
inline constexpr std::string_view mistral_args = "[ARGS]";
inline constexpr std::string_view mistral_call_id = "[CALL_ID]";
inline constexpr std::string_view deepseek_calls_begin = "<｜tool▁calls▁begin｜>";
inline constexpr std::string_view deepseek_calls_end = "<｜tool▁calls▁end｜>";
inline constexpr std::string_view deepseek_call_begin = "<｜tool▁call▁begin｜>";
inline constexpr std::string_view deepseek_call_end = "<｜tool▁call▁end｜>";
inline constexpr std::string_view deepseek_sep = "<｜tool▁sep｜>";
inline constexpr std::string_view deepseek_json_fence = "```json";
inline constexpr std::string_view deepseek_fence = "```";

}  // namespace pocketlm::chat
