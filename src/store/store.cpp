#include "store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <vector>

namespace pocketlm::store {

namespace fs = std::filesystem;

namespace {

constexpr size_t k_max_manifest_bytes = 4 << 20;

std::string home_dir() {
  const char* h = std::getenv("HOME");
  return h && *h ? h : "/tmp";
}

std::string env_or(const char* var, const std::string& fallback) {
  const char* v = std::getenv(var);
  return v && *v ? std::string(v) : fallback;
}

// Removes now-empty manifest directories from `dir` up to (not including) `stop`.
void prune_dirs(fs::path dir, const fs::path& stop) {
  std::error_code ec;
  while (dir != stop && dir.string().size() > stop.string().size() && fs::is_empty(dir, ec) && !ec) {
    fs::remove(dir, ec);
    dir = dir.parent_path();
  }
}

// Copies src[offset, size) to the partial file; errno-style failure as an error.
status copy_tail(const std::string& src_path, int dst_fd, int64_t offset, int64_t size,
                 const std::string& dst_path, bool& disk_full) {
  const int in = ::open(src_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return error{io_error("open", src_path, errno)};
  std::vector<char> buf(1 << 20);
  status st;
  while (offset < size) {
    const ssize_t n = ::pread(in, buf.data(), static_cast<size_t>(std::min<int64_t>(size - offset, buf.size())), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      st = error{n == 0 ? src_path + " shrank while being imported" : io_error("read", src_path, errno)};
      break;
    }
    if (!pwrite_all(dst_fd, buf.data(), static_cast<size_t>(n), offset)) {
      disk_full = is_disk_full(errno);
      st = error{io_error("write", dst_path, errno)};
      break;
    }
    offset += n;
  }
  ::close(in);
  return st;
}

}  // namespace

partial_blob::~partial_blob() {
  if (fd_ >= 0) ::close(fd_);
}

model_store::model_store(std::string root, bool read_only) : root_(std::move(root)), read_only_(read_only) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

model_store model_store::pocketlm_default() {
  return model_store(env_or("POCKETLM_MODELS", home_dir() + "/.pocketlm/models"));
}

std::optional<model_store> model_store::ollama_default() {
  const std::string root = env_or("OLLAMA_MODELS", home_dir() + "/.ollama/models");
  std::error_code ec;
  if (!fs::is_directory(root + "/manifests", ec)) return std::nullopt;
  return model_store(root, /*read_only=*/true);
}

std::string model_store::manifest_path(const model_name& n) const { return root_ + "/manifests/" + n.rel_path(); }

std::string model_store::blob_path(const std::string& hex) const {
  const std::string dash = root_ + "/blobs/sha256-" + hex;
  if (file_exists(dash)) return dash;
  const std::string colon = root_ + "/blobs/sha256:" + hex;
  return file_exists(colon) ? colon : dash;
}

std::string model_store::partial_path(const std::string& hex) const { return root_ + "/blobs/sha256-" + hex + "-partial"; }

bool model_store::has_blob(const std::string& hex) const { return file_exists(blob_path(hex)); }

bool model_store::contains(const model_name& n) const { return file_exists(manifest_path(n)); }

result<store_entry> model_store::read(const model_name& n) const {
  const std::string path = manifest_path(n);
  if (!file_exists(path)) return error{"model '" + n.display() + "' not found"};
  auto bytes = read_file(path, k_max_manifest_bytes);
  if (!bytes) return bytes.err();
  auto m = parse_manifest(*bytes);
  if (!m) return error{path + ": " + m.error_message()};
  struct stat st {};
  ::stat(path.c_str(), &st);
  return store_entry{n, std::move(*m), sha256_hex(*bytes), static_cast<int64_t>(st.st_mtime), std::move(*bytes)};
}

std::vector<store_entry> model_store::list() const {
  std::vector<store_entry> out;
  const fs::path base = root_ + "/manifests";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it.depth() != 3 || !it->is_regular_file(ec)) continue;
    auto n = name_from_rel_path(fs::relative(it->path(), base, ec).string());
    if (!n) continue;  // temp files and foreign entries
    if (auto e = read(*n)) out.push_back(std::move(*e));
  }
  std::sort(out.begin(), out.end(), [](const store_entry& a, const store_entry& b) { return a.modified > b.modified; });
  return out;
}

status model_store::require_writable() const {
  if (read_only_) return error{"the store at " + root_ + " is read-only to pocketlm (it belongs to Ollama)"};
  if (auto st = make_dirs(root_ + "/blobs"); !st) return st;
  return make_dirs(root_ + "/manifests");
}

result<file_lock> model_store::lock() const {
  if (auto st = require_writable(); !st) return error{st.error_message()};
  return file_lock::acquire(root_ + "/.lock");
}

status model_store::write_manifest(const model_name& n, const std::string& bytes) {
  auto m = parse_manifest(bytes);
  if (!m) return error{m.error_message()};
  auto lk = lock();
  if (!lk) return error{lk.error_message()};
  for (const auto& hex : m->digests()) {
    if (!has_blob(hex)) return error{"blob sha256:" + hex + " is missing (removed meanwhile?); nothing written"};
  }
  const std::string path = manifest_path(n);
  if (auto st = make_dirs(path.substr(0, path.rfind('/'))); !st) return st;
  return write_file_atomic(path, bytes);
}

result<std::unique_ptr<partial_blob>> model_store::open_partial(const std::string& hex, int64_t size) {
  if (auto st = require_writable(); !st) return error{st.error_message()};
  const std::string path = partial_path(hex);
  for (;;) {
    if (has_blob(hex)) return std::unique_ptr<partial_blob>();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error{io_error("create", path, errno)};
    auto p = std::make_unique<partial_blob>(fd, 0);  // closes fd on every early return
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) return error{io_error("lock", path, errno)};
    }
    // Another process may have finished (renamed) or discarded this file while we waited.
    struct stat by_fd {}, by_path {};
    if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino) continue;
    int64_t offset = by_fd.st_size;
    if (offset > size) {
      if (::ftruncate(fd, 0) != 0) return error{io_error("truncate", path, errno)};
      offset = 0;
    }
    p->set_offset(offset);
    return p;
  }
}

status model_store::commit_partial(partial_blob& p, const std::string& hex, int64_t size) {
  const std::string path = partial_path(hex);
  if (::fsync(p.fd()) != 0) return error{io_error("sync", path, errno)};
  struct stat st {};
  ::fstat(p.fd(), &st);
  if (st.st_size != size) {
    return error{"blob sha256:" + hex + ": have " + std::to_string(st.st_size) + " of " + std::to_string(size) + " bytes"};
  }
  auto got = sha256_file(path);
  if (!got) return error{got.error_message()};
  if (*got != hex) {
    ::unlink(path.c_str());
    return error{"blob sha256:" + hex + " failed verification (its content hashes to sha256:" + *got +
                 "); the corrupt data was deleted"};
  }
  if (::rename(path.c_str(), (root_ + "/blobs/sha256-" + hex).c_str()) != 0) return error{io_error("rename", path, errno)};
  return {};
}

void model_store::discard_partial(const std::string& hex) { ::unlink(partial_path(hex).c_str()); }

result<layer> model_store::add_blob_file(const std::string& path, std::string_view media_type, bool copy) {
  if (auto st = require_writable(); !st) return error{st.error_message()};
  struct stat src {};
  if (::stat(path.c_str(), &src) != 0) return error{io_error("open", path, errno)};
  auto hex = sha256_file(path);
  if (!hex) return hex.err();
  const layer l{std::string(media_type), "sha256:" + *hex, static_cast<int64_t>(src.st_size), ""};
  if (has_blob(*hex)) return l;
  if (!copy && ::link(path.c_str(), (root_ + "/blobs/sha256-" + *hex).c_str()) == 0) return l;
  auto p = open_partial(*hex, l.size);
  if (!p) return p.err();
  if (!*p) return l;
  bool disk_full = false;
  auto st = copy_tail(path, (*p)->fd(), (*p)->offset(), l.size, partial_path(*hex), disk_full);
  if (st) st = commit_partial(**p, *hex, l.size);
  if (!st) {
    if (disk_full) discard_partial(*hex);  // leave the store as it was
    return error{st.error_message()};
  }
  return l;
}

result<layer> model_store::add_blob_bytes(std::string_view bytes, std::string_view media_type) {
  if (auto st = require_writable(); !st) return error{st.error_message()};
  const std::string hex = sha256_hex(bytes);
  const layer l{std::string(media_type), "sha256:" + hex, static_cast<int64_t>(bytes.size()), ""};
  if (has_blob(hex)) return l;
  if (auto st = write_file_atomic(root_ + "/blobs/sha256-" + hex, bytes); !st) return error{st.error_message()};
  return l;
}

status model_store::remove(const model_name& n) {
  auto lk = lock();
  if (!lk) return error{lk.error_message()};
  auto e = read(n);
  if (!e) return error{e.error_message()};
  const std::string path = manifest_path(n);
  if (::unlink(path.c_str()) != 0) return error{io_error("remove", path, errno)};
  prune_dirs(fs::path(path).parent_path(), fs::path(root_ + "/manifests"));
  std::set<std::string> in_use;
  for (const auto& other : list()) {
    for (auto& hex : other.m.digests()) in_use.insert(hex);
  }
  for (const auto& hex : e->m.digests()) {
    if (in_use.count(hex) == 0 && ::unlink(blob_path(hex).c_str()) != 0 && errno != ENOENT) {
      return error{io_error("remove", blob_path(hex), errno)};
    }
  }
  return {};
}

status model_store::adopt_blob(const model_store& src, const std::string& hex) {
  if (has_blob(hex)) return {};
  const std::string from = src.blob_path(hex);
  if (::link(from.c_str(), (root_ + "/blobs/sha256-" + hex).c_str()) == 0 || errno == EEXIST) return {};
  auto l = add_blob_file(from, "", /*copy=*/true);
  if (!l) return error{l.error_message()};
  if (*digest_hex(l->digest) != hex) {
    discard_partial(hex);
    return error{from + " does not hash to its name; not copied"};
  }
  return {};
}

status model_store::adopt_blobs(const model_store& src, const manifest& m) {
  if (src.root() == root_) return {};
  for (const auto& hex : m.digests()) {
    if (auto st = adopt_blob(src, hex); !st) return st;
  }
  return {};
}

status model_store::copy_from(const model_store& src_store, const model_name& src, const model_name& dst) {
  if (auto st = require_writable(); !st) return st;
  auto e = src_store.read(src);
  if (!e) return error{e.error_message()};
  if (auto st = adopt_blobs(src_store, e->m); !st) return st;
  return write_manifest(dst, e->raw);
}

result<located_model> locate(const model_name& n, const model_store& mine, const std::optional<model_store>& ollama) {
  for (const model_store* s : {&mine, ollama ? &*ollama : nullptr}) {
    if (!s || !s->contains(n)) continue;
    auto e = s->read(n);
    if (!e) return e.err();
    return located_model{s, std::move(*e)};
  }
  return error{"model '" + n.display() + "' not found (try `pocketlm pull " + n.display() + "`)"};
}

}  // namespace pocketlm::store
