#include "server/server.h"

#include <httplib.h>
#include <zlib.h>

#include <cstdlib>
#include <memory>

#include "server/http_connection.h"
#include "server/http_origin.h"
#include "server/routes.h"
#include "server/web/web_page.h"

namespace pocketlm::server {

namespace {
connection_limits limits_of(const server_options& o) {
  connection_limits l;
  l.max_connections = std::max(4, o.http_threads);
  l.max_per_client = o.max_connections_per_client;
  l.head_timeout_s = o.head_timeout_s;
  l.idle_timeout_s = o.keep_alive_timeout_s;
  l.body_floor_s = o.body_floor_s;
  l.body_s_per_mib = o.body_s_per_mib;
  l.max_body_bytes = o.max_body_bytes;
  return l;
}

// Whether Accept-Encoding lets the response be gzip: a "gzip" (or "*") entry whose q is not 0.
bool accepts_gzip(std::string_view accept) {
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    const std::string params(item.substr(semi + 1));
    const size_t q = params.find("q=");
    return q == std::string::npos || std::strtod(params.c_str() + q + 2, nullptr) > 0;
  }
  return false;
}

// The file inside an embedded gzip stream (for the rare client that does not take gzip).
std::string gunzip(std::string_view gz) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return {};
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  return out;
}

// `data` (kept alive by `owner`, if any) through a content provider, which httplib sends as it is:
// a body set with set_content it would gzip for any Accept-Encoding that mentions gzip, q=0 too.
void send_as_is(httplib::Response& res, const std::string& type, std::string_view data,
                std::shared_ptr<const std::string> owner = nullptr) {
  res.set_content_provider(data.size(), type, [data, owner](size_t offset, size_t length, httplib::DataSink& sink) {
    return sink.write(data.data() + offset, length);
  });
}

// One web app file: gzipped bodies go out as stored with Content-Encoding: gzip, or inflated for
// a client that does not take gzip.
void send_web_asset(const web_asset& asset, const httplib::Request& req, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  const std::string type(asset.content_type);
  if (!asset.gzipped) {
    res.set_content(std::string(asset.body), type);
    return;
  }
  res.set_header("Vary", "Accept-Encoding");
  if (!accepts_gzip(req.get_header_value("Accept-Encoding"))) {
    auto plain = std::make_shared<const std::string>(gunzip(asset.body));
    send_as_is(res, type, *plain, plain);
    return;
  }
  res.set_header("Content-Encoding", "gzip");
  send_as_is(res, type, asset.body);
}

}  // namespace

struct server::impl {
  explicit impl(server_options o)
      : opt(std::move(o)),
        models(opt.models),
        ctx{models, counters},
        http(limits_of(opt)),
        origins(make_origin_policy(opt.host, opt.origins)) {
    // Generation asks between tokens whether its client is still there (issue 12 row 9).
    ctx.client_alive = [] { return client_connected(); };
  }
  server_options opt;
  model_manager models;
  server_counters counters;
  server_context ctx;
  guarded_server http;
  origin_policy origins;
};

namespace {

flavor flavor_of(const std::string& path) {
  if (path.rfind("/v1/messages", 0) == 0) return flavor::anthropic;
  return path.rfind("/api/", 0) == 0 ? flavor::ollama : flavor::openai;
}

// Constant-time compare: the key check must not leak how many leading bytes matched.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Answers a CORS preflight for an allowed origin (the page's own fetches, browser clients).
void answer_preflight(const httplib::Request& req, httplib::Response& res) {
  res.status = 204;
  res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, HEAD");
  const std::string asked = req.get_header_value("Access-Control-Request-Headers");
  res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
  res.set_header("Access-Control-Max-Age", "7200");
}

// Before any route: the Host check (DNS rebinding), the Origin check and CORS (pages of other
// sites), then the API key. The web app's own files need no key.
void install_request_guard(guarded_server& http, const origin_policy& policy, const std::string& key) {
  http.set_pre_routing_handler([&policy, key](const httplib::Request& req, httplib::Response& res) {
    const flavor f = flavor_of(req.path);
    const std::string host = req.get_header_value("Host");
    if (!host_allowed(policy, host)) {
      send_error(res, f,
                 api_error(403,
                           "host '" + host +
                               "' is not allowed: a server on loopback answers only "
                               "localhost, loopback addresses and this machine's name",
                           "", "forbidden"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      if (!origin_allowed(policy, origin, host)) {
        send_error(res, f,
                   api_error(403,
                             "origin '" + origin +
                                 "' is not allowed; allow it with --origins or "
                                 "POCKETLM_ORIGINS",
                             "", "forbidden"));
        return httplib::Server::HandlerResponse::Handled;
      }
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        answer_preflight(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // The web app's files (the page, its scripts, icons: GET only) and llama-server's /health
    // (public there too, for load balancers) need no key.
    const bool web_file = (req.method == "GET" || req.method == "HEAD") && find_web_asset(req.path) != nullptr;
    if (key.empty() || web_file || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) == 0 && same_secret(auth.substr(prefix.size()), key)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    // Anthropic's clients send the key as x-api-key.
    if (req.has_header("x-api-key") && same_secret(req.get_header_value("x-api-key"), key)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, f,
               api_error(401, auth.empty() ? "missing API key: send 'Authorization: Bearer KEY'" : "invalid API key",
                         "", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
}

// Errors httplib produces itself (unknown route 404, body too large 413, ...) get a JSON body.
void install_error_shapes(guarded_server& http, size_t max_body) {
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([max_body](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string msg = "not found: " + req.method + " " + req.path;
        const std::string cut_short = connection_failure_reason();
        if (!cut_short.empty())
          msg = cut_short;
        else if (res.status == 413)
          msg = body_too_large_message(max_body);
        else if (res.status != 404)
          msg = "HTTP error " + std::to_string(res.status);
        send_error(res, flavor_of(req.path), api_error(res.status, msg));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {}
    send_error(res, flavor_of(req.path), api_error(500, msg));
  });
}

}  // namespace

server::server(server_options opt) : impl_(std::make_unique<impl>(std::move(opt))) {
  auto& http = impl_->http;
  install_request_guard(http, impl_->origins, impl_->opt.api_key);
  install_error_shapes(http, impl_->opt.max_body_bytes);
  // The web app: each embedded file at its path. "no-cache" makes the browser revalidate, so a new
  // binary's page is seen at once; the service worker (sw.js) keeps a copy for offline starts.
  for (const web_asset& asset : web_assets()) {
    std::string pattern;  // httplib matches routes as regexes: the path's dots stand for themselves
    for (const char c : asset.path) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
    http.Get(pattern,
             [&asset](const httplib::Request& req, httplib::Response& res) { send_web_asset(asset, req, res); });
  }
  register_openai_routes(http, impl_->ctx);
  register_ollama_routes(http, impl_->ctx);
  register_ollama_model_routes(http, impl_->ctx);
  register_template_routes(http, impl_->ctx);
  register_openai_responses_routes(http, impl_->ctx);
  register_anthropic_routes(http, impl_->ctx);
  register_llama_server_routes(http, impl_->ctx);
  register_ollama_create_routes(http, impl_->ctx);
}

server::~server() { stop(); }

result<int> server::bind() {
  auto& http = impl_->http;
  const auto& o = impl_->opt;
  if (o.port == 0) {
    const int port = http.bind_to_any_port(o.host);
    if (port <= 0) return error{"cannot listen on " + o.host + ": no free port"};
    return port;
  }
  if (!http.bind_to_port(o.host, o.port)) {
    return error{"cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or not an address here)"};
  }
  return o.port;
}

void server::run() { impl_->http.listen_after_bind(); }

void server::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
}

model_manager& server::models() { return impl_->models; }
const server_counters& server::counters() const { return impl_->counters; }
const connection_counters& server::connections() const { return impl_->http.counters(); }

}  // namespace pocketlm::server
