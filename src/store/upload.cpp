// Blobs uploaded over HTTP (Ollama's POST /api/blobs/<digest>): streamed to the -partial file,
// hashed as they arrive, named only when the digest checks out.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "store/store.h"

namespace pocketlm::store {

namespace {

error write_failure(const std::string& op, const std::string& path, int err) {
  return error{io_error(op, path, err), is_disk_full(err) ? error_kind::exhausted : error_kind::io};
}

}  // namespace

result<layer> receive_blob(model_store& s, const std::string& hex,
                           const std::function<bool(const blob_sink&)>& source) {
  // Expecting 0 bytes: a partial left by an earlier upload is emptied (an upload restarts from
  // its first byte), and only a finished empty blob counts as already there.
  auto p = s.open_partial(hex, 0);
  if (!p) return p.err();
  if (!*p) return layer{"", "sha256:" + hex, 0, ""};
  const std::string path = s.partial_path(hex);
  const int fd = (*p)->fd();
  sha256 h;
  int64_t offset = 0;
  std::optional<error> failed;
  const bool complete = source([&](const char* data, size_t n) {
    if (!pwrite_all(fd, data, n, offset)) {
      failed = write_failure("write", path, errno);
      return false;
    }
    h.update(data, n);
    offset += static_cast<int64_t>(n);
    return true;
  });
  const auto fail = [&](error e) -> result<layer> {
    s.discard_partial(hex);  // unlinked while still locked: a waiting writer sees it gone
    p->reset();
    return e;
  };
  if (failed) return fail(*failed);
  if (!complete) {
    return fail(error{"upload of sha256:" + hex + " ended after " + std::to_string(offset) + " bytes; nothing kept",
                      error_kind::io});
  }
  const std::string got = h.hex_digest();
  if (got != hex) {
    return fail(error{"digest mismatch, expected \"sha256:" + hex + "\", got \"sha256:" + got + "\"",
                      error_kind::invalid_input});
  }
  if (::fsync(fd) != 0) return fail(write_failure("sync", path, errno));
  if (::fchmod(fd, 0444) != 0) return fail(write_failure("chmod", path, errno));
  const std::string final_path = s.root() + "/blobs/sha256-" + hex;
  if (::rename(path.c_str(), final_path.c_str()) != 0) return fail(write_failure("rename", path, errno));
  return layer{"", "sha256:" + hex, offset, ""};
}

}  // namespace pocketlm::store
