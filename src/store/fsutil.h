// File-system helpers for the store: sha256 of files, an exclusive flock, atomic writes
// (temp + fsync + rename) and error messages that say "disk full" when the disk is full.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pocketlm::store {

// Incremental sha256 (OpenSSL libcrypto).
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  void update(const void* data, size_t n);
  std::string hex_digest();  // finishes; call once

 private:
  void* ctx_;
};

// sha256 of the first `limit` bytes of the file (all when limit < 0), as lowercase hex.
result<std::string> sha256_file(const std::string& path, int64_t limit = -1);
std::string sha256_hex(std::string_view bytes);

// "cannot <op> <path>: <strerror>", with "(disk full)" for ENOSPC/EFBIG/EDQUOT.
std::string io_error(std::string_view op, const std::string& path, int err);
bool is_disk_full(int err);

// Holds flock(LOCK_EX) on a file until destroyed (the file is created if needed).
class file_lock {
 public:
  static result<file_lock> acquire(const std::string& path);
  file_lock(file_lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  file_lock& operator=(file_lock&&) = delete;
  file_lock(const file_lock&) = delete;
  ~file_lock();

 private:
  explicit file_lock(int fd) : fd_(fd) {}
  int fd_;
};

status make_dirs(const std::string& path);
// Writes `bytes` to a temp file beside `path`, fsyncs and renames it over `path`.
status write_file_atomic(const std::string& path, std::string_view bytes);
result<std::string> read_file(const std::string& path, size_t max_bytes);
// Writes all of [data, data+n) at `offset`; false with errno set on failure.
bool pwrite_all(int fd, const void* data, size_t n, int64_t offset);
bool file_exists(const std::string& path);

}  // namespace pocketlm::store
