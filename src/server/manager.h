// Loaded models and their slots. A model loads on first use with N KV sequences (one per slot),
// stays loaded per keep_alive, and is evicted least-recently-used when loading another would
// exceed the RAM budget. A model with a request in flight (or queued) is never unloaded.
//
// Requests take a model_lease (the model stays loaded while it lives), build their prompt with
// its tokenizer, then a slot_lease: the free slot whose cached tokens share the longest prefix
// with the prompt, or a wait in a bounded queue, or a 503 when the queue is full.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat.h"
#include "model/model.h"
#include "runtime/constraint.h"
#include "runtime/session.h"
#include "store/model_config.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm::server {

using steady = std::chrono::steady_clock;

// What loading a model would take, planned before anything is loaded as the load itself plans
// it (model/memory.h): the context per slot, the activations and every slot's KV cache.
struct load_plan {
  int64_t n_ctx = 0;
  int n_slots = 1;
  memory_needs needs;  // needs.kv: one slot's cache
  uint64_t total = 0;  // needs.total() and the other slots' caches
};

struct manager_options {
  model_options engine;             // threads, pinning, KV type; ram_budget is the budget of ALL models
  int64_t n_ctx = 0;                // per slot; 0: the model's default (min(train, 4096))
  int n_parallel = 2;               // slots per model
  int queue = 8;                    // requests waiting for a slot, per model
  double default_keep_alive = 300;  // seconds; negative: forever
  // Folders whose .gguf files clients may name by path (serve --models-dir); everything else a
  // client names must be a store model.
  std::vector<std::string> model_dirs;
  // Called on the loading thread, outside the lock, before a model's file is read: tests use it
  // to hold a load open and see what other requests do meanwhile.
  std::function<void(const std::string& name)> before_load;
};

// Identity and version of a model file: a file replaced, rewritten or truncated under a loaded
// model gets another stamp.
struct file_stamp {
  uint64_t dev = 0, ino = 0;
  int64_t size = 0, mtime_ns = 0;
  bool operator==(const file_stamp&) const = default;
};
std::optional<file_stamp> stamp_of(const std::string& path);

struct loaded_model {
  std::string key;  // resolved display name (or the .gguf path)
  store::resolved_model info;
  std::unique_ptr<model> llm;
  std::unique_ptr<scheduler> sched;  // every slot's passes, interleaved
  std::unique_ptr<tokenizer> tok;
  chat::template_set templates;  // the GGUF's chat templates; main null: prompts are raw text
  mutable vocab_trie vocab;      // the vocabulary as grammars see it, built by the first constrained request
  std::vector<std::unique_ptr<session>> slots;
  uint64_t footprint = 0;  // bytes the memory plan counts for it
  double load_ms = 0;
  file_stamp stamp;  // the file as it was when loaded; another stamp means it changed

  // Guarded by the manager's mutex.
  std::vector<bool> busy;
  int users = 0;                  // leases alive (running or queued requests)
  int waiting = 0;                // of which waiting for a slot
  bool unload_requested = false;  // keep_alive 0 arrived while in use
  steady::time_point last_used;
  std::optional<steady::time_point> expires;  // nullopt: never
  int64_t expires_unix_ns = 0;                // for /api/ps; 0 with expires == nullopt
};

class model_manager;

// Keeps a model loaded. On destruction the model's keep_alive restarts from now.
class model_lease {
 public:
  model_lease(model_manager& m, std::shared_ptr<loaded_model> lm, double keep_alive)
      : mgr_(&m), lm_(std::move(lm)), keep_alive_(keep_alive) {}
  model_lease(model_lease&& o) noexcept : mgr_(o.mgr_), lm_(std::move(o.lm_)), keep_alive_(o.keep_alive_) {}
  model_lease(const model_lease&) = delete;
  model_lease& operator=(const model_lease&) = delete;
  model_lease& operator=(model_lease&&) = delete;
  ~model_lease();
  loaded_model& get() const { return *lm_; }
  loaded_model* operator->() const { return lm_.get(); }
  double keep_alive() const { return keep_alive_; }

 private:
  model_manager* mgr_;
  std::shared_ptr<loaded_model> lm_;
  double keep_alive_;
};

// One slot held by one request.
class slot_lease {
 public:
  slot_lease(model_manager& m, loaded_model& lm, int index) : mgr_(&m), lm_(&lm), index_(index) {}
  slot_lease(const slot_lease&) = delete;
  slot_lease& operator=(const slot_lease&) = delete;
  ~slot_lease();
  session& sess() const { return *lm_->slots[static_cast<size_t>(index_)]; }
  int index() const { return index_; }

 private:
  model_manager* mgr_;
  loaded_model* lm_;
  int index_;
};

struct running_info {
  std::string name;
  std::string digest;
  uint64_t size = 0;
  int64_t context_length = 0;
  int64_t expires_unix_ns = 0;  // 0: never
  std::string family;           // general.architecture
  std::string gguf_path;        // the file it was loaded from
};

// A loaded model as llama-server's /props, /slots and /metrics describe it: a copy taken under the
// manager's lock.
struct model_slots {
  std::string name;
  store::resolved_model info;
  int64_t n_ctx = 0;          // positions per slot
  std::string chat_template;  // the template its chat prompts render with; empty: none
  std::vector<bool> busy;     // per slot: a request holds it
  int waiting = 0;            // requests queued for a slot
  steady::time_point last_used;
};

class model_manager {
 public:
  explicit model_manager(manager_options opt);
  ~model_manager();
  model_manager(const model_manager&) = delete;
  model_manager& operator=(const model_manager&) = delete;

  // Resolves `name` as the CLI does (a .gguf path, the pocketlm store, Ollama's) and loads it if
  // needed, with the server's context per slot: no request changes it (a request's num_ctx
  // only narrows its own window, see prepare_prompt). keep_alive < 0: forever; nullopt: the
  // default. Only one model loads at a time, but requests for loaded models never wait for a
  // load. A model whose file changed on disk since it was loaded is reloaded (or, while in use,
  // refused with 503 and reloaded when its requests end). Throws api_error: 404 unknown model,
  // 500 a load failure, 503 when the budget is taken by models in use.
  model_lease acquire(const std::string& name, std::optional<double> keep_alive);
  // Waits for a slot (longest cached prefix of `prompt` first); 503 when the queue is full.
  // `still_wanted` is asked while waiting: false (the client left) gives up with 499.
  std::unique_ptr<slot_lease> acquire_slot(const model_lease& m, const std::vector<int32_t>& prompt,
                                           const std::function<bool()>& still_wanted = {});
  // Unloads `name` now if nothing uses it (keep_alive 0 without a prompt); false if not loaded.
  bool unload(const std::string& name);
  std::vector<running_info> running();
  // The loaded models and their slots, most recently used first.
  std::vector<model_slots> slots();
  // The context per slot a load of `r` asks for (no model is loaded): the server's -c, else the
  // Modelfile's num_ctx, else the model's default (which a load may shrink to fit the RAM
  // budget); 0 when the file cannot be read.
  int64_t planned_context(const store::resolved_model& r) const;
  // The memory plan of loading `r` with n_ctx positions per slot (0: planned_context(r)).
  result<load_plan> plan(const store::resolved_model& r, int64_t n_ctx = 0) const;
  const manager_options& options() const { return opt_; }
  // What a client may name: store models, and files in model_dirs. Errors carry their kind;
  // a path outside model_dirs is "not found" whether or not it exists.
  result<store::resolved_model> resolve(const std::string& name) const;

 private:
  friend class model_lease;
  friend class slot_lease;
  void release(loaded_model& lm, double keep_alive);
  void release_slot(loaded_model& lm, int index);
  std::shared_ptr<loaded_model> load_locked(const store::resolved_model& r, std::unique_lock<std::mutex>& lock);
  void evict_for(uint64_t needs);
  void reap_loop();
  uint64_t used_bytes() const;

  manager_options opt_;
  std::mutex mu_;
  std::condition_variable cv_;  // slots freed, models released
  std::map<std::string, std::shared_ptr<loaded_model>> models_;
  bool loading_ = false;  // one load at a time
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace pocketlm::server
