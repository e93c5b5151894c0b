#include "server/http_origin.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace pocketlm::server {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "[::1]:80" -> "::1", "localhost:80" -> "localhost", "::1" -> "::1" (a bare IPv6 has colons).
std::string host_without_port(const std::string& authority) {
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(1, close - 1);
  }
  const size_t colon = authority.find(':');
  if (colon != std::string::npos && authority.find(':', colon + 1) == std::string::npos)
    return authority.substr(0, colon);
  return authority;
}

bool is_ip_literal(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// http(s)://H or http(s)://H:PORT with H a loopback (or unspecified) name.
bool is_loopback_origin(const std::string& origin) {
  size_t rest;
  if (origin.rfind("http://", 0) == 0)
    rest = 7;
  else if (origin.rfind("https://", 0) == 0)
    rest = 8;
  else
    return false;
  const std::string authority = origin.substr(rest);
  std::string host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      port = authority.substr(close + 2);
      if (!all_digits(port)) return false;
    }
  } else if (const size_t colon = authority.find(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (!all_digits(port)) return false;
  }
  return host == "localhost" || host == "127.0.0.1" || host == "0.0.0.0" || host == "[::1]";
}

const char* const k_app_origins[] = {"app://*",           "file://*",
                                     "tauri://*",         "vscode-webview://*",
                                     "vscode-file://*",   "chrome-extension://*",
                                     "moz-extension://*", "safari-web-extension://*"};

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) {
  const std::string p = lower(pattern), t = lower(text);
  // Iterative match with backtracking to the last '*'.
  size_t pi = 0, ti = 0, star = std::string::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi, ++ti;
    } else if (star != std::string::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::vector<std::string> split_origin_list(const std::string& csv) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string::npos) end = csv.size();
    std::string item = csv.substr(start, end - start);
    const size_t b = item.find_first_not_of(" \t\"'"), e = item.find_last_not_of(" \t\"'");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    start = end + 1;
  }
  return out;
}

origin_policy make_origin_policy(const std::string& host, const std::vector<std::string>& extra) {
  origin_policy p;
  p.listen_host = host;
  p.check_host = is_loopback_host(host);
  if (const char* env = std::getenv("POCKETLM_ORIGINS")) p.extra_origins = split_origin_list(env);
  p.extra_origins.insert(p.extra_origins.end(), extra.begin(), extra.end());
  return p;
}

bool is_loopback_host(const std::string& host) {
  std::string h = lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h == "::1") return true;
  unsigned char buf[16];
  if (h.rfind("::ffff:", 0) == 0 && inet_pton(AF_INET, h.c_str() + 7, buf) == 1) return buf[0] == 127;
  return inet_pton(AF_INET, h.c_str(), buf) == 1 && buf[0] == 127;
}

std::string url_authority(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool origin_allowed(const origin_policy& p, const std::string& origin, const std::string& host_header) {
  const std::string o = lower(origin);
  if (is_loopback_origin(o)) return true;
  if (!host_header.empty() && (o == "http://" + lower(host_header) || o == "https://" + lower(host_header)))
    return true;
  for (const char* pattern : k_app_origins) {
    if (glob_match(pattern, o)) return true;
  }
  for (const auto& pattern : p.extra_origins) {
    if (glob_match(pattern, o)) return true;
  }
  return false;
}

bool host_allowed(const origin_policy& p, const std::string& host_header) {
  if (!p.check_host) return true;
  const std::string h = lower(host_without_port(host_header));
  if (h.empty() || h == "localhost" || ends_with(h, ".localhost") || is_ip_literal(h)) return true;
  std::string listen = lower(p.listen_host);
  if (listen.size() > 2 && listen.front() == '[') listen = listen.substr(1, listen.size() - 2);
  if (h == listen) return true;
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 && h == lower(name);
}

}  // namespace pocketlm::server
