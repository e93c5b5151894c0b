// The one exception to the connection layer's body limit (server/http_connection.h): POST
// /api/blobs/<digest>, a model upload its route streams to disk, may send max_upload_bytes;
// every other request keeps max_body_bytes, declared, chunked or until EOF.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "server/http_connection.h"

namespace pocketlm::server {
namespace {

using clock_type = std::chrono::steady_clock;

// Sends a whole request on a fresh loopback connection and reads until the server closes.
std::string round_trip(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  for (size_t off = 0; off < request.size();) {
    const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before the body is all sent
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  const auto start = clock_type::now();
  while (clock_type::now() - start < std::chrono::seconds(5)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int status_of(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
}

std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string post_chunked(const std::string& path, const std::string& body) {
  std::string r =
      "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 4096) {
    const std::string part = body.substr(off, 4096);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    r += size + part + "\r\n";
  }
  return r + "0\r\n\r\n";
}

class UploadLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    connection_limits lim;
    lim.max_body_bytes = 1024;
    lim.max_upload_bytes = 64 * 1024;
    http_ = std::make_unique<guarded_server>(lim);
    http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      res.set_content(connection_failure_reason(), "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
    // As the real upload route: the body streamed through a ContentReader, never buffered.
    const auto count = [](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& read) {
      size_t n = 0;
      const bool whole = read([&](const char*, size_t len) { return n += len, true; });
      res.status = whole ? 200 : 400;
      if (whole) res.set_content(std::to_string(n), "text/plain");
    };
    http_->Post(R"(/api/blobs/([^/]+))", count);
    http_->Post("/api/blobsx", count);
    http_->Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    port_ = http_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { http_->listen_after_bind(); });
    for (int i = 0; i < 200 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void TearDown() override {
    http_->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::unique_ptr<guarded_server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace

TEST(UploadLimitFor, OnlyPostUnderApiBlobs) {
  connection_limits lim;
  lim.max_body_bytes = 1024;
  lim.max_upload_bytes = 1 << 20;
  EXPECT_EQ(body_limit_for(lim, "POST", "/api/blobs/sha256:abc"), size_t{1} << 20);
  EXPECT_EQ(body_limit_for(lim, "PUT", "/api/blobs/sha256:abc"), 1024u);
  EXPECT_EQ(body_limit_for(lim, "GET", "/api/blobs/sha256:abc"), 1024u);
  EXPECT_EQ(body_limit_for(lim, "POST", "/api/blobsx"), 1024u);
  EXPECT_EQ(body_limit_for(lim, "POST", "/api/chat"), 1024u);
  EXPECT_EQ(body_limit_for(lim, "POST", "/v1/chat/completions"), 1024u);
  lim.max_upload_bytes = 10;  // never below the ordinary limit
  EXPECT_EQ(body_limit_for(lim, "POST", "/api/blobs/x"), 1024u);
}

TEST_F(UploadLimit, UploadRoutePassesTheBodyLimitOthersKeepIt) {
  const std::string body(32 * 1024, 'b');
  const std::string up = round_trip(port_, post("/api/blobs/sha256:x", body));
  EXPECT_EQ(status_of(up), 200) << up;
  EXPECT_EQ(body_of(up), "32768");
  const std::string chunked = round_trip(port_, post_chunked("/api/blobs/sha256:x", body));
  EXPECT_EQ(status_of(chunked), 200) << chunked;
  EXPECT_EQ(body_of(chunked), "32768");
  // The same body anywhere else: over the ordinary limit.
  for (const char* path : {"/echo", "/api/blobsx"}) {
    const std::string r = round_trip(port_, post(path, body));
    EXPECT_EQ(status_of(r), 413) << path << ": " << r;
    EXPECT_NE(r.find("limit 1 KiB, 1024 bytes"), std::string::npos) << r;
    EXPECT_EQ(status_of(round_trip(port_, post_chunked(path, body))), 413) << path;
  }
}

TEST_F(UploadLimit, UploadOverItsOwnLimitIs413) {
  const std::string body(100 * 1024, 'b');
  const std::string declared = round_trip(port_, post("/api/blobs/sha256:x", body));
  EXPECT_EQ(status_of(declared), 413) << declared;
  EXPECT_NE(declared.find("limit 64 KiB, 65536 bytes"), std::string::npos) << declared;
  const std::string chunked = round_trip(port_, post_chunked("/api/blobs/sha256:x", body));
  EXPECT_EQ(status_of(chunked), 413) << chunked;
  EXPECT_NE(chunked.find("limit 64 KiB, 65536 bytes"), std::string::npos) << chunked;
  EXPECT_EQ(http_->counters().bodies_too_large.load(), 2);
}

}  // namespace pocketlm::server
