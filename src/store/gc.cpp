// Garbage collection in the pocketlm store: blobs no manifest references once a manifest is
// replaced or removed, and temp files (-partial, .tmp-PID) whose writer died. Always under the
// store lock; Ollama's store (read_only) is never touched.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "store/store.h"

namespace pocketlm::store {

namespace fs = std::filesystem;

namespace {

// True when nobody holds flock on the file any more (its writer died or finished): a writer
// holds LOCK_EX from just after creating it until it renames or deletes it.
bool unlocked_by_others(const std::string& path, ino_t& ino) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st {};
  const bool free = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ino = st.st_ino;
  ::close(fd);  // releases the lock we took
  return free;
}

// ".<name>.tmp-<pid>" (write_file_atomic): the pid, or 0 when the name is not one of ours.
pid_t temp_file_pid(const std::string& name) {
  const size_t at = name.rfind(".tmp-");
  if (name.empty() || name[0] != '.' || at == std::string::npos || at + 5 >= name.size()) return 0;
  char* end = nullptr;
  const long pid = std::strtol(name.c_str() + at + 5, &end, 10);
  return *end == '\0' && pid > 0 ? static_cast<pid_t>(pid) : 0;
}

// Removes path if it is still the inode we checked (it may have been renamed into place since).
void unlink_if_same(const std::string& path, ino_t ino) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && st.st_ino == ino) ::unlink(path.c_str());
}

void remove_if_stale_temp(const fs::path& p) {
  const std::string name = p.filename().string();
  const pid_t pid = temp_file_pid(name);
  if (pid == 0 || pid == ::getpid() || process_alive(pid)) return;
  ino_t ino = 0;
  if (unlocked_by_others(p.string(), ino)) unlink_if_same(p.string(), ino);
}

}  // namespace

void model_store::collect_garbage(const std::vector<std::string>& hex) {
  if (read_only_ || hex.empty()) return;
  auto lk = lock();
  if (lk) collect_garbage_locked(hex);
}

void model_store::collect_garbage_locked(const std::vector<std::string>& hex) {
  if (read_only_ || hex.empty()) return;
  std::set<std::string> in_use;
  for (const auto& e : list()) {
    for (auto& h : e.m.digests()) in_use.insert(h);
  }
  for (const auto& h : hex) {
    if (in_use.count(h) != 0) continue;
    ::unlink((root_ + "/blobs/sha256-" + h).c_str());
    ::unlink((root_ + "/blobs/sha256:" + h).c_str());
  }
}

void model_store::remove_stale_temp_files() {
  if (read_only_) return;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ + "/blobs", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 8 && name.ends_with("-partial")) {
      ino_t ino = 0;
      if (unlocked_by_others(it->path().string(), ino)) unlink_if_same(it->path().string(), ino);
    } else {
      remove_if_stale_temp(it->path());
    }
  }
  for (auto it = fs::recursive_directory_iterator(root_ + "/manifests", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) remove_if_stale_temp(it->path());
  }
}

}  // namespace pocketlm::store
