// How Ollama's CLI prints sizes, ages and parameter counts (format/bytes.go, format/time.go),
// so `list`, `show` and `ps` read the same as Ollama's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pocketlm::store {

std::string human_bytes(int64_t b);          // "1.2 MB", "938 KB", "512 B" (powers of 1000)
std::string human_age(int64_t seconds_ago);  // "2 minutes ago", "About an hour ago"
std::string human_count(uint64_t n);         // "494.03M", "1.5B", "292.99K"
// Left-aligned columns separated by four spaces, header first (Ollama's tablewriter setup).
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace pocketlm::store
