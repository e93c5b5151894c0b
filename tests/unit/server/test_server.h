// The server under test: on an ephemeral loopback port over a private, empty store, run on its
// own thread and stopped and joined when the fixture ends. Shared by the server test files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "server/api.h"
#include "server/server.h"

namespace pocketlm::server::test {

// stories260K's folder: the tests name the model by path, so the server opens this folder.
inline std::string shared_models_dir() { return std::string(POCKETLM_SHARED_DIR) + "/models"; }

// POCKETLM_MODELS is `root` (empty: no store model), and no Ollama store is read.
inline void use_private_store(const std::filesystem::path& root) {
  std::filesystem::create_directories(root);
  setenv("POCKETLM_MODELS", root.c_str(), 1);
  setenv("OLLAMA_MODELS", (root / "no-ollama").c_str(), 1);
}

// 127.0.0.1, any free port, one engine thread, shared/models open to clients.
inline server_options loopback_options() {
  server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.models.engine.n_threads = 1;
  o.models.model_dirs = {shared_models_dir()};
  return o;
}

// The HTTP status of the api_error `f` throws; 0 when it throws none.
inline int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const api_error& e) {
    return e.status;
  }
  return 0;
}

class running_server {
 public:
  explicit running_server(const server_options& o) : srv_(std::make_unique<server>(o)) {
    auto port = srv_->bind();
    EXPECT_TRUE(port.ok()) << port.error_message();
    if (!port) return;
    port_ = *port;
    thread_ = std::thread([this] { srv_->run(); });
  }
  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;
  ~running_server() {
    srv_->stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  server& get() { return *srv_; }

 private:
  std::unique_ptr<server> srv_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace pocketlm::server::test
