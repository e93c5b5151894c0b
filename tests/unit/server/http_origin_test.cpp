// The Origin and Host rules (server/http_origin.h) on the strings browsers and attackers send.
#include "server/http_origin.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

namespace pocketlm::server {
namespace {

origin_policy loopback_policy(std::vector<std::string> extra = {}) {
  unsetenv("POCKETLM_ORIGINS");
  return make_origin_policy("127.0.0.1", extra);
}

TEST(HttpOrigin, LoopbackAndAppPagesAreAllowedOthersAreNot) {
  const auto p = loopback_policy();
  for (const char* o : {"http://localhost", "https://localhost:3000", "http://127.0.0.1:11435", "http://[::1]:8080",
                        "http://0.0.0.0:5173", "app://obsidian.md", "file://", "tauri://localhost",
                        "chrome-extension://abcdef", "vscode-webview://x"}) {
    EXPECT_TRUE(origin_allowed(p, o, "127.0.0.1:11435")) << o;
  }
  for (const char* o : {"http://evil.example", "https://localhost.evil.example", "http://localhost:80.evil.example",
                        "http://127.0.0.1.nip.io", "null", "http://localhostx", "ftp://localhost"}) {
    EXPECT_FALSE(origin_allowed(p, o, "127.0.0.1:11435")) << o;
  }
}

TEST(HttpOrigin, OwnOriginAndConfiguredPatterns) {
  const auto p = loopback_policy({"https://*.example.com", "http://192.168.1.7:3000"});
  // The server's own page, reached by its LAN address.
  EXPECT_TRUE(origin_allowed(p, "http://192.168.1.5:11435", "192.168.1.5:11435"));
  EXPECT_FALSE(origin_allowed(p, "http://192.168.1.5:11435", "192.168.1.5:11436"));
  EXPECT_TRUE(origin_allowed(p, "https://chat.example.com", ""));
  EXPECT_FALSE(origin_allowed(p, "http://chat.example.com", ""));
  EXPECT_TRUE(origin_allowed(p, "http://192.168.1.7:3000", ""));
  EXPECT_TRUE(origin_allowed(loopback_policy({"*"}), "http://anything.example", ""));
  setenv("POCKETLM_ORIGINS", "'https://a.example, https://b.example'", 1);
  const auto env = make_origin_policy("127.0.0.1", {});
  unsetenv("POCKETLM_ORIGINS");
  EXPECT_TRUE(origin_allowed(env, "https://b.example", ""));
  EXPECT_FALSE(origin_allowed(env, "https://c.example", ""));
}

TEST(HttpOrigin, HostMustNameThisMachineOnLoopback) {
  const auto p = loopback_policy();
  for (const char* h : {"", "localhost", "localhost:11435", "LOCALHOST:1", "app.localhost:3000", "127.0.0.1:11435",
                        "127.1.2.3", "[::1]:11435", "::1", "0.0.0.0:80"}) {
    EXPECT_TRUE(host_allowed(p, h)) << h;
  }
  for (const char* h : {"evil.example", "evil.example:11435", "localhost.evil.example", "127.0.0.1.nip.io:11435"}) {
    EXPECT_FALSE(host_allowed(p, h)) << h;
  }
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  EXPECT_TRUE(host_allowed(p, std::string(name) + ":11435"));
  // Listening on the network: any Host (the API key guards it).
  EXPECT_TRUE(host_allowed(make_origin_policy("0.0.0.0", {}), "evil.example"));
}

TEST(HttpOrigin, LoopbackHostsAndUrlAuthorities) {
  for (const char* h : {"127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_loopback_host(h)) << h;
  }
  for (const char* h : {"0.0.0.0", "::", "192.168.1.2", "example.com", "128.0.0.1"}) {
    EXPECT_FALSE(is_loopback_host(h)) << h;
  }
  EXPECT_EQ(url_authority("::1", 11435), "[::1]:11435");
  EXPECT_EQ(url_authority("127.0.0.1", 80), "127.0.0.1:80");
  EXPECT_EQ(url_authority("[::1]", 80), "[::1]:80");
}

TEST(HttpOrigin, GlobAndListSplitting) {
  EXPECT_TRUE(glob_match("a*c", "abbbc"));
  EXPECT_TRUE(glob_match("a*c", "ac"));
  EXPECT_FALSE(glob_match("a*c", "abcd"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("HTTP://X*", "http://xy"));
  EXPECT_EQ(split_origin_list(" a, b ,,'c' "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_origin_list("").empty());
}

}  // namespace
}  // namespace pocketlm::server
