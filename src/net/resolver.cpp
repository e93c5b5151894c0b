// Host name resolution for the static (Termux) binary. A static glibc program resolves names
// through NSS, which dlopen()s glibc's shared modules and reads /etc/nsswitch.conf and
// /etc/resolv.conf: none of which Android has (Termux keeps its resolver file at
// $PREFIX/etc/resolv.conf). The link wraps getaddrinfo() (-Wl,--wrap=getaddrinfo, static builds
// only: src/net/CMakeLists.txt), so every lookup in the program — cpp-httplib's client and server
// included — comes here:
//   - numeric addresses, no host (a listening socket), AI_NUMERICHOST: glibc's getaddrinfo, which
//     parses them without NSS;
//   - names: c-ares (Debian's libc-ares-dev, static arm64 archive) with the first resolver file
//     that exists of $POCKETLM_RESOLV_CONF, $PREFIX/etc/resolv.conf, Termux's default prefix,
//     /etc/resolv.conf; hosts file first, then DNS;
//   - "localhost" (and *.localhost): the loopback, without files (Android's /etc may have none);
//   - no resolver file at all: glibc's getaddrinfo (NSS), the documented fallback (docs/termux.md).
// c-ares' answers are turned back into glibc addrinfo lists (each address through glibc's numeric
// path), so callers free them with the ordinary freeaddrinfo().
#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

extern "C" int __real_getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                                  struct addrinfo** res);
extern "C" int __wrap_getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                                  struct addrinfo** res);

namespace {

bool is_file(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

// The resolver file to read, or "" when there is none.
std::string resolv_conf() {
  if (const char* p = std::getenv("POCKETLM_RESOLV_CONF"); p && *p) return p;
  if (const char* prefix = std::getenv("PREFIX"); prefix && *prefix) {
    std::string termux = std::string(prefix) + "/etc/resolv.conf";
    if (is_file(termux)) return termux;
  }
  for (const char* path : {"/data/data/com.termux/files/usr/etc/resolv.conf", "/etc/resolv.conf"}) {
    if (is_file(path)) return path;
  }
  return "";
}

bool is_numeric(const char* node) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1;
}

struct lookup {
  bool done = false;
  int status = ARES_SUCCESS;
  struct ares_addrinfo* result = nullptr;
};

void on_done(void* arg, int status, int /*timeouts*/, struct ares_addrinfo* result) {
  auto* l = static_cast<lookup*>(arg);
  l->done = true;
  l->status = status;
  l->result = result;
}

// Runs the channel until the lookup is answered (c-ares enforces its own timeouts and retries).
void wait(ares_channel channel, const lookup& l) {
  while (!l.done) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
    struct pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events) fds[n++] = {socks[i], events, 0};
    }
    struct timeval tv;
    struct timeval* t = ares_timeout(channel, nullptr, &tv);
    const int ms = t ? static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000) : 1000;
    if (poll(fds, n, ms) <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (nfds_t i = 0; i < n; ++i) {
      ares_process_fd(channel, fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD,
                      fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
}

int eai_of(int ares_status) {
  switch (ares_status) {
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
    case ARES_ENODATA: return EAI_NONAME;
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_ESERVFAIL: return EAI_AGAIN;
    case ARES_ENOMEM: return EAI_MEMORY;
    default: return EAI_FAIL;
  }
}

int resolve_with_cares(const std::string& conf, const char* node, const char* service, const struct addrinfo* hints,
                       struct addrinfo** res) {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });

  struct ares_options opts;
  std::memset(&opts, 0, sizeof opts);
  std::string file = conf;
  char lookups[] = "fb";  // hosts file, then DNS; never /etc/nsswitch.conf
  opts.resolvconf_path = file.data();
  opts.lookups = lookups;
  opts.timeout = 3000;  // ms per try
  opts.tries = 2;
  ares_channel channel;
  if (ares_init_options(&channel, &opts,
                        ARES_OPT_RESOLVCONF | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
    return EAI_FAIL;
  }
  struct ares_addrinfo_hints h;
  std::memset(&h, 0, sizeof h);
  h.ai_family = hints ? hints->ai_family : AF_UNSPEC;
  h.ai_socktype = hints ? hints->ai_socktype : 0;
  h.ai_protocol = hints ? hints->ai_protocol : 0;
  lookup l;
  ares_getaddrinfo(channel, node, nullptr, &h, on_done, &l);
  wait(channel, l);
  ares_destroy(channel);
  if (l.status != ARES_SUCCESS) {
    if (l.result) ares_freeaddrinfo(l.result);
    return eai_of(l.status);
  }

  // Each address through glibc's numeric path: a list freeaddrinfo() frees, with the service.
  struct addrinfo numeric;
  std::memset(&numeric, 0, sizeof numeric);
  if (hints) numeric = *hints;
  numeric.ai_flags = (hints ? hints->ai_flags : 0) | AI_NUMERICHOST;
  numeric.ai_flags &= ~(AI_CANONNAME | AI_ADDRCONFIG);
  struct addrinfo* head = nullptr;
  struct addrinfo** tail = &head;
  int rc = EAI_NONAME;
  for (auto* n = l.result ? l.result->nodes : nullptr; n; n = n->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void* addr = n->ai_family == AF_INET6
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr);
    if (!inet_ntop(n->ai_family, addr, text, sizeof text)) continue;
    // c-ares answers once per address; ask glibc for the hints' socket type(s).
    bool seen = false;
    for (auto* p = head; p && !seen; p = p->ai_next) {
      char other[INET6_ADDRSTRLEN];
      const void* a = p->ai_family == AF_INET6
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr);
      seen = inet_ntop(p->ai_family, a, other, sizeof other) && std::strcmp(text, other) == 0;
    }
    if (seen) continue;
    struct addrinfo* one = nullptr;
    rc = __real_getaddrinfo(text, service, &numeric, &one);
    if (rc != 0) break;
    *tail = one;
    while (*tail) tail = &(*tail)->ai_next;
  }
  ares_freeaddrinfo(l.result);
  if (!head) return rc;
  if (rc != 0 && rc != EAI_NONAME) {
    freeaddrinfo(head);
    return rc;
  }
  *res = head;
  return 0;
}

// "localhost" and names under it are the loopback (RFC 6761), whatever files or DNS say: IPv4
// first, then IPv6, as the hints allow.
bool is_localhost(const char* node) {
  std::string n(node);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!n.empty() && n.back() == '.') n.pop_back();
  return n == "localhost" || (n.size() > 10 && n.ends_with(".localhost"));
}

int resolve_localhost(const char* service, const struct addrinfo* hints, struct addrinfo** res) {
  struct addrinfo numeric;
  std::memset(&numeric, 0, sizeof numeric);
  if (hints) numeric = *hints;
  numeric.ai_flags = (numeric.ai_flags | AI_NUMERICHOST) & ~(AI_CANONNAME | AI_ADDRCONFIG);
  struct addrinfo* head = nullptr;
  struct addrinfo** tail = &head;
  int rc = EAI_NONAME;
  const int family = hints ? hints->ai_family : AF_UNSPEC;
  for (const char* addr : {"127.0.0.1", "::1"}) {
    if ((family == AF_INET && addr[0] == ':') || (family == AF_INET6 && addr[0] != ':')) continue;
    struct addrinfo* one = nullptr;
    rc = __real_getaddrinfo(addr, service, &numeric, &one);
    if (rc != 0) continue;
    *tail = one;
    while (*tail) tail = &(*tail)->ai_next;
  }
  if (!head) return rc;
  *res = head;
  return 0;
}

}  // namespace

extern "C" int __wrap_getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                                  struct addrinfo** res) {
  const bool numeric_only = hints && (hints->ai_flags & AI_NUMERICHOST);
  if (!node || numeric_only || (hints && hints->ai_family == AF_UNIX) || is_numeric(node)) {
    return __real_getaddrinfo(node, service, hints, res);
  }
  if (is_localhost(node)) return resolve_localhost(service, hints, res);
  const std::string conf = resolv_conf();
  if (conf.empty()) return __real_getaddrinfo(node, service, hints, res);  // no resolver file: NSS
  return resolve_with_cares(conf, node, service, hints, res);
}
