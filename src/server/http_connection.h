// The HTTP connection layer under cpp-httplib 0.11: a Server subclass that runs each connection's
// keep-alive loop itself over its own Stream, so that it can enforce what httplib does not:
//   - a deadline for the request head (request line + headers), counted from accept or from the
//     end of the previous response; a late head is answered 408 and the connection closed;
//   - a deadline for the body, a floor plus time per MiB of its size (declared or received);
//   - an idle keep-alive timeout;
//   - the body limit on every body (Content-Length, chunked, or until EOF): 413 before more than
//     the limit is buffered; a declared Content-Length over the limit is a 413 at once, unread.
//     One route has a larger limit: the blob upload, streamed to disk (body_limit_for);
//   - a bounded pool: at most `max_connections` connections served at once. When a new one
//     arrives and all are taken, the connection that has waited longest for a request head (idle
//     keep-alive or a slow head) is closed to make room; when every one is busy in a handler, the
//     new connection is answered 503 at once. A non-loopback client IP holds at most
//     `max_per_client` of them.
// It also tells a handler whether its client is still connected (client_connected()).
// The per-connection Stream and the limits live in http_stream.h. Uses only httplib and POSIX
// sockets; server.cpp builds the API server on it.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>

#include "server/http_stream.h"

namespace pocketlm::server {

// Counters for logs and tests.
struct connection_counters {
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> refused_busy{0};        // answered 503: pool full, nothing to evict
  std::atomic<int64_t> refused_per_client{0};  // answered 503: that client IP has its share
  std::atomic<int64_t> evicted{0};             // closed while waiting for a head, to make room
  std::atomic<int64_t> head_timeouts{0};
  std::atomic<int64_t> body_timeouts{0};
  std::atomic<int64_t> bodies_too_large{0};
  std::atomic<int> open{0};  // connections being served now
};

// Whether the client of the request this thread is serving is still connected: false once it
// closed or reset its socket (or shut down its sending side), without reading the body or
// waiting. True on a thread that serves no request. Cheap (one poll, maybe one peek): call it
// between tokens.
bool client_connected();

// Why the current request failed in the connection layer, for the error handler's message:
// "" when it did not (an ordinary httplib error), else e.g. "request body too large (limit N
// bytes)".
std::string connection_failure_reason();

// "request body too large (limit 8 MiB, 8388608 bytes)": the one wording of a 413.
std::string body_too_large_message(size_t limit_bytes);

// The body limit of a request: max_body_bytes, except for POST /api/blobs/<digest> (a model file
// upload, whose route streams the body to disk), which gets max_upload_bytes.
size_t body_limit_for(const connection_limits& limits, const std::string& method, const std::string& path);

class guarded_server : public httplib::Server {
 public:
  explicit guarded_server(connection_limits limits);
  ~guarded_server() override;

  // These hide httplib's: the layer runs its own checks first (an oversized Content-Length, the
  // status of a request it cut short), then the given handler. The post-routing handler is the
  // layer's own (it closes connections whose request body was left unread): do not replace it.
  guarded_server& set_pre_routing_handler(HandlerWithResponse handler);
  guarded_server& set_error_handler(HandlerWithResponse handler);

  const connection_limits& limits() const { return limits_; }
  const connection_counters& counters() const { return counters_; }

  struct connection;  // one served connection (http_connection.cpp)

 private:
  bool process_and_close_socket(socket_t sock) override;
  void serve_requests(connection& c);
  // Registry of served connections: for the per-client cap and eviction.
  bool admit(connection& c);
  void retire(connection& c);
  bool evict_longest_waiting();

  connection_limits limits_;
  connection_counters counters_;
  HandlerWithResponse pre_routing_;
  HandlerWithResponse error_;
  std::mutex registry_mu_;
  std::list<connection*> registry_;
};

}  // namespace pocketlm::server
