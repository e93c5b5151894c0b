// File-system helpers for the store: sha256 of files, an exclusive flock, atomic writes
// (temp + fsync + rename), copies that reflink where the file system can, and error messages
// that say "disk full" when the disk is full. Every file is opened through
// gguf::open_regular_file: a FIFO, socket, device or directory is an error, never a hang.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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

// Long copies and hashes report (what, bytes done, bytes total); what is "hashing", "copying"
// or "verifying".
using progress_fn = std::function<void(std::string_view what, int64_t done, int64_t total)>;

// sha256 of the first `limit` bytes of the file (all when limit < 0), as lowercase hex.
result<std::string> sha256_file(const std::string& path, int64_t limit = -1);
// sha256 of the whole open file (read with pread from offset 0); `path` names it in errors.
result<std::string> sha256_fd(int fd, const std::string& path, const progress_fn& progress = {},
                              std::string_view what = "hashing");
std::string sha256_hex(std::string_view bytes);

// "cannot <op> <path>: <strerror>", with "(disk full)" for ENOSPC/EFBIG/EDQUOT.
std::string io_error(std::string_view op, const std::string& path, int err);
bool is_disk_full(int err);

// flock(fd, op), retried on EINTR; true once held. Where the file system has no locks (Android's
// shared storage and other FUSE or network mounts: ENOLCK, ENOSYS, EOPNOTSUPP) it warns once on
// stderr and returns true: the store then works unlocked, and two pocketlm processes must not
// write it at once. False with errno set on any other failure.
bool lock_fd(int fd, int op);
// Test seam: lock_fd calls `fn` instead of ::flock (nullptr restores ::flock).
void set_flock_for_testing(int (*fn)(int fd, int op));
// Whether lock_fd has met a file system without locks (and warned) in this process.
bool locks_unsupported_seen();

// Holds flock(LOCK_EX) on a file until destroyed (the file is created if needed); see lock_fd.
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
// Writes `bytes` to a temp file (".<name>.tmp-<pid>") beside `path`, fsyncs and renames it
// over `path`; the file gets `mode` (blobs are 0444).
status write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode = 0644);
result<std::string> read_file(const std::string& path, size_t max_bytes);
// Writes all of [data, data+n) at `offset`; false with errno set on failure.
bool pwrite_all(int fd, const void* data, size_t n, int64_t offset);
bool file_exists(const std::string& path);
// Makes dst_fd's contents a copy-on-write clone of src_fd's (ioctl FICLONE: btrfs, XFS, bcachefs,
// ...); false where the file system cannot (the caller then copies).
bool reflink(int src_fd, int dst_fd);
// False only when no process `pid` exists (kill(pid, 0) says ESRCH).
bool process_alive(pid_t pid);

}  // namespace pocketlm::store
