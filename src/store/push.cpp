// `push`: a store model to an Ollama-compatible registry over the OCI distribution protocol
// (HEAD, POST uploads/, PUT with the bytes, PUT the manifest), as Ollama's server/upload.go does
// it minus the chunked parts and the request signing.
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include "gguf/gguf.h"
#include "store/registry.h"
#include "store/tls_ca.h"

namespace pocketlm::store {

namespace {

constexpr size_t k_chunk = 1 << 20;

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

// One push: the registry's client and base, and the repository path /v2/<ns>/<model>.
struct pusher {
  std::string base;
  std::string repo;
  httplib::Client client;
  const push_events& ev;

  pusher(std::string b, const model_name& n, const push_events& e)
      : base(std::move(b)), repo("/v2/" + n.ns + "/" + n.model), client(base), ev(e) {
    client.set_follow_location(false);  // an upload is never re-sent to another host
    client.set_connection_timeout(10);
    client.set_read_timeout(120);  // a registry may hash a large blob before it answers
    client.enable_server_certificate_verification(true);
    if (const std::string ca = tls_ca_file(); !ca.empty()) client.set_ca_cert_path(ca);
  }

  // An error for a failed request: unreachable, authentication, or the status and body.
  error failure(const httplib::Result& res, const std::string& what) const {
    if (!res) return error{"cannot reach registry " + base + " (connection failed)", error_kind::io};
    if (res->status == 401 || res->status == 403) {
      return error{"registry " + base + " requires authentication (not supported by pocketlm push)",
                   error_kind::unsupported};
    }
    std::string body = res->body.substr(0, 200);
    std::replace(body.begin(), body.end(), '\n', ' ');
    return error{what + ": HTTP " + std::to_string(res->status) + (body.empty() ? "" : " " + body), error_kind::io};
  }

  // The upload Location as a path on this registry: relative, or absolute on the same base.
  result<std::string> upload_path(const httplib::Response& r) const {
    std::string loc = r.get_header_value("Docker-Upload-Location");
    if (loc.empty()) loc = r.get_header_value("Location");
    if (loc.empty()) return error{"registry " + base + " gave no upload location", error_kind::io};
    if (loc.starts_with('/')) return loc;
    if (loc.starts_with(base + "/")) return loc.substr(base.size());
    return error{"registry " + base + " sent an upload location on another server (" + loc + "): not supported",
                 error_kind::unsupported};
  }

  status put_blob(const std::string& path, const std::string& file, const layer& l, const std::string& hex) {
    auto fd = gguf::open_regular_file(file);
    if (!fd) return fd.err();
    fd_closer closer{*fd};
    std::vector<char> buf(k_chunk);
    std::string read_error;
    const auto provide = [&](size_t offset, size_t length, httplib::DataSink& sink) {
      const ssize_t n = ::pread(*fd, buf.data(), std::min(length, buf.size()), static_cast<off_t>(offset));
      if (n <= 0) {
        read_error = n < 0 ? io_error("read", file, errno) : file + " shrank while being pushed";
        return false;
      }
      if (!sink.write(buf.data(), static_cast<size_t>(n))) return false;
      if (ev.on_progress) ev.on_progress(hex, static_cast<int64_t>(offset) + n, l.size);
      return true;
    };
    const std::string target = path + (path.find('?') == std::string::npos ? "?" : "&") + "digest=sha256%3A" + hex;
    auto res = client.Put(target, {}, static_cast<size_t>(l.size), provide, "application/octet-stream");
    if (!read_error.empty()) return error{read_error, error_kind::io};
    if (!res || (res->status != 201 && res->status != 204 && res->status != 200)) {
      return failure(res, "uploading sha256:" + hex.substr(0, 12));
    }
    return {};
  }

  status push_blob(const model_store& s, const layer& l) {
    const std::string hex = *digest_hex(l.digest);
    auto head = client.Head(repo + "/blobs/sha256:" + hex);
    if (head && head->status == 200) {  // the registry has it
      if (ev.on_progress) ev.on_progress(hex, l.size, l.size);
      return {};
    }
    if (!head || head->status != 404) return failure(head, "checking blob sha256:" + hex.substr(0, 12));
    if (ev.on_progress) ev.on_progress(hex, 0, l.size);
    auto start = client.Post(repo + "/blobs/uploads/", httplib::Headers{}, std::string(), "application/octet-stream");
    if (start && start->status == 201) {  // mounted from another repository
      if (ev.on_progress) ev.on_progress(hex, l.size, l.size);
      return {};
    }
    if (!start || start->status != 202) return failure(start, "starting the upload of sha256:" + hex.substr(0, 12));
    auto path = upload_path(*start);
    if (!path) return path.err();
    return put_blob(*path, s.blob_path(hex), l, hex);
  }
};

}  // namespace

status push(const model_store& mine, const std::optional<model_store>& ollama, const model_name& n,
            const push_events& ev) {
  if (ev.on_status) ev.on_status("retrieving manifest");
  auto loc = locate(n, mine, ollama);
  if (!loc) return loc.err();
  auto base = registry_base(n);
  if (!base) return base.err();
  pusher p(*base, n, ev);
  std::vector<layer> blobs = loc->entry.m.layers;
  if (!loc->entry.m.config.digest.empty()) blobs.push_back(loc->entry.m.config);
  for (const auto& l : blobs) {
    if (auto st = p.push_blob(*loc->where, l); !st) return st;
  }
  if (ev.on_status) ev.on_status("pushing manifest");
  auto res = p.client.Put(p.repo + "/manifests/" + n.tag, loc->entry.raw, loc->entry.m.media_type);
  if (!res || (res->status != 201 && res->status != 200 && res->status != 204)) {
    return p.failure(res, "pushing the manifest of " + n.display());
  }
  return {};
}

}  // namespace pocketlm::store
