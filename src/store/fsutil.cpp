#include "store/fsutil.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace pocketlm::store {

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

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

result<std::string> sha256_file(const std::string& path, int64_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error{io_error("open", path, errno)};
  sha256 h;
  std::vector<char> buf(1 << 20);
  int64_t left = limit < 0 ? INT64_MAX : limit;
  while (left > 0) {
    const ssize_t n = ::read(fd, buf.data(), static_cast<size_t>(std::min<int64_t>(left, buf.size())));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return error{io_error("read", path, e)};
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    left -= n;
  }
  ::close(fd);
  return h.hex_digest();
}

bool is_disk_full(int err) { return err == ENOSPC || err == EFBIG || err == EDQUOT; }

std::string io_error(std::string_view op, const std::string& path, int err) {
  std::string msg = "cannot " + std::string(op) + " " + path + ": " + std::strerror(err);
  if (is_disk_full(err)) msg += " (disk full: free some space and try again)";
  return msg;
}

result<file_lock> file_lock::acquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error{io_error("open lock file", path, errno)};
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
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

status write_file_atomic(const std::string& path, std::string_view bytes) {
  // A dot name: Ollama's manifest walk rejects it as a model name if it is ever left behind.
  const size_t slash = path.rfind('/');
  const std::string tmp = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".tmp-" +
                          std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error{io_error("create", tmp, errno)};
  const bool ok = pwrite_all(fd, bytes.data(), bytes.size(), 0) && ::fsync(fd) == 0;
  const int e = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = ok ? errno : e;
    ::unlink(tmp.c_str());
    return error{io_error("write", path, err)};
  }
  return {};
}

result<std::string> read_file(const std::string& path, size_t max_bytes) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return error{io_error("open", path, errno)};
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
    if (out.size() > max_bytes) {
      std::fclose(f);
      return error{path + " is larger than " + std::to_string(max_bytes) + " bytes"};
    }
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return error{io_error("read", path, EIO)};
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace pocketlm::store
