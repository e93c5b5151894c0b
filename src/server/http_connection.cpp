#include "server/http_connection.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

namespace pocketlm::server {

namespace {

using steady = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

steady::time_point after(steady::time_point t, double seconds) {
  return t + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
}

using failure = stream_failure;

bool is_loopback_ip(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

// Sends all of `data` without blocking longer than the socket's send timeout; best effort.
void send_all(int fd, const std::string& data, int flags = 0) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, flags | MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

// A complete response written by the layer itself (no request object to hand to httplib).
std::string raw_response(int status, const char* reason, const std::string& json_body, bool retry_after) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  r += "Content-Type: application/json\r\nConnection: close\r\n";
  if (retry_after) r += "Retry-After: 1\r\n";
  r += "Content-Length: " + std::to_string(json_body.size()) + "\r\n\r\n" + json_body;
  return r;
}

// The error body in the shape of the API the request was for (OpenAI under /v1/, else Ollama).
std::string error_json(const std::string& head, const std::string& message, const char* code) {
  std::string escaped;
  for (char ch : message) {
    if (ch == '"' || ch == '\\') escaped += '\\';
    escaped += ch;
  }
  const size_t sp = head.find(' ');
  const bool openai = sp != std::string::npos && head.compare(sp + 1, 4, "/v1/") == 0;
  if (openai) {
    return R"({"error":{"message":")" + escaped + R"(","type":"server_error","param":null,"code":")" + code + "\"}}";
  }
  return R"({"error":")" + escaped + "\"}";
}

// Closes after an early answer (413, 408, 503) without resetting the connection under the
// client's feet: FIN first, then read and drop what the client is still sending for a moment,
// so that it reads the answer instead of ECONNRESET.
void lingering_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = after(steady::now(), 0.5);
  std::vector<char> scratch(16 * 1024);
  size_t drained = 0;
  while (steady::now() < until && drained < (64u << 20)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
    if (n > 0) drained += static_cast<size_t>(n);
  }
  ::close(fd);
}

// The thread's connection, for client_connected() and the layer's handlers.
thread_local guarded_server::connection* t_current = nullptr;
// Set while the accept thread runs a connection that the pool has no room for.
thread_local bool t_refuse = false;

}  // namespace

struct guarded_server::connection {
  connection(int s, const connection_limits& lim, const std::atomic<socket_t>& listener)
      : fd(s), limits(lim), waiting_since(now_ns()), stream(s, lim, listener, waiting_since) {
    int port = 0;
    ip = endpoint_ip(s, true, port);
    loopback = is_loopback_ip(ip);
  }
  int fd;
  const connection_limits& limits;
  std::string ip;
  bool loopback = false;
  // > 0: waiting for a request head since then (evictable); 0: in a request; < 0: evicted.
  std::atomic<int64_t> waiting_since;
  connection_stream stream;
  bool close_after = false;  // an early answer left the body unread
  std::string early_reason;  // why the layer answered before reading the body
};

namespace {

// Every body is read whole into req.body, whatever its Content-Type: Ollama's documented
// `curl -d '{...}'` sends application/x-www-form-urlencoded, which httplib would cap at 8 KB
// (its form limit, not ours) and multipart/form-data, which it would split into parts. The
// routes parse JSON from the raw body, so such types are relabelled before the body is read.
void accept_any_body_type(httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  if (type.find("application/x-www-form-urlencoded") == std::string::npos &&
      type.find("multipart/form-data") == std::string::npos) {
    return;
  }
  req.headers.erase("Content-Type");
  req.headers.emplace("Content-Type", "application/octet-stream");
}

// The task queue httplib's accept loop hands connections to: `n` workers, one connection each.
// With no worker free it asks `make_room` to evict a waiting connection (whose worker then takes
// this one); failing that, the accept thread itself answers 503 and closes (t_refuse).
class connection_pool final : public httplib::TaskQueue {
 public:
  connection_pool(size_t n, std::function<bool()> make_room) : n_(n), make_room_(std::move(make_room)) {
    for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
  }
  ~connection_pool() override = default;

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (busy_ + jobs_.size() < n_ || make_room_()) {
        jobs_.push_back(std::move(fn));
        cv_.notify_one();
        return;
      }
    }
    t_refuse = true;
    fn();
    t_refuse = false;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
        ++busy_;
      }
      fn();
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
  }

  const size_t n_;
  std::function<bool()> make_room_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", s);
  return buf;
}

std::string failure_reason(const guarded_server::connection& c) {
  const connection_limits& lim = c.limits;
  switch (c.stream.failed()) {
    case failure::body_too_large: return body_too_large_message(c.stream.body_limit());
    case failure::head_timeout: return "request headers not received within " + seconds_text(lim.head_timeout_s) + " s";
    case failure::body_timeout:
      return "request body not received in time (" + std::to_string(c.stream.body_bytes()) + " bytes in " +
             seconds_text(lim.body_floor_s) + " s + " + seconds_text(lim.body_s_per_mib) + " s per MiB)";
    default: return c.early_reason;
  }
}

// The declared Content-Length: 0 when absent, nullopt when it is not a number, UINT64_MAX when
// it is one too large for 64 bits.
std::optional<uint64_t> declared_length(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return 0;
  const std::string v = req.get_header_value("Content-Length");
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
  return errno == ERANGE ? UINT64_MAX : n;
}

}  // namespace

bool client_connected() { return t_current == nullptr || socket_peer_connected(t_current->fd); }

std::string body_too_large_message(size_t limit_bytes) {
  std::string limit = std::to_string(limit_bytes) + " bytes";
  if (limit_bytes >= (1u << 20) && limit_bytes % (1u << 20) == 0) {
    limit = std::to_string(limit_bytes >> 20) + " MiB, " + limit;
  } else if (limit_bytes >= (1u << 10) && limit_bytes % (1u << 10) == 0) {
    limit = std::to_string(limit_bytes >> 10) + " KiB, " + limit;
  }
  return "request body too large (limit " + limit + ")";
}

size_t body_limit_for(const connection_limits& limits, const std::string& method, const std::string& path) {
  const bool upload = method == "POST" && path.rfind("/api/blobs/", 0) == 0;
  return upload ? std::max(limits.max_body_bytes, limits.max_upload_bytes) : limits.max_body_bytes;
}

std::string connection_failure_reason() { return t_current == nullptr ? "" : failure_reason(*t_current); }

guarded_server::guarded_server(connection_limits limits) : limits_(limits) {
  limits_.max_connections = std::max(1, limits_.max_connections);
  if (limits_.max_per_client <= 0) limits_.max_per_client = std::max(1, limits_.max_connections / 4);
  // httplib's own cap on a declared Content-Length, for every route: the largest limit. Each
  // request's own limit is enforced below (pre-routing) and by the stream (every body byte).
  set_payload_max_length(std::max(limits_.max_body_bytes, limits_.max_upload_bytes));
  const auto write_s = static_cast<time_t>(limits_.write_timeout_s);
  set_write_timeout(write_s, 0);  // SO_SNDTIMEO on accepted sockets: a blocked send returns
  set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, limits_.idle_timeout_s)));  // the Keep-Alive hint
  set_keep_alive_max_count(limits_.max_requests_per_connection);
  new_task_queue = [this] {
    return new connection_pool(static_cast<size_t>(limits_.max_connections),
                               [this] { return evict_longest_waiting(); });
  };
  set_pre_routing_handler(nullptr);
  set_error_handler(nullptr);
  // A request answered without its body being read (403, 401, 413, a route that ignores it):
  // the rest of the body would parse as the next request, so this response closes the connection.
  set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (t_current == nullptr) return;
    const auto declared = declared_length(req);
    const bool chunked = req.has_header("Transfer-Encoding");
    const size_t read = t_current->stream.body_bytes();
    if ((chunked && read == 0) || (!chunked && declared && *declared > read)) {
      t_current->close_after = true;
      if (res.get_header_value("Connection") != "close") res.set_header("Connection", "close");
    }
  });
}

guarded_server::~guarded_server() = default;

guarded_server& guarded_server::set_pre_routing_handler(HandlerWithResponse handler) {
  pre_routing_ = std::move(handler);
  Server::set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // A declared body over the limit is refused before a byte of it is read.
    const auto declared = declared_length(req);
    if (t_current != nullptr && !declared && !req.has_header("Transfer-Encoding")) {
      t_current->close_after = true;
      t_current->early_reason = "invalid Content-Length '" + req.get_header_value("Content-Length") + "'";
      res.status = 400;
      res.set_header("Connection", "close");
      return HandlerResponse::Handled;
    }
    if (t_current != nullptr && declared && *declared > t_current->stream.body_limit() &&
        !req.has_header("Transfer-Encoding")) {
      counters_.bodies_too_large.fetch_add(1);
      t_current->close_after = true;
      t_current->early_reason = body_too_large_message(t_current->stream.body_limit());
      res.status = 413;
      res.set_header("Connection", "close");
      return HandlerResponse::Handled;
    }
    return pre_routing_ ? pre_routing_(req, res) : HandlerResponse::Unhandled;
  });
  return *this;
}

guarded_server& guarded_server::set_error_handler(HandlerWithResponse handler) {
  error_ = std::move(handler);
  Server::set_error_handler(HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    // httplib reports a body or head cut short by the stream as 400: say what happened.
    if (t_current != nullptr) {
      switch (t_current->stream.failed()) {
        case failure::body_too_large:
          res.status = 413;
          counters_.bodies_too_large.fetch_add(1);
          break;
        case failure::head_timeout:
        case failure::body_timeout: res.status = 408; break;
        default: break;
      }
      if (t_current->stream.failed() != failure::none || t_current->close_after) {
        t_current->close_after = true;
        if (res.get_header_value("Connection") != "close") res.set_header("Connection", "close");
      }
    }
    return error_ ? error_(req, res) : HandlerResponse::Unhandled;
  }));
  return *this;
}

bool guarded_server::admit(connection& c) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  if (!c.loopback) {
    const auto same =
        std::count_if(registry_.begin(), registry_.end(), [&](const connection* o) { return o->ip == c.ip; });
    if (same >= limits_.max_per_client) return false;
  }
  registry_.push_back(&c);
  return true;
}

void guarded_server::retire(connection& c) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  registry_.remove(&c);
}

bool guarded_server::evict_longest_waiting() {
  std::lock_guard<std::mutex> lock(registry_mu_);
  for (;;) {
    connection* oldest = nullptr;
    int64_t since = INT64_MAX;
    for (connection* c : registry_) {
      const int64_t w = c->waiting_since.load();
      if (w > 0 && w < since) since = w, oldest = c;
    }
    if (oldest == nullptr) return false;
    // Lost the race with its head completing: look again.
    if (oldest->waiting_since.compare_exchange_strong(since, -1)) {
      // Wakes its worker now. Safe under the lock: a connection leaves the registry before its
      // socket is closed, so this fd is still that connection's.
      ::shutdown(oldest->fd, SHUT_RD);
      counters_.evicted.fetch_add(1);
      return true;
    }
  }
}

bool guarded_server::process_and_close_socket(socket_t sock) {
  counters_.accepted.fetch_add(1);
  connection c(sock, limits_, svr_sock_);
  std::string head;  // what the client sent already, to answer in its API's shape
  if (t_refuse || !admit(c)) {
    char peek[64];
    const ssize_t n = ::recv(sock, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) head.assign(peek, static_cast<size_t>(n));
    const bool busy = t_refuse;
    (busy ? counters_.refused_busy : counters_.refused_per_client).fetch_add(1);
    const std::string msg =
        busy
            ? "server busy: all " + std::to_string(limits_.max_connections) + " connections are serving requests; retry"
            : "too many connections from " + c.ip + " (limit " + std::to_string(limits_.max_per_client) + ")";
    send_all(sock, raw_response(503, "Service Unavailable", error_json(head, msg, "server_busy"), true), MSG_DONTWAIT);
    if (busy) {
      ::shutdown(sock, SHUT_WR);
      ::close(sock);  // on the accept thread: no lingering
    } else {
      lingering_close(sock);
    }
    return false;
  }
  counters_.open.fetch_add(1);
  t_current = &c;
  serve_requests(c);
  t_current = nullptr;
  retire(c);
  counters_.open.fetch_sub(1);
  if (c.close_after) {
    lingering_close(sock);
  } else {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
  return true;
}

// httplib's keep-alive loop (process_server_socket_core), with the layer's deadlines.
void guarded_server::serve_requests(connection& c) {
  const auto accepted = steady::now();
  for (size_t served = 0; served < limits_.max_requests_per_connection && svr_sock_ != INVALID_SOCKET; ++served) {
    if (served > 0) {
      c.waiting_since.store(now_ns());
      if (!c.stream.wait_for_request(after(steady::now(), limits_.idle_timeout_s))) return;
    }
    // The first head is due head_timeout after accept; later ones after their first byte.
    c.stream.start_head(after(served == 0 ? accepted : steady::now(), limits_.head_timeout_s));
    c.early_reason.clear();
    const bool last = served + 1 == limits_.max_requests_per_connection;
    bool client_closes = false;
    const bool ok = process_request(c.stream, last, client_closes, [this, &c](httplib::Request& req) {
      accept_any_body_type(req);
      // The head is complete: no longer evictable; the body's deadline starts.
      int64_t w = c.waiting_since.load();
      while (w > 0 && !c.waiting_since.compare_exchange_weak(w, 0)) {}
      if (w < 0) c.waiting_since.store(0);  // evicted as its head completed: the body read fails
      c.stream.start_body(declared_length(req).value_or(0), body_limit_for(limits_, req.method, req.path));
    });
    const failure f = c.stream.failed();
    if (f == failure::head_timeout) counters_.head_timeouts.fetch_add(1);
    if (f == failure::body_timeout) counters_.body_timeouts.fetch_add(1);
    if (!ok) {
      // The request line itself never completed: httplib wrote nothing. Answer a late head.
      if (f == failure::head_timeout && c.stream.head_bytes() > 0) {
        send_all(c.fd, raw_response(408, "Request Timeout", error_json("", failure_reason(c), "timeout"), false));
        c.close_after = true;
      }
      return;
    }
#ifdef __GLIBC__
    // Large bodies leave their pages in this thread's malloc arena: give them back.
    if (c.stream.body_bytes() >= (1u << 20)) malloc_trim(0);
#endif
    if (client_closes || last || c.close_after || f != failure::none) return;
  }
}

}  // namespace pocketlm::server
