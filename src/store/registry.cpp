#include "store/registry.h"

#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "store/tls_ca.h"

namespace pocketlm::store {

namespace {

constexpr int k_attempts = 4;
constexpr size_t k_max_manifest = 4 << 20;

// localhost, [::1] or a numeric 127.x.y.z (not "127.example.com", which DNS sends anywhere).
bool is_loopback(std::string_view host) {
  if (host.starts_with('[')) return host.starts_with("[::1]");
  host = host.substr(0, host.find(':'));
  if (host == "localhost") return true;
  int dots = 0;
  for (char c : host) {
    if (c == '.')
      ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return dots == 3 && host.starts_with("127.");
}

std::unique_ptr<httplib::Client> make_client(const std::string& base) {
  auto c = std::make_unique<httplib::Client>(base);
  c->set_follow_location(true);  // registry.ollama.ai redirects blobs to a CDN
  c->set_connection_timeout(10);
  c->set_read_timeout(30);
  c->enable_server_certificate_verification(true);
  if (const std::string ca = tls_ca_file(); !ca.empty()) c->set_ca_cert_path(ca);  // redirects keep it
  return c;
}

constexpr std::string_view k_default_registries = "registry.ollama.ai,hf.co";
constexpr std::string_view k_ollama_host = "registry.ollama.ai";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':';
}

result<registry_entry> parse_entry(std::string text) {
  const auto bad = [&](const std::string& why) {
    return error{"POCKETLM_REGISTRY: entry '" + text + "' " + why, error_kind::invalid_input};
  };
  registry_entry e;
  std::string rest = text;
  if (const size_t sep = rest.find("://"); sep != std::string::npos) {
    e.scheme = lower(rest.substr(0, sep));
    rest = rest.substr(sep + 3);
    if (e.scheme != "http" && e.scheme != "https")
      return bad("has scheme '" + e.scheme + "' (use https:// or http://)");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const bool bracketed = rest.starts_with('[') && rest.find(']') != std::string::npos;  // [::1]:port
  const std::string_view check = bracketed ? std::string_view(rest).substr(rest.find(']') + 1) : std::string_view(rest);
  if (rest.empty() || !std::all_of(check.begin(), check.end(), host_char)) {
    return bad("is not [http://|https://]host[:port]");
  }
  e.host = lower(rest);
  if (e.scheme == "http" && !is_loopback(e.host)) {
    return bad("asks for plain http to " + e.host + ": refused (only loopback registries may use http)");
  }
  return e;
}

std::string base_of(const registry_entry& e) { return e.scheme + "://" + e.host; }

std::string reach_failure(const std::string& base) { return "cannot reach registry " + base + " (connection failed)"; }

result<std::string> fetch_manifest(httplib::Client& c, const std::string& base, const model_name& n) {
  const std::string path = "/v2/" + n.ns + "/" + n.model + "/manifests/" + n.tag;
  auto res = c.Get(path, {{"Accept", std::string(media::manifest_v2)}});
  if (res && res->status == 404) {
    return error{"model '" + n.display() + "' not found in registry " + base, error_kind::not_found};
  }
  if (res && res->status == 401) return error{"registry " + base + " requires authentication (not supported)"};
  if (!res) return error{reach_failure(base), error_kind::io};
  if (res->status != 200) {
    return error{"cannot fetch manifest from " + base + path + ": HTTP " + std::to_string(res->status), error_kind::io};
  }
  if (res->body.size() > k_max_manifest) return error{"manifest from " + base + " is too large"};
  return res->body;
}

// One GET of the blob from `offset` on; returns the new offset. `fatal` marks errors a retry
// cannot fix (disk full, a registry sending more than the manifest's size, HTTP 4xx).
struct transfer {
  httplib::Client& client;
  std::string path;
  const std::string& hex;
  int64_t size;
  int fd;
  const pull_events& ev;
  bool fatal = false;
  bool discard = false;  // the partial is useless (disk full, oversize): delete it
  bool disk_full = false;
  std::string failure;

  int64_t fetch(int64_t offset) {
    httplib::Headers h;
    if (offset > 0) h.emplace("Range", "bytes=" + std::to_string(offset) + "-");
    auto on_response = [&](const httplib::Response& r) {
      if (r.status == 200) {
        if (offset == 0) return true;
        offset = 0;  // the server ignored Range: start over
        if (::ftruncate(fd, 0) != 0) return fail(io_error("truncate", "partial blob", errno));
        return true;
      }
      if (r.status == 206 && r.get_header_value("Content-Range").starts_with("bytes " + std::to_string(offset) + "-"))
        return true;
      fatal = r.status >= 400 && r.status < 500 && r.status != 429;
      discard = r.status == 416;  // our partial does not fit their blob
      return fail("blob sha256:" + hex + ": HTTP " + std::to_string(r.status));
    };
    auto on_data = [&](const char* data, size_t n) {
      if (offset + static_cast<int64_t>(n) > size) {
        fatal = discard = true;
        return fail("blob sha256:" + hex + ": registry sent more than the manifest's " + std::to_string(size) +
                    " bytes");
      }
      if (!pwrite_all(fd, data, n, offset)) {
        fatal = true;
        discard = disk_full = is_disk_full(errno);
        return fail(io_error("write", "blob sha256-" + hex + "-partial", errno));
      }
      offset += static_cast<int64_t>(n);
      if (ev.on_progress) ev.on_progress(hex, offset, size);
      return true;
    };
    auto res = client.Get(path, h, on_response, on_data);
    if (!res && failure.empty()) failure = "the connection to the registry failed";
    return offset;
  }

  bool fail(std::string why) {
    failure = std::move(why);
    return false;
  }
};

status download_blob(httplib::Client& c, model_store& s, const model_name& n, const layer& l, const pull_events& ev) {
  const std::string hex = *digest_hex(l.digest);
  auto p = s.open_partial(hex, l.size);
  if (!p) return error{p.error_message()};
  if (!*p) {
    if (ev.on_progress) ev.on_progress(hex, l.size, l.size);
    return {};
  }
  transfer t{c, "/v2/" + n.ns + "/" + n.model + "/blobs/" + l.digest, hex, l.size, (*p)->fd(), ev, false, false, false,
             ""};
  int64_t offset = (*p)->offset();
  if (ev.on_progress) ev.on_progress(hex, offset, l.size);
  for (int attempt = 1; offset < l.size && attempt <= k_attempts && !t.fatal; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    t.failure.clear();
    offset = t.fetch(offset);
  }
  if (t.discard) s.discard_partial(hex);
  if (offset < l.size) {
    std::string why = t.failure.empty() ? "transfer ended early" : t.failure;
    if (!t.discard)
      why += "; " + std::to_string(offset) + " of " + std::to_string(l.size) + " bytes kept, run pull again to resume";
    return error{"downloading sha256:" + hex.substr(0, 12) + ": " + why};
  }
  if (ev.on_status) ev.on_status("verifying sha256 digest");
  return s.commit_partial(**p, hex, l.size);  // hashes the bytes; a mismatch is not kept
}

}  // namespace

result<std::vector<registry_entry>> configured_registries() {
  const char* env = std::getenv("POCKETLM_REGISTRY");
  const std::string list = env && *env ? std::string(env) : std::string(k_default_registries);
  std::vector<registry_entry> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = trim(std::string_view(list).substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    auto e = parse_entry(item);
    if (!e) return e.err();
    out.push_back(std::move(*e));
  }
  if (out.empty()) return error{"POCKETLM_REGISTRY lists no registry", error_kind::invalid_input};
  return out;
}

result<std::string> registry_base(const model_name& n) {
  auto regs = configured_registries();
  if (!regs) return regs.err();
  const std::string host = lower(n.host);
  for (const auto& e : *regs) {
    if (e.host == host) return base_of(e);
  }
  if (host == k_ollama_host) return base_of(regs->front());  // the library's mirror
  std::string allowed;
  for (const auto& e : *regs) allowed += (allowed.empty() ? "" : ", ") + e.host;
  return error{"registry '" + n.host + "' is not allowed: pocketlm pulls only from " + allowed +
                   " (set POCKETLM_REGISTRY to a comma-separated list of registries to allow others)",
               error_kind::invalid_input};
}

status pull(model_store& s, const model_name& n, const pull_events& ev) {
  auto base = registry_base(n);
  if (!base) return error{base.error_message()};
  auto client = make_client(*base);
  if (ev.on_status) ev.on_status("pulling manifest");
  auto raw = fetch_manifest(*client, *base, n);
  if (!raw) return raw.err();
  auto m = parse_manifest(*raw);
  if (!m) return error{"registry sent a bad manifest: " + m.error_message()};
  std::vector<layer> blobs = m->layers;
  if (!m->config.digest.empty()) blobs.push_back(m->config);
  for (const auto& l : blobs) {
    if (auto st = download_blob(*client, s, n, l, ev); !st) return st;
  }
  if (ev.on_status) ev.on_status("writing manifest");
  return s.write_manifest(n, *raw);
}

}  // namespace pocketlm::store
