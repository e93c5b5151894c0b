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

#include "gguf/gguf.h"

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

// Closes an fd on every return path.
struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

// Copies src[offset, size) to the partial file; errno-style failure as an error.
status copy_tail(int in, const std::string& src_path, int dst_fd, int64_t offset, int64_t size,
                 const std::string& dst_path, const progress_fn& progress) {
  std::vector<char> buf(1 << 20);
  while (offset < size) {
    const ssize_t n =
        ::pread(in, buf.data(), static_cast<size_t>(std::min<int64_t>(size - offset, buf.size())), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return error{src_path + " shrank while being imported", error_kind::io};
    if (n < 0) return error{io_error("read", src_path, errno), error_kind::io};
    if (!pwrite_all(dst_fd, buf.data(), static_cast<size_t>(n), offset)) {
      return error{io_error("write", dst_path, errno), is_disk_full(errno) ? error_kind::exhausted : error_kind::io};
    }
    offset += n;
    if (progress) progress("copying", offset, size);
  }
  return {};
}

}  // namespace

partial_blob::~partial_blob() {
  if (fd_ >= 0) ::close(fd_);
}

model_store::model_store(std::string root, bool read_only) : root_(std::move(root)), read_only_(read_only) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

model_store model_store::pocketlm_default() {
  model_store s(env_or("POCKETLM_MODELS", home_dir() + "/.pocketlm/models"));
  s.set_source("pocketlm");
  return s;
}

std::optional<model_store> model_store::ollama_default() {
  const std::string root = env_or("OLLAMA_MODELS", home_dir() + "/.ollama/models");
  std::error_code ec;
  if (!fs::is_directory(root + "/manifests", ec)) return std::nullopt;
  model_store s(root, /*read_only=*/true);
  s.set_source("ollama");
  return s;
}

std::vector<model_store> model_store::proot_ollama_stores() {
  const fs::path rootfs =
      fs::path(env_or("PREFIX", "/data/data/com.termux/files/usr")) / "var/lib/proot-distro/installed-rootfs";
  const auto sorted_dirs = [](const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<model_store> out;
  const auto add = [&](const fs::path& models, const std::string& label) {
    std::error_code ec;
    if (!fs::is_directory(models / "manifests", ec)) return;
    model_store s(models.string(), /*read_only=*/true);
    s.set_source(label);
    out.push_back(std::move(s));
  };
  for (const auto& distro : sorted_dirs(rootfs)) {
    const std::string name = distro.filename().string();
    add(distro / "root/.ollama/models", name + ":root");
    for (const auto& home : sorted_dirs(distro / "home")) {
      add(home / ".ollama/models", name + ":" + home.filename().string());
    }
  }
  return out;
}

std::string model_store::manifest_path(const model_name& n) const { return root_ + "/manifests/" + n.rel_path(); }

std::string model_store::blob_path(const std::string& hex) const {
  const std::string dash = root_ + "/blobs/sha256-" + hex;
  if (file_exists(dash)) return dash;
  const std::string colon = root_ + "/blobs/sha256:" + hex;
  return file_exists(colon) ? colon : dash;
}

std::string model_store::partial_path(const std::string& hex) const {
  return root_ + "/blobs/sha256-" + hex + "-partial";
}

bool model_store::has_blob(const std::string& hex) const { return file_exists(blob_path(hex)); }

bool model_store::contains(const model_name& n) const { return file_exists(manifest_path(n)); }

result<store_entry> model_store::read(const model_name& n) const {
  const std::string path = manifest_path(n);
  if (!file_exists(path)) return error{"model '" + n.display() + "' not found", error_kind::not_found};
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
  if (read_only_) {
    return error{"the store at " + root_ + " is read-only to pocketlm (it belongs to Ollama)", error_kind::unsupported};
  }
  if (auto st = make_dirs(root_ + "/blobs"); !st) return st;
  return make_dirs(root_ + "/manifests");
}

result<file_lock> model_store::lock() const {
  if (auto st = require_writable(); !st) return st.err();
  return file_lock::acquire(root_ + "/.lock");
}

status model_store::write_manifest(const model_name& n, const std::string& bytes) {
  auto m = parse_manifest(bytes);
  if (!m) return error{m.error_message(), error_kind::invalid_input};
  auto lk = lock();
  if (!lk) return lk.err();
  for (const auto& hex : m->digests()) {
    if (!has_blob(hex)) return error{"blob sha256:" + hex + " is missing (removed meanwhile?); nothing written"};
  }
  const std::string path = manifest_path(n);
  // The blobs of the manifest this one replaces: those nothing else uses are garbage after.
  std::vector<std::string> replaced;
  if (auto old = read(n)) replaced = old->m.digests();
  const fs::path dir = fs::path(path).parent_path();
  auto st = make_dirs(dir.string());
  if (st) st = write_file_atomic(path, bytes);
  if (!st) {
    prune_dirs(dir, fs::path(root_ + "/manifests"));  // a full disk leaves no empty folders
    return st;
  }
  collect_garbage_locked(replaced);
  remove_stale_temp_files();
  return {};
}

result<std::unique_ptr<partial_blob>> model_store::open_partial(const std::string& hex, int64_t size,
                                                                const progress_fn& progress) {
  if (auto st = require_writable(); !st) return st.err();
  const std::string path = partial_path(hex);
  bool corrupt = false;  // the existing blob failed verification: write it anew
  for (;;) {
    if (!corrupt && has_blob(hex)) {
      if (verify_blob(hex, size, progress)) return std::unique_ptr<partial_blob>();
      corrupt = true;
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0)
      return error{io_error("create", path, errno), is_disk_full(errno) ? error_kind::exhausted : error_kind::io};
    auto p = std::make_unique<partial_blob>(fd, 0);  // closes fd on every early return
    struct stat kind {};
    if (::fstat(fd, &kind) != 0 || !S_ISREG(kind.st_mode)) return error{path + ": not a regular file", error_kind::io};
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (!lock_fd(fd, LOCK_EX)) return error{io_error("lock", path, errno)};
    // Another process may have finished (renamed) or discarded this file while we waited.
    struct stat by_fd {
    }, by_path{};
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
  if (::fsync(p.fd()) != 0) return error{io_error("sync", path, errno), error_kind::io};
  struct stat st {};
  ::fstat(p.fd(), &st);
  if (st.st_size != size) {
    return error{
        "blob sha256:" + hex + ": have " + std::to_string(st.st_size) + " of " + std::to_string(size) + " bytes",
        error_kind::io};
  }
  auto got = sha256_fd(p.fd(), path);
  if (!got) return got.err();
  if (*got != hex) {
    ::unlink(path.c_str());
    return error{"blob sha256:" + hex + " failed verification (its content hashes to sha256:" + *got +
                     "); the corrupt data was deleted",
                 error_kind::io};
  }
  // Read-only from now on: nothing in the store is ever changed in place.
  if (::fchmod(p.fd(), 0444) != 0) return error{io_error("chmod", path, errno), error_kind::io};
  if (::rename(path.c_str(), (root_ + "/blobs/sha256-" + hex).c_str()) != 0) {
    return error{io_error("rename", path, errno), error_kind::io};
  }
  return {};
}

status model_store::verify_blob(const std::string& hex, int64_t size, const progress_fn& progress) const {
  const std::string path = blob_path(hex);
  struct stat st {};
  auto fd = gguf::open_regular_file(path, &st);
  if (!fd) return fd.err();
  fd_closer closer{*fd};
  if (st.st_size != size) {
    return error{"blob sha256:" + hex + " has " + std::to_string(st.st_size) + " bytes, not " + std::to_string(size),
                 error_kind::io};
  }
  auto got = sha256_fd(*fd, path, progress, "verifying");
  if (!got) return got.err();
  if (*got != hex) return error{"blob sha256:" + hex + " is corrupt (hashes to sha256:" + *got + ")", error_kind::io};
  return {};
}

void model_store::discard_partial(const std::string& hex) { ::unlink(partial_path(hex).c_str()); }

status model_store::fill_partial(partial_blob& p, int src_fd, const std::string& src_path, const std::string& hex,
                                 int64_t size, const progress_fn& progress) {
  // A reflink shares the source's extents copy-on-write: instant, no extra space, and later
  // writes to the user's file never reach the blob. Resumed partials are finished by copying.
  if (p.offset() == 0 && reflink(src_fd, p.fd())) {
    if (progress) progress("copying", size, size);
    return {};
  }
  return copy_tail(src_fd, src_path, p.fd(), p.offset(), size, partial_path(hex), progress);
}

result<layer> model_store::add_blob_file(const std::string& path, std::string_view media_type,
                                         const progress_fn& progress) {
  if (auto st = require_writable(); !st) return st.err();
  struct stat src {};
  auto fd = gguf::open_regular_file(path, &src);
  if (!fd) return fd.err();
  fd_closer closer{*fd};
  auto hex = sha256_fd(*fd, path, progress, "hashing");
  if (!hex) return hex.err();
  const layer l{std::string(media_type), "sha256:" + *hex, static_cast<int64_t>(src.st_size), ""};
  auto p = open_partial(*hex, l.size, progress);
  if (!p) return p.err();
  if (!*p) return l;  // present and verified
  auto st = fill_partial(**p, *fd, path, *hex, l.size, progress);
  if (st) st = commit_partial(**p, *hex, l.size);
  if (!st) {
    if (st.kind() == error_kind::exhausted) discard_partial(*hex);  // leave the store as it was
    return st.err();
  }
  return l;
}

result<layer> model_store::add_blob_bytes(std::string_view bytes, std::string_view media_type) {
  if (auto st = require_writable(); !st) return st.err();
  const std::string hex = sha256_hex(bytes);
  const layer l{std::string(media_type), "sha256:" + hex, static_cast<int64_t>(bytes.size()), ""};
  if (has_blob(hex) && verify_blob(hex, l.size)) return l;
  if (auto st = write_file_atomic(root_ + "/blobs/sha256-" + hex, bytes, 0444); !st) return st.err();
  return l;
}

status model_store::remove(const model_name& n) {
  auto lk = lock();
  if (!lk) return lk.err();
  auto e = read(n);
  if (!e) return e.err();
  const std::string path = manifest_path(n);
  if (::unlink(path.c_str()) != 0) return error{io_error("remove", path, errno), error_kind::io};
  prune_dirs(fs::path(path).parent_path(), fs::path(root_ + "/manifests"));
  collect_garbage_locked(e->m.digests());
  remove_stale_temp_files();
  return {};
}

status model_store::adopt_blob(const model_store& src, const std::string& hex, const progress_fn& progress) {
  const std::string from = src.blob_path(hex);
  // Copied, not linked: the source store's files are not ours to trust (Ollama's are writable).
  auto l = add_blob_file(from, "", progress);
  if (!l) return l.err();
  if (const std::string got = *digest_hex(l->digest); got != hex) {
    collect_garbage({got});
    return error{from + " does not hash to its name; not copied", error_kind::io};
  }
  return {};
}

status model_store::adopt_blobs(const model_store& src, const manifest& m, const progress_fn& progress) {
  if (src.root() == root_) return {};
  std::vector<layer> all = m.layers;
  if (!m.config.digest.empty()) all.push_back(m.config);
  for (const auto& l : all) {
    const std::string hex = *digest_hex(l.digest);
    if (has_blob(hex) && verify_blob(hex, l.size)) continue;
    if (auto st = adopt_blob(src, hex, progress); !st) return st;
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

namespace {

// The proot-distro stores not already searched as `mine` or `ollama` (same folder).
std::vector<std::shared_ptr<const model_store>> other_stores(const model_store& mine,
                                                             const std::optional<model_store>& ollama) {
  std::vector<std::shared_ptr<const model_store>> out;
  const auto same = [](const std::string& a, const std::string& b) {
    std::error_code ec;
    return a == b || fs::equivalent(a, b, ec);
  };
  for (auto& s : model_store::proot_ollama_stores()) {
    if (same(s.root(), mine.root()) || (ollama && same(s.root(), ollama->root()))) continue;
    out.push_back(std::make_shared<const model_store>(std::move(s)));
  }
  return out;
}

}  // namespace

result<located_model> locate(const model_name& n, const model_store& mine, const std::optional<model_store>& ollama) {
  for (const model_store* s : {&mine, ollama ? &*ollama : nullptr}) {
    if (!s || !s->contains(n)) continue;
    auto e = s->read(n);
    if (!e) return e.err();
    return located_model{s, std::move(*e), nullptr};
  }
  for (auto& s : other_stores(mine, ollama)) {
    if (!s->contains(n)) continue;
    auto e = s->read(n);
    if (!e) return e.err();
    return located_model{s.get(), std::move(*e), s};
  }
  return error{"model '" + n.display() + "' not found (try `pocketlm pull " + n.display() + "`)",
               error_kind::not_found};
}

std::vector<located_model> list_all(const model_store& mine, const std::optional<model_store>& ollama) {
  std::vector<located_model> out;
  std::set<std::string> seen;
  const auto add = [&](const model_store* s, const std::shared_ptr<const model_store>& owned) {
    for (auto& e : s->list()) {
      if (seen.insert(e.name.rel_path()).second) out.push_back(located_model{s, std::move(e), owned});
    }
  };
  add(&mine, nullptr);
  if (ollama) add(&*ollama, nullptr);
  for (auto& s : other_stores(mine, ollama)) add(s.get(), s);
  std::stable_sort(out.begin(), out.end(),
                   [](const located_model& a, const located_model& b) { return a.entry.modified > b.entry.modified; });
  return out;
}

}  // namespace pocketlm::store
