// What the OpenAI route files (openai.cpp, openai_responses.cpp) share: object ids and times.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "server/api.h"

namespace pocketlm::server {

// `prefix` ("chatcmpl-", "resp_") then the time in ms and a counter, in hex: unique per server.
inline std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llx%06llx", prefix, static_cast<unsigned long long>(now_unix_ns() / 1000000),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xffffff));
  return buf;
}

inline int64_t unix_now() { return now_unix_ns() / 1000000000; }

}  // namespace pocketlm::server
