#include "server/server.h"

#include <httplib.h>

#include "server/routes.h"
#include "server/web/web_page.h"

namespace pocketlm::server {

struct server::impl {
  explicit impl(server_options o) : opt(std::move(o)), models(opt.models), ctx{models, counters} {}
  server_options opt;
  model_manager models;
  server_counters counters;
  server_context ctx;
  httplib::Server http;
};

namespace {

flavor flavor_of(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 ? flavor::openai : flavor::ollama;
}

// Constant-time compare: the key check must not leak how many leading bytes matched.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void install_auth(httplib::Server& http, const std::string& key) {
  if (key.empty()) return;
  http.set_pre_routing_handler([key](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/") return httplib::Server::HandlerResponse::Unhandled;  // the page itself
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) == 0 && same_secret(auth.substr(prefix.size()), key)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, flavor_of(req.path),
               api_error(401, auth.empty() ? "missing API key: send 'Authorization: Bearer KEY'" : "invalid API key",
                         "", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
}

// Errors httplib produces itself (unknown route 404, body too large 413, ...) get a JSON body.
void install_error_shapes(httplib::Server& http, size_t max_body) {
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = "not found: " + req.method + " " + req.path;
    if (res.status == 413) msg = "request body too large (limit " + std::to_string(max_body) + " bytes)";
    else if (res.status != 404) msg = "HTTP error " + std::to_string(res.status);
    send_error(res, flavor_of(req.path), api_error(res.status, msg));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    send_error(res, flavor_of(req.path), api_error(500, msg));
  });
}

}  // namespace

server::server(server_options opt) : impl_(std::make_unique<impl>(std::move(opt))) {
  auto& http = impl_->http;
  const int threads = std::max(4, impl_->opt.http_threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(impl_->opt.max_body_bytes);
  http.set_read_timeout(30);
  http.set_write_timeout(30);
  install_auth(http, impl_->opt.api_key);
  install_error_shapes(http, impl_->opt.max_body_bytes);
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(k_web_page), "text/html; charset=utf-8");
  });
  register_openai_routes(http, impl_->ctx);
  register_ollama_routes(http, impl_->ctx);
  register_ollama_model_routes(http, impl_->ctx);
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

}  // namespace pocketlm::server
