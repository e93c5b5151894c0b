// The httplib::Stream the connection layer (http_connection.h) serves one connection through,
// and the limits it enforces: reads go through a buffer that lives as long as the connection
// (a pipelined request is not lost between requests), under the deadline of the current phase
// (request head, then body), counting body bytes against the limit; waits are cut into slices
// so that eviction and server stop are noticed. POSIX sockets only.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pocketlm::server {

struct connection_limits {
  int max_connections = 64;    // connections served at once (one worker thread each)
  int max_per_client = 0;      // per non-loopback client IP; 0: max_connections / 4 (at least 1)
  double head_timeout_s = 10;  // request line + headers complete within this
  double idle_timeout_s = 5;   // keep-alive: wait this long for the next request
  double body_floor_s = 10;    // body deadline: floor + body_s_per_mib per MiB of the body
  double body_s_per_mib = 10;
  double write_timeout_s = 30;       // one blocked write to a client that does not read
  size_t max_body_bytes = 8u << 20;  // bytes on the wire, chunk framing included
  // The one exception to max_body_bytes: POST /api/blobs/<digest> (Ollama's model upload, GBs)
  // may send this many. Its route streams the body to disk as it arrives (a ContentReader
  // handler), never into memory; see body_limit_for (http_connection.h).
  size_t max_upload_bytes = size_t{1} << 40;  // 1 TiB
  size_t max_requests_per_connection = 100;
};

// The same test as client_connected() on any socket: false when the peer has closed, reset or
// half-closed it; pending unread bytes do not count as gone.
bool socket_peer_connected(int fd);

// One end of a socket as text ("127.0.0.1", "::1"); "" when unknown.
std::string endpoint_ip(int fd, bool peer, int& port);

enum class stream_failure { none, head_timeout, body_timeout, body_too_large, evicted, stopped, closed };

class connection_stream final : public httplib::Stream {
 public:
  using steady = std::chrono::steady_clock;

  // `listener` goes INVALID_SOCKET when the server stops; `waiting_since` < 0 means evicted.
  connection_stream(int fd, const connection_limits& lim, const std::atomic<socket_t>& listener,
                    const std::atomic<int64_t>& waiting_since);

  // The next request's head must be complete by `deadline`.
  void start_head(steady::time_point deadline);
  // Headers are parsed: the body (if any) may take floor + per-MiB time of its size (declared,
  // or received so far when it is chunked), and at most `limit` bytes (the request's limit).
  void start_body(uint64_t declared, size_t limit);
  // Waits up to `deadline` for the first byte of a next request (keep-alive); false when idle
  // too long, closed, evicted or stopping.
  bool wait_for_request(steady::time_point deadline);

  stream_failure failed() const { return failure_; }
  size_t head_bytes() const { return head_bytes_; }
  size_t body_bytes() const { return body_bytes_; }
  size_t body_limit() const { return body_limit_; }  // the current request's

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  enum class phase { head, body };
  steady::time_point current_deadline() const;
  bool wait_readable();

  int fd_;
  const connection_limits& lim_;
  const std::atomic<socket_t>& listener_;
  const std::atomic<int64_t>& waiting_since_;
  std::vector<char> buf_;
  size_t buf_off_ = 0, buf_len_ = 0;
  phase phase_ = phase::head;
  steady::time_point deadline_{}, body_start_{};
  uint64_t declared_ = 0;
  size_t head_bytes_ = 0, body_bytes_ = 0;
  size_t body_limit_;
  stream_failure failure_ = stream_failure::none;
};

}  // namespace pocketlm::server
