#include "server/http_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pocketlm::server {

namespace {

constexpr double k_mib = 1024.0 * 1024.0;
// Waits are cut into slices this long so that eviction and server stop are noticed.
constexpr int k_slice_ms = 100;

connection_stream::steady::time_point after(connection_stream::steady::time_point t, double seconds) {
  return t + std::chrono::duration_cast<connection_stream::steady::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

std::string endpoint_ip(int fd, bool peer, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  port = 0;
  if (rc != 0) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  }
  return buf;
}

bool socket_peer_connected(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  int rc;
  do rc = ::poll(&p, 1, 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return false;
  if (rc == 0) return true;  // nothing to read, no hang-up
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return false;
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return true;  // bytes waiting (a pipelined request): still there
  if (n == 0) return false;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

connection_stream::connection_stream(int fd, const connection_limits& lim, const std::atomic<socket_t>& listener,
                                     const std::atomic<int64_t>& waiting_since)
    : fd_(fd),
      lim_(lim),
      listener_(listener),
      waiting_since_(waiting_since),
      buf_(16 * 1024),
      body_limit_(lim.max_body_bytes) {}

void connection_stream::start_head(steady::time_point deadline) {
  phase_ = phase::head;
  deadline_ = deadline;
  head_bytes_ = 0;
  body_bytes_ = 0;
  declared_ = 0;
  body_limit_ = lim_.max_body_bytes;
  failure_ = stream_failure::none;
}

void connection_stream::start_body(uint64_t declared, size_t limit) {
  phase_ = phase::body;
  body_start_ = steady::now();
  declared_ = declared;
  body_limit_ = limit;
}

bool connection_stream::wait_for_request(steady::time_point deadline) {
  if (buf_off_ < buf_len_) return true;
  deadline_ = deadline;
  phase_ = phase::head;
  const bool ok = wait_readable();
  if (!ok && failure_ == stream_failure::head_timeout) failure_ = stream_failure::closed;  // idle: not an error
  return ok;
}

bool connection_stream::is_readable() const {
  return buf_off_ < buf_len_ || const_cast<connection_stream*>(this)->wait_readable();
}

bool connection_stream::is_writable() const {
  pollfd p{fd_, POLLOUT, 0};
  const int ms = static_cast<int>(lim_.write_timeout_s * 1000);
  int rc;
  do rc = ::poll(&p, 1, ms);
  while (rc < 0 && errno == EINTR);
  return rc > 0 && (p.revents & POLLOUT) && socket_peer_connected(fd_);
}

ssize_t connection_stream::read(char* ptr, size_t size) {
  if (phase_ == phase::body) {
    const size_t left = body_limit_ - std::min(body_limit_, body_bytes_);
    if (left == 0) {
      failure_ = stream_failure::body_too_large;
      return -1;
    }
    size = std::min(size, left);
  }
  if (buf_off_ == buf_len_) {
    if (!wait_readable()) return -1;
    ssize_t n;
    do n = ::recv(fd_, buf_.data(), buf_.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
      if (failure_ == stream_failure::none) failure_ = stream_failure::closed;
      return n;
    }
    buf_off_ = 0;
    buf_len_ = static_cast<size_t>(n);
  }
  const size_t n = std::min(size, buf_len_ - buf_off_);
  std::memcpy(ptr, buf_.data() + buf_off_, n);
  buf_off_ += n;
  (phase_ == phase::body ? body_bytes_ : head_bytes_) += n;
  return static_cast<ssize_t>(n);
}

ssize_t connection_stream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

void connection_stream::get_remote_ip_and_port(std::string& ip, int& port) const { ip = endpoint_ip(fd_, true, port); }
void connection_stream::get_local_ip_and_port(std::string& ip, int& port) const { ip = endpoint_ip(fd_, false, port); }

connection_stream::steady::time_point connection_stream::current_deadline() const {
  if (phase_ == phase::head) return deadline_;
  const double mib = static_cast<double>(std::max<uint64_t>(declared_, body_bytes_)) / k_mib;
  return after(body_start_, lim_.body_floor_s + lim_.body_s_per_mib * mib);
}

// Polls in slices until readable, the phase's deadline, eviction (only while waiting for a
// head) or server stop.
bool connection_stream::wait_readable() {
  for (;;) {
    const auto deadline = current_deadline();
    const auto now = steady::now();
    if (now >= deadline) {
      failure_ = phase_ == phase::head ? stream_failure::head_timeout : stream_failure::body_timeout;
      return false;
    }
    const auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, k_slice_ms)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) {
      failure_ = stream_failure::closed;
      return false;
    }
    if (phase_ == phase::head && waiting_since_.load() < 0) {
      failure_ = stream_failure::evicted;
      return false;
    }
    if (listener_.load() == INVALID_SOCKET) {
      failure_ = stream_failure::stopped;
      return false;
    }
  }
}

}  // namespace pocketlm::server
