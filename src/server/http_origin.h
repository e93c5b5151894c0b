// Which web pages and which Host names may use the API (CSRF and DNS-rebinding defence), as
// Ollama decides it (envconfig OLLAMA_ORIGINS, server/routes.go allowedHostsMiddleware):
//   - A request carrying an Origin header is served only when that origin is allowed: loopback
//     pages (http(s)://localhost, 127.0.0.1, 0.0.0.0, [::1], any port), the server's own origin
//     (Origin equal to http(s):// + Host), app://, file://, tauri://, vscode-webview://,
//     vscode-file:// and browser-extension pages, and the patterns given by `--origins` or
//     $POCKETLM_ORIGINS (`*` matches any run of characters; `*` alone allows every origin).
//     Requests without Origin (curl, SDKs) are not browser pages and pass.
//   - When the server listens on loopback, the Host header must name this machine: empty,
//     localhost, *.localhost, an IP literal, the machine's hostname or the listen address. A DNS
//     rebinding page always sends its own domain name there.
// Pure functions over strings; server.cpp applies them in its pre-routing handler.
#pragma once

#include <string>
#include <vector>

namespace pocketlm::server {

struct origin_policy {
  std::vector<std::string> extra_origins;  // patterns from --origins / $POCKETLM_ORIGINS
  bool check_host = true;                  // the listener is on loopback
  std::string listen_host;                 // as given to --host
};

// "a, b,c" -> {"a", "b", "c"}; blanks and quotes around items are dropped.
std::vector<std::string> split_origin_list(const std::string& csv);

// The policy for a server listening on `host`, with $POCKETLM_ORIGINS and `extra` (--origins).
origin_policy make_origin_policy(const std::string& host, const std::vector<std::string>& extra);

bool origin_allowed(const origin_policy& p, const std::string& origin, const std::string& host_header);
bool host_allowed(const origin_policy& p, const std::string& host_header);

// 127.0.0.0/8, ::1 (with or without brackets), ::ffff:127.x and "localhost".
bool is_loopback_host(const std::string& host);

// host:port as it goes in a URL: IPv6 literals in brackets ("[::1]:11435").
std::string url_authority(const std::string& host, int port);

// '*' matches any run of characters (none included); case-insensitive.
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace pocketlm::server
