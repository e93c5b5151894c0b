// store/: owns the on-disk model store in Ollama's layout (manifests/<host>/<ns>/<model>/<tag>
// JSON + content-addressed blobs/sha256-<hex>), reading an existing Ollama store in place,
// name resolution, Modelfiles, and pulling from an Ollama-compatible registry over HTTP(S).
// Calls gguf/ and common/ only (plus OpenSSL, cpp-httplib, nlohmann-json); the cli calls it.
//
// Safety: blobs only get their final name after their sha256 checks out (downloads and copies
// go to blobs/sha256-<hex>-partial first, resumable); a committed blob is read-only (0444) and
// never a link to a file the user can still change (imports copy, or reflink where the file
// system can); an existing blob is re-hashed before it is reused, and replaced when corrupt.
// Manifests are written via temp + rename; every manifest write and blob removal happens under
// flock(<root>/.lock), and so does garbage collection: blobs no manifest references any more go
// when a manifest is replaced or removed, and -partial / .tmp-PID files whose writer is dead go
// at the next such write. Ollama's store is only ever read.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/fsutil.h"
#include "store/manifest.h"
#include "store/name.h"

namespace pocketlm::store {

struct store_entry {
  model_name name;
  manifest m;
  std::string id;        // sha256 hex of the manifest file's bytes (Ollama's model ID)
  int64_t modified = 0;  // manifest mtime, unix seconds
  std::string raw;       // the manifest file's bytes
};

// A blob being written under blobs/sha256-<hex>-partial, held with flock so that two processes
// never append to it at once. `offset` is how many bytes a previous, interrupted run left.
class partial_blob {
 public:
  partial_blob(int fd, int64_t offset) : fd_(fd), offset_(offset) {}
  partial_blob(const partial_blob&) = delete;
  partial_blob& operator=(const partial_blob&) = delete;
  ~partial_blob();
  int fd() const { return fd_; }
  int64_t offset() const { return offset_; }
  void set_offset(int64_t o) { offset_ = o; }

 private:
  int fd_;
  int64_t offset_;
};

class model_store {
 public:
  explicit model_store(std::string root, bool read_only = false);
  // $POCKETLM_MODELS, else ~/.pocketlm/models.
  static model_store pocketlm_default();
  // $OLLAMA_MODELS, else ~/.ollama/models, when that directory exists; never written to.
  static std::optional<model_store> ollama_default();
  // The Ollama stores inside proot-distro roots (Termux): for each distro under
  // $PREFIX/var/lib/proot-distro/installed-rootfs (PREFIX defaults to Termux's
  // /data/data/com.termux/files/usr), root/.ollama/models, then home/<user>/.ollama/models, users
  // in name order; distros in name order. Only folders holding manifests/; all read-only, with
  // source() "<distro>:root" or "<distro>:<user>". None on a desktop.
  static std::vector<model_store> proot_ollama_stores();

  const std::string& root() const { return root_; }
  // Where the store comes from, for listings: "pocketlm", "ollama" or a proot-distro label.
  const std::string& source() const { return source_; }
  void set_source(std::string s) { source_ = std::move(s); }
  bool read_only() const { return read_only_; }
  std::string manifest_path(const model_name& n) const;
  // The blob's file: blobs/sha256-<hex>, or the old Ollama spelling blobs/sha256:<hex> when
  // only that exists.
  std::string blob_path(const std::string& hex) const;
  std::string partial_path(const std::string& hex) const;
  bool has_blob(const std::string& hex) const;

  bool contains(const model_name& n) const;
  result<store_entry> read(const model_name& n) const;
  std::vector<store_entry> list() const;  // unreadable manifests are skipped

  // Writes `bytes` (a validated manifest) as n's manifest once every blob it names exists.
  status write_manifest(const model_name& n, const std::string& bytes);
  // Adds the file as a blob: a reflink where the file system can, else a resumable copy through
  // the -partial file, hashed before it gets its final name. An existing blob of that digest is
  // reused only when its bytes still hash to it; a corrupt one is replaced.
  result<layer> add_blob_file(const std::string& path, std::string_view media_type, const progress_fn& progress = {});
  result<layer> add_blob_bytes(std::string_view bytes, std::string_view media_type);
  // Deletes n's manifest, then each of its blobs no remaining manifest references.
  status remove(const model_name& n);
  // Copies src (from this store or another, e.g. Ollama's) to dst here, copying missing blobs.
  status copy_from(const model_store& src_store, const model_name& src, const model_name& dst);

  result<file_lock> lock() const;
  // Makes every blob of `m` present here, copied (or reflinked) from `src` and verified.
  status adopt_blobs(const model_store& src, const manifest& m, const progress_fn& progress = {});
  // Removes those of the blobs `hex` that no manifest here references (under the store lock).
  // For writers that fail after adding blobs, and for manifest replacement and removal.
  void collect_garbage(const std::vector<std::string>& hex);
  // Removes -partial files nobody holds (their flock is free: the writer died) and .tmp-PID
  // files of dead processes. Call with the store lock held; every manifest write and rm does.
  void remove_stale_temp_files();

  // Existing blob `hex` has `size` bytes hashing to `hex`: ok, or an error saying why not.
  status verify_blob(const std::string& hex, int64_t size, const progress_fn& progress = {}) const;

  // Opens (creating or resuming) the -partial file of blob `hex` expected to hold `size` bytes;
  // nullptr when the finished blob already exists and verifies (a corrupt one is written
  // anew: committing renames over it). A longer-than-expected partial is emptied.
  result<std::unique_ptr<partial_blob>> open_partial(const std::string& hex, int64_t size,
                                                     const progress_fn& progress = {});
  // fsyncs, checks size and sha256 and renames the partial to its final name. On a mismatch the
  // partial is deleted (a corrupt download is never kept) and the error says so.
  status commit_partial(partial_blob& p, const std::string& hex, int64_t size);
  void discard_partial(const std::string& hex);

 private:
  status require_writable() const;
  status adopt_blob(const model_store& src, const std::string& hex, const progress_fn& progress);
  void collect_garbage_locked(const std::vector<std::string>& hex);
  // Fills partial p (resumed at its offset) from the open source file of `size` bytes.
  status fill_partial(partial_blob& p, int src_fd, const std::string& src_path, const std::string& hex, int64_t size,
                      const progress_fn& progress);
  std::string root_;
  bool read_only_;
  std::string source_;
};

// Where a name lives. The rule when several stores hold the same name: the pocketlm store
// first, then the Ollama store ($OLLAMA_MODELS or ~/.ollama/models), then the proot-distro
// Ollama stores in proot_ollama_stores() order; the first one wins and shadows the others (to
// reach a shadowed one, point $OLLAMA_MODELS at its folder).
struct located_model {
  const model_store* where = nullptr;  // `mine`, `ollama`, or *owned
  store_entry entry;
  std::shared_ptr<const model_store> owned;  // a proot-distro store found by the search
};
result<located_model> locate(const model_name& n, const model_store& mine, const std::optional<model_store>& ollama);
// Every model of those stores under the rule above (each name once, from the store that wins),
// newest first.
std::vector<located_model> list_all(const model_store& mine, const std::optional<model_store>& ollama);

// An uploaded blob (Ollama's POST /api/blobs/<digest>, store/upload.cpp): `source` hands each
// piece of the bytes to the sink as it arrives (the sink returns false to stop it) and returns
// false when the transfer itself failed. The pieces go to blobs/sha256-<hex>-partial (locked,
// emptied first), hashed on the way; only bytes that hash to `hex` get the blob's name
// (read-only). On any failure the partial is deleted: nothing of a failed upload stays. Kinds:
// invalid_input (the bytes hash to another digest), exhausted (disk full), io.
using blob_sink = std::function<bool(const char* data, size_t n)>;
result<layer> receive_blob(model_store& s, const std::string& hex, const std::function<bool(const blob_sink&)>& source);

}  // namespace pocketlm::store
