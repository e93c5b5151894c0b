// The connection layer (server/http_connection.h) on a real loopback socket, driven with raw
// sockets as slow or hostile clients would: a head that never completes is 408 within the
// deadline, a declared body over the limit is 413 at once, a chunked body over the limit is 413
// before it is buffered, slow heads cannot starve a normal request out of a small pool, a pool
// busy in handlers answers 503 at once, and client_connected() sees a client leave.
#include "server/http_connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace pocketlm::server {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

// A connected loopback socket, closed on destruction.
struct raw_client {
  explicit raw_client(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~raw_client() {
    if (fd >= 0) ::close(fd);
  }
  bool send(const std::string& s) const {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the server closes or `timeout_s` passes.
  std::string read_all(double timeout_s) const {
    std::string out;
    const auto start = clock_type::now();
    char buf[4096];
    while (seconds_since(start) < timeout_s) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads one response (headers and a Content-Length body) without waiting for close.
  std::string read_response(double timeout_s) const {
    std::string out;
    const auto start = clock_type::now();
    char buf[4096];
    while (seconds_since(start) < timeout_s) {
      const size_t head_end = out.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t cl = out.find("Content-Length: ");
        const size_t len = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
        if (out.size() >= head_end + 4 + len) return out;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  int fd = -1;
  bool connected = false;
};

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

class ConnectionLayer : public ::testing::Test {
 protected:
  void start(connection_limits lim) {
    http_ = std::make_unique<guarded_server>(lim);
    http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      res.set_content("{\"error\":\"" + connection_failure_reason() + "\"}", "application/json");
      return httplib::Server::HandlerResponse::Handled;
    });
    http_->Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("pong", "text/plain"); });
    http_->Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    // Holds its worker until released, noting whether it saw its client leave.
    http_->Get("/hold", [this](const httplib::Request&, httplib::Response& res) {
      holding_.fetch_add(1);
      const auto start = clock_type::now();
      bool left = false;
      while (!release_.load() && seconds_since(start) < 10) {
        if (!client_connected()) {
          left = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      saw_leave_.store(left);
      res.set_content("held", "text/plain");
    });
    port_ = http_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { http_->listen_after_bind(); });
    for (int i = 0; i < 200 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  void TearDown() override {
    release_.store(true);
    if (http_) http_->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string get(const std::string& path, double timeout_s = 5) const {
    raw_client c(port_);
    c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    return c.read_all(timeout_s);
  }

  std::unique_ptr<guarded_server> http_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> holding_{0};
  std::atomic<bool> release_{false};
  std::atomic<bool> saw_leave_{false};
};

TEST_F(ConnectionLayer, IncompleteHeadIsAnswered408WithinTheDeadline) {
  connection_limits lim;
  lim.head_timeout_s = 0.5;
  start(lim);
  raw_client c(port_);
  const auto t0 = clock_type::now();
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n"));  // never ends the head
  const std::string r = c.read_all(5);
  const double took = seconds_since(t0);
  EXPECT_EQ(status_of(r), 408) << r;
  EXPECT_NE(r.find("request headers not received within 0.5 s"), std::string::npos) << r;
  EXPECT_LT(took, 3.0);
  EXPECT_GE(took, 0.4);
  EXPECT_EQ(http_->counters().head_timeouts.load(), 1);
  // A request line cut short gets the same answer (httplib itself would just close).
  raw_client d(port_);
  ASSERT_TRUE(d.send("GET /pi"));
  EXPECT_EQ(status_of(d.read_all(5)), 408);
}

TEST_F(ConnectionLayer, IdleKeepAliveConnectionIsClosedSilently) {
  connection_limits lim;
  lim.idle_timeout_s = 0.3;
  start(lim);
  raw_client c(port_);
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string first = c.read_response(5);
  EXPECT_EQ(status_of(first), 200) << first;
  const auto t0 = clock_type::now();
  const std::string rest = c.read_all(5);  // nothing more, then the close
  EXPECT_EQ(rest, "");
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_EQ(http_->counters().head_timeouts.load(), 0);
}

TEST_F(ConnectionLayer, DeclaredBodyOverTheLimitIs413AtOnceWithoutReadingIt) {
  connection_limits lim;
  lim.max_body_bytes = 1024;
  start(lim);
  raw_client c(port_);
  const auto t0 = clock_type::now();
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\nabc"));
  const std::string r = c.read_response(5);
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_EQ(status_of(r), 413) << r;
  EXPECT_NE(r.find("request body too large (limit 1 KiB, 1024 bytes)"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  // Garbage lengths are 400, not a body read until EOF.
  raw_client d(port_);
  ASSERT_TRUE(d.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 12abc\r\n\r\n"));
  const std::string r2 = d.read_response(5);
  EXPECT_EQ(status_of(r2), 400) << r2;
  EXPECT_NE(r2.find("invalid Content-Length '12abc'"), std::string::npos) << r2;
}

TEST_F(ConnectionLayer, ChunkedBodyOverTheLimitIs413BeforeItIsBuffered) {
  connection_limits lim;
  lim.max_body_bytes = 64 * 1024;
  start(lim);
  raw_client c(port_);
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(4096, 'x');
  char size_line[16];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  // Up to 1 MiB offered; the server stops reading past 64 KiB, so sends may fail: that is fine.
  for (int i = 0; i < 256; ++i) {
    if (!c.send(size_line + chunk + "\r\n")) break;
  }
  const std::string r = c.read_response(5);
  EXPECT_EQ(status_of(r), 413) << r.substr(0, 300);
  EXPECT_NE(r.find("request body too large (limit 64 KiB, 65536 bytes)"), std::string::npos) << r.substr(0, 300);
  EXPECT_EQ(http_->counters().bodies_too_large.load(), 1);
  // A chunked body under the limit is served.
  raw_client d(port_);
  ASSERT_TRUE(d.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     std::string(size_line) + chunk + "\r\n0\r\n\r\n"));
  const std::string ok = d.read_response(5);
  EXPECT_EQ(status_of(ok), 200) << ok;
  EXPECT_NE(ok.find("\r\n\r\n4096"), std::string::npos) << ok;
}

TEST_F(ConnectionLayer, SlowHeadsCannotStarveANormalRequest) {
  connection_limits lim;
  lim.max_connections = 4;
  lim.head_timeout_s = 20;  // longer than the test: only eviction can make room
  start(lim);
  std::vector<std::unique_ptr<raw_client>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::make_unique<raw_client>(port_));
    ASSERT_TRUE(slow.back()->connected);
    slow.back()->send("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // one header line, never the end
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto t0 = clock_type::now();
  const std::string r = get("/ping");
  EXPECT_EQ(status_of(r), 200) << r;
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_GE(http_->counters().evicted.load(), 1);
}

TEST_F(ConnectionLayer, PoolBusyInHandlersAnswers503AtOnce) {
  connection_limits lim;
  lim.max_connections = 2;
  start(lim);
  std::vector<std::future<std::string>> holders;
  for (int i = 0; i < 2; ++i) holders.push_back(std::async(std::launch::async, [this] { return get("/hold", 15); }));
  for (int i = 0; i < 500 && holding_.load() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(holding_.load(), 2);
  const auto t0 = clock_type::now();
  const std::string r = get("/ping");
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_EQ(status_of(r), 503) << r;
  EXPECT_NE(r.find("Retry-After: 1"), std::string::npos) << r;
  EXPECT_NE(r.find("server busy"), std::string::npos) << r;
  release_.store(true);
  for (auto& h : holders) EXPECT_EQ(status_of(h.get()), 200);
  EXPECT_EQ(status_of(get("/ping")), 200);  // room again
}

TEST_F(ConnectionLayer, ClientConnectedTurnsFalseWhenTheClientLeaves) {
  start(connection_limits{});
  EXPECT_TRUE(client_connected());  // no connection on this thread
  {
    raw_client c(port_);
    c.send("GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    for (int i = 0; i < 500 && holding_.load() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(holding_.load(), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }  // closed while the handler runs
  for (int i = 0; i < 500 && !saw_leave_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(saw_leave_.load());
  // A client that stays is seen as connected until the handler is released.
  saw_leave_.store(false);
  raw_client d(port_);
  d.send("GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  for (int i = 0; i < 500 && holding_.load() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  release_.store(true);
  EXPECT_EQ(status_of(d.read_response(5)), 200);
  EXPECT_FALSE(saw_leave_.load());
}

TEST(SocketPeerConnected, SeesCloseAndHalfCloseButNotPendingData) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  EXPECT_TRUE(socket_peer_connected(sv[0]));
  ASSERT_EQ(::send(sv[1], "x", 1, 0), 1);
  EXPECT_TRUE(socket_peer_connected(sv[0]));  // unread data is not a hang-up
  ::shutdown(sv[1], SHUT_WR);
  EXPECT_FALSE(socket_peer_connected(sv[0]));
  ::close(sv[1]);
  EXPECT_FALSE(socket_peer_connected(sv[0]));
  ::close(sv[0]);
  EXPECT_FALSE(socket_peer_connected(-1));
}

}  // namespace
}  // namespace pocketlm::server
