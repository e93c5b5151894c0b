// `pocketlm serve`: the OpenAI- and Ollama-compatible HTTP server with the web chat page
// (server/). Prints "listening on http://HOST:PORT" on stderr once the socket is bound (on a
// non-loopback host also the LAN addresses and a curl line for another machine); SIGINT or
// SIGTERM stops it cleanly. --lan is --host 0.0.0.0; the key may come from --api-key-file.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/power_flags.h"
#include "cli/verbs.h"
#include "server/api.h"
#include "server/http_origin.h"
#include "server/server.h"
#include "store/running.h"

namespace pocketlm::cli {

namespace {

struct serve_args {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 here: store::server_port()
  int parallel = 2;
  int queue = 8;
  int64_t n_ctx = 0;
  std::string api_key;
  std::string api_key_file;
  std::string origins;
  bool insecure = false;
  bool lan = false;
  std::string keep_alive = "5m";
  engine_flags engine;
  power_flags power;
  std::vector<std::string> models_dirs;
};

// The key in `path`: its first line, whitespace trimmed. Warns when others may read the file.
result<std::string> read_api_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error{"cannot read --api-key-file " + path, error_kind::invalid_input};
  std::string line;
  std::getline(in, line);
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  line.erase(line.begin(), std::find_if(line.begin(), line.end(), not_space));
  line.erase(std::find_if(line.rbegin(), line.rend(), not_space).base(), line.end());
  if (line.empty()) return error{"--api-key-file " + path + ": the first line is empty", error_kind::invalid_input};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    std::fprintf(stderr, "warning: %s can be read by other users (chmod 600 %s)\n", path.c_str(), path.c_str());
  }
  return line;
}

// This machine's IPv4 addresses other than loopback (Wi-Fi, Ethernet, USB tethering), in
// interface order, without duplicates.
std::vector<std::string> lan_ipv4_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
        !(i->ifa_flags & IFF_UP)) {
      continue;
    }
    char buf[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (!::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) continue;
    if (std::string(buf).starts_with("127.")) continue;
    if (std::find(out.begin(), out.end(), buf) == out.end()) out.emplace_back(buf);
  }
  ::freeifaddrs(list);
  return out;
}

// Where the PC can reach this server, and a curl line to try it (the key stays a placeholder:
// it is never printed).
void print_lan_hints(const std::string& host, int port, bool keyed) {
  std::vector<std::string> addrs;
  if (host == "0.0.0.0" || host == "::") {
    addrs = lan_ipv4_addresses();
  } else {
    addrs.push_back(host);
  }
  if (addrs.empty()) {
    std::fprintf(stderr, "no LAN IPv4 address found (is Wi-Fi on?); use this machine's address below\n");
    addrs.emplace_back("PHONE_IP");
  }
  for (const auto& a : addrs) std::fprintf(stderr, "reachable at http://%s\n", server::url_authority(a, port).c_str());
  std::fprintf(stderr, "from another machine: curl http://%s/api/tags%s\n",
               server::url_authority(addrs.front(), port).c_str(), keyed ? " -H 'Authorization: Bearer YOUR_KEY'" : "");
}

int run_serve(serve_args a) {
  if (a.lan) {
    if (a.host != "127.0.0.1" && a.host != "0.0.0.0") {
      return std::fprintf(stderr, "error: --lan listens on 0.0.0.0; it cannot be combined with --host %s\n",
                          a.host.c_str()),
             2;
    }
    a.host = "0.0.0.0";
  }
  if (!a.api_key_file.empty()) {
    auto key = read_api_key_file(a.api_key_file);
    if (!key) return report(key.err());
    a.api_key = std::move(*key);
  }
  // "[::1]" as in a URL: the socket layer wants the bare address.
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  // Signals go to the watcher thread only: every thread created below inherits this mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not a kill

#ifdef __GLIBC__
  // One malloc arena per thread (64 HTTP workers) keeps each large request's pages: RSS grows
  // to hundreds of MB. A few shared arenas keep it flat at no measurable cost.
  mallopt(M_ARENA_MAX, 4);
#endif
  // A server reachable from the network without a key lets anyone there run models and delete
  // them: refuse unless asked for in so many words.
  const bool lan = !server::is_loopback_host(a.host);
  if (lan && a.api_key.empty() && !a.insecure) {
    std::fprintf(stderr,
                 "error: --host %s is reachable from other machines; give --api-key KEY (clients send "
                 "'Authorization: Bearer KEY'), or --insecure to serve without one\n",
                 a.host.c_str());
    return 1;
  }
  if (lan && a.api_key.empty()) {
    std::fprintf(stderr,
                 "warning: serving on %s without --api-key (--insecure): anyone who can reach this "
                 "address can use and change your models\n",
                 a.host.c_str());
  }
  auto engine = engine_options(a.engine);
  if (!engine) return report(engine.err());
  install_power_policy(a.power, engine->n_threads);
  const auto keep_alive = [&]() -> std::optional<double> {
    try {
      return server::parse_keep_alive(server::json(a.keep_alive));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }();
  if (!keep_alive) return std::fprintf(stderr, "error: invalid --keep-alive '%s'\n", a.keep_alive.c_str()), 1;
  server::server_options o;
  o.host = a.host;
  o.port = a.port > 0 ? a.port : store::server_port();
  o.api_key = a.api_key;
  o.origins = server::split_origin_list(a.origins);
  o.models.engine = std::move(*engine);
  o.models.n_ctx = a.n_ctx;
  o.models.n_parallel = a.parallel;
  o.models.queue = a.queue;
  o.models.default_keep_alive = *keep_alive;
  o.models.model_dirs = a.models_dirs;
  server::server srv(o);
  auto port = srv.bind();
  if (!port) return report(port.err());
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != 0) srv.stop();
  });
  std::fprintf(stderr, "listening on http://%s\n", server::url_authority(a.host, *port).c_str());
  if (lan) print_lan_hints(a.host, *port, !a.api_key.empty());
  std::fflush(stderr);
  srv.run();
  // Stopped by a signal, or the listener failed: wake the watcher if it is still waiting.
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  std::fprintf(stderr, "server stopped\n");
  return 0;
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<serve_args>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the OpenAI and Ollama APIs and a web chat page");
  cmd->add_option("--host", a->host, "address to listen on (default loopback: 127.0.0.1)");
  cmd->add_option("--port", a->port, "port (default: $POCKETLM_PORT or 11435; 0 here means that default)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", a->parallel, "requests served at once per model (KV slots)")->check(CLI::Range(1, 64));
  cmd->add_option("--queue", a->queue, "requests waiting for a slot per model; more get 503")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("-c,--ctx", a->n_ctx, "context per slot (default: min(train, 4096))")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  CLI::Option* key = cmd->add_option("--api-key", a->api_key, "require 'Authorization: Bearer KEY' on API routes");
  cmd->add_option("--api-key-file", a->api_key_file,
                  "read the --api-key from this file's first line (keep it chmod 600)")
      ->excludes(key);
  cmd->add_flag("--lan", a->lan, "listen on every network (--host 0.0.0.0): needs --api-key(-file) or --insecure");
  cmd->add_option("--origins", a->origins,
                  "more web origins allowed to call the API, comma-separated ('*' wildcards; also "
                  "$POCKETLM_ORIGINS); loopback pages are always allowed");
  cmd->add_flag("--insecure", a->insecure, "allow a non-loopback --host without --api-key");
  cmd->add_option("--models-dir", a->models_dirs,
                  "a folder whose .gguf files clients may name by path (repeatable; default: store models only)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--keep-alive", a->keep_alive, "default keep_alive of loaded models (5m; -1: forever)");
  add_engine_flags(cmd, a->engine);
  add_power_flags(cmd, a->power);
  cmd->callback([a, &exit_code] { exit_code = run_serve(*a); });
}

}  // namespace pocketlm::cli
