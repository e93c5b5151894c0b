#include "store/fsutil.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#if __has_include(<linux/fs.h>)
#include <linux/fs.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "gguf/gguf.h"

namespace pocketlm::store {

sha256::sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr); }

sha256::~sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void sha256::update(const void* data, size_t n) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n); }

std::string sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

result<std::string> sha256_fd(int fd, const std::string& path, const progress_fn& progress, std::string_view what) {
  struct stat st {};
  const int64_t total = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  sha256 h;
  std::vector<char> buf(1 << 20);
  int64_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error{io_error("read", path, errno), error_kind::io};
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    offset += n;
    if (progress) progress(what, offset, total);
  }
  return h.hex_digest();
}

result<std::string> sha256_file(const std::string& path, int64_t limit) {
  auto fd = gguf::open_regular_file(path);
  if (!fd) return fd.err();
  sha256 h;
  std::vector<char> buf(1 << 20);
  int64_t left = limit < 0 ? INT64_MAX : limit;
  while (left > 0) {
    const ssize_t n = ::read(*fd, buf.data(), static_cast<size_t>(std::min<int64_t>(left, buf.size())));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(*fd);
      return error{io_error("read", path, e), error_kind::io};
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    left -= n;
  }
  ::close(*fd);
  return h.hex_digest();
}

bool is_disk_full(int err) { return err == ENOSPC || err == EFBIG || err == EDQUOT; }

std::string io_error(std::string_view op, const std::string& path, int err) {
  std::string msg = "cannot " + std::string(op) + " " + path + ": " + std::strerror(err);
  if (is_disk_full(err)) msg += " (disk full: free some space and try again)";
  return msg;
}

namespace {
std::atomic<int (*)(int, int)> flock_impl{nullptr};
std::atomic<bool> locks_unsupported{false};
}  // namespace

void set_flock_for_testing(int (*fn)(int fd, int op)) { flock_impl.store(fn); }

bool locks_unsupported_seen() { return locks_unsupported.load(); }

bool lock_fd(int fd, int op) {
  auto* const impl = flock_impl.load();
  for (;;) {
    if ((impl ? impl(fd, op) : ::flock(fd, op)) == 0) return true;
    if (errno == EINTR) continue;
    if (errno == ENOLCK || errno == ENOSYS || errno == EOPNOTSUPP || errno == ENOTSUP) {
      if (!locks_unsupported.exchange(true)) {
        std::fprintf(stderr,
                     "warning: this file system does not support file locks (%s); the store is used "
                     "unlocked: do not run two pocketlm commands that write it at once\n",
                     std::strerror(errno));
      }
      return true;
    }
    return false;
  }
}

result<file_lock> file_lock::acquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error{io_error("open lock file", path, errno)};
  if (!lock_fd(fd, LOCK_EX)) {
    const int e = errno;
    ::close(fd);
    return error{io_error("lock", path, e)};
  }
  return file_lock(fd);
}

file_lock::~file_lock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

status make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return error{"cannot create directory " + path + ": " + ec.message()};
  return {};
}

bool pwrite_all(int fd, const void* data, size_t n, int64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += w;
  }
  return true;
}

status write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode) {
  // A dot name: Ollama's manifest walk rejects it as a model name if it is ever left behind.
  const size_t slash = path.rfind('/');
  const std::string tmp =
      path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return error{io_error("create", tmp, errno), is_disk_full(errno) ? error_kind::exhausted : error_kind::io};
  lock_fd(fd, LOCK_EX);  // held until closed: the stale-file sweep skips files someone holds
  const bool ok = pwrite_all(fd, bytes.data(), bytes.size(), 0) && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int e = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = ok ? errno : e;
    ::unlink(tmp.c_str());
    return error{io_error("write", path, err), is_disk_full(err) ? error_kind::exhausted : error_kind::io};
  }
  return {};
}

result<std::string> read_file(const std::string& path, size_t max_bytes) {
  auto fd = gguf::open_regular_file(path);
  if (!fd) return fd.err();
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(*fd);
      return error{io_error("read", path, e), error_kind::io};
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(*fd);
      return error{path + " is larger than " + std::to_string(max_bytes) + " bytes", error_kind::invalid_input};
    }
  }
  ::close(*fd);
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace pocketlm::store

namespace pocketlm::store {

bool reflink(int src_fd, int dst_fd) {
#ifdef FICLONE
  return ::ioctl(dst_fd, FICLONE, src_fd) == 0;
#else
  (void)src_fd, (void)dst_fd;
  return false;
#endif
}

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

}  // namespace pocketlm::store
