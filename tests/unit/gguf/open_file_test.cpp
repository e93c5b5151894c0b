// Opening model paths that are not model files: a FIFO, a socket, a device, a directory, a
// symlink to one of them, a symlink loop. None may block, none may be read; each error has a
// kind. A regression that blocks again fails here (after a few seconds) instead of hanging.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "gguf/gguf.h"

namespace pocketlm::gguf {
namespace {

namespace fs = std::filesystem;

class open_file : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pocketlm-open-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // file::open(p) on a thread; when it has not returned after 5 s the FIFO at `fifo` gets a
  // writer (so the blocked open returns and the test can end) and the test fails. Returns the
  // error (an empty message when the open succeeded).
  error open_with_deadline(const std::string& p, const std::string& fifo) {
    auto fut = std::async(std::launch::async, [p] {
      auto r = file::open(p);
      return r ? error{"", error_kind::internal} : r.err();
    });
    if (fut.wait_for(std::chrono::seconds(5)) == std::future_status::timeout) {
      ADD_FAILURE() << "file::open(" << p << ") blocked on a FIFO";
      const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (w >= 0) ::close(w);
    }
    return fut.get();
  }

  fs::path dir_;
};

TEST_F(open_file, fifo_is_refused_without_blocking) {
  const std::string fifo = path("f.gguf");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const error e = open_with_deadline(fifo, fifo);
  EXPECT_EQ(e.message, "gguf: " + fifo + ": not a regular file (a FIFO)");
  EXPECT_EQ(e.kind, error_kind::invalid_input);
}

TEST_F(open_file, symlink_to_fifo_is_refused_without_blocking) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::create_symlink(fifo, path("link.gguf"));
  const error e = open_with_deadline(path("link.gguf"), fifo);
  EXPECT_NE(e.message.find("not a regular file (a FIFO)"), std::string::npos) << e.message;
}

TEST_F(open_file, socket_device_and_directory_are_refused) {
  const std::string sock = path("s.gguf");
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto r = file::open(sock);
  ::close(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("not a regular file"), std::string::npos) << r.error_message();
  EXPECT_EQ(r.kind(), error_kind::invalid_input);

  auto dev = file::open("/dev/zero");
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error_message(), "gguf: /dev/zero: not a regular file (a character device)");

  auto d = file::open(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error_message().find("not a regular file (a directory)"), std::string::npos);
}

TEST_F(open_file, symlink_loop_and_missing_file_have_kinds) {
  fs::create_symlink(path("b.gguf"), path("a.gguf"));
  fs::create_symlink(path("a.gguf"), path("b.gguf"));
  auto loop = file::open(path("a.gguf"));
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.error_message().find("symlink loop"), std::string::npos) << loop.error_message();
  EXPECT_EQ(loop.kind(), error_kind::invalid_input);

  auto missing = file::open(path("missing.gguf"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.kind(), error_kind::not_found);

  auto long_name = file::open(path(std::string(300, 'x') + ".gguf"));
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(long_name.kind(), error_kind::invalid_input);
}

TEST_F(open_file, errors_never_echo_bytes_or_size_of_a_non_gguf) {
  const std::string secret = path("shadow");
  std::ofstream(secret) << "root:$6$salt$hash:19000:0:99999:7:::\n";
  auto r = file::open(secret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_message(), "gguf: " + secret + ": not a GGUF file (it does not start with the magic \"GGUF\")");
  EXPECT_EQ(r.kind(), error_kind::invalid_input);

  std::ofstream(path("tiny")) << "ro";
  auto t = file::open(path("tiny"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error_message().find(" 2 "), std::string::npos) << t.error_message();
  EXPECT_NE(t.error_message().find("not a GGUF file"), std::string::npos) << t.error_message();
}

TEST_F(open_file, open_regular_file_clears_nonblock_and_fills_stat) {
  std::ofstream(path("plain")) << "hello";
  struct stat st {};
  auto fd = open_regular_file(path("plain"), &st);
  ASSERT_TRUE(fd.ok()) << fd.error_message();
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(::fcntl(*fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(*fd, F_GETFD) & FD_CLOEXEC, 0);
  ::close(*fd);
}

}  // namespace
}  // namespace pocketlm::gguf
