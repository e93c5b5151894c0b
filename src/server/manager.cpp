#include "server/manager.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "model/memory.h"
#include "runtime/chat_session.h"
#include "server/api.h"

namespace pocketlm::server {

namespace {

int64_t to_unix_ns(steady::time_point t) {
  return now_unix_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(t - steady::now()).count();
}

// The memory plan of `path` loaded with n_seq sequences: weights, one KV cache per sequence,
// activations. Mirrors what model::load checks, before anything is mapped for good.
result<uint64_t> planned_bytes(const std::string& path, const model_options& o) {
  auto f = gguf::file::open(path);
  if (!f) return f.err();
  auto hp = read_hparams(**f);
  if (!hp) return hp.err();
  const int64_t ctx = o.n_ctx > 0 ? o.n_ctx : default_context(*hp);
  const memory_needs needs = estimate_memory(**f, *hp, {ctx, o.n_batch, std::max(1, o.n_threads), o.kv});
  return needs.total() + static_cast<uint64_t>(std::max(0, o.n_seq - 1)) * needs.kv;
}

std::string architecture_of(const gguf::file& f) { return f.get_string("general.architecture").value_or(""); }

// A loaded model that must not serve another request: its file changed on disk, or a page of its
// mapping vanished under it (the file was truncated).
bool stale(const loaded_model& lm) {
  return lm.llm->file().damaged() || stamp_of(lm.info.gguf_path) != std::optional<file_stamp>(lm.stamp);
}

}  // namespace

std::optional<file_stamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return file_stamp{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                    static_cast<int64_t>(st.st_size),
                    static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

model_lease::~model_lease() {
  if (lm_) mgr_->release(*lm_, keep_alive_);
}

slot_lease::~slot_lease() { mgr_->release_slot(*lm_, index_); }

model_manager::model_manager(manager_options opt) : opt_(std::move(opt)) {
  opt_.n_parallel = std::max(1, opt_.n_parallel);
  reaper_ = std::thread([this] { reap_loop(); });
}

model_manager::~model_manager() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  reaper_.join();
}

uint64_t model_manager::used_bytes() const {
  uint64_t used = 0;
  for (const auto& [k, lm] : models_) used += lm->footprint;
  return used;
}

result<store::resolved_model> model_manager::resolve(const std::string& name) const {
  return store::resolve_model(name, store::resolve_policy::remote(opt_.model_dirs));
}

model_lease model_manager::acquire(const std::string& name, std::optional<double> keep_alive) {
  auto r = resolve(name);
  if (!r) {
    if (r.kind() == error_kind::not_found) {
      throw api_error(404, "model '" + name + "' not found", "model", "model_not_found");
    }
    throw to_api_error(r.err(), "model");
  }
  const double ka = keep_alive.value_or(opt_.default_keep_alive);
  std::unique_lock lock(mu_);
  std::shared_ptr<loaded_model> lm;
  for (;;) {
    auto it = models_.find(r->display_name);
    if (it != models_.end() && stale(*it->second)) {
      if (it->second->users > 0) {
        it->second->unload_requested = true;  // its last request unloads it; the next one reloads
        throw api_error(503, "model '" + name + "' changed on disk; it reloads once its running requests end", "",
                        "model_changed");
      }
      models_.erase(it);
      it = models_.end();
    }
    if (it != models_.end()) {
      lm = it->second;
      break;
    }
    if (!loading_) {
      lm = load_locked(*r, lock);
      break;
    }
    cv_.wait(lock);  // another model is loading: wait for it, then look again
  }
  ++lm->users;
  lm->last_used = steady::now();
  return model_lease(*this, std::move(lm), ka);
}

std::shared_ptr<loaded_model> model_manager::load_locked(const store::resolved_model& r,
                                                         std::unique_lock<std::mutex>& lock) {
  loading_ = true;
  lock.unlock();
  struct done_loading {  // clears the flag on every exit, exceptions included
    model_manager& m;
    std::unique_lock<std::mutex>& l;
    ~done_loading() {
      if (!l.owns_lock()) l.lock();
      m.loading_ = false;
      m.cv_.notify_all();
    }
  } guard{*this, lock};
  const auto t0 = steady::now();
  if (opt_.before_load) opt_.before_load(r.display_name);
  model_options o = opt_.engine;
  // The server's -c wins over a Modelfile's num_ctx: the operator sets the memory, not the file.
  o.n_ctx = opt_.n_ctx > 0 ? opt_.n_ctx : r.params.num_ctx.value_or(0);
  const auto stamp = stamp_of(r.gguf_path);
  if (!stamp) throw api_error(404, "model '" + r.display_name + "' not found", "model", "model_not_found");
  o.n_seq = opt_.n_parallel;
  auto needs = planned_bytes(r.gguf_path, o);
  if (!needs) throw api_error(500, "cannot load '" + r.display_name + "': " + needs.error_message());
  lock.lock();
  evict_for(*needs);
  const uint64_t used = used_bytes();
  lock.unlock();
  if (o.ram_budget > 0) o.ram_budget = o.ram_budget > used ? o.ram_budget - used : 1;
  auto m = model::load(r.gguf_path, o);
  if (!m) throw api_error(500, "cannot load '" + r.display_name + "': " + m.error_message());
  auto tok = tokenizer::from_gguf((*m)->file());
  if (!tok) throw api_error(500, "cannot load '" + r.display_name + "': " + tok.error_message());
  auto lm = std::make_shared<loaded_model>();
  lm->key = r.display_name;
  lm->info = r;
  lm->llm = std::move(*m);
  lm->tok = std::move(*tok);
  std::vector<std::string> template_warnings;  // a template that does not parse: chatml, as `run` does
  if (auto t = load_chat_templates(lm->llm->file(), {}, template_warnings)) lm->templates = std::move(*t);
  lm->sched = std::make_unique<scheduler>(*lm->llm);
  for (int i = 0; i < opt_.n_parallel; ++i) lm->slots.push_back(std::make_unique<session>(*lm->sched, i));
  lm->busy.assign(static_cast<size_t>(opt_.n_parallel), false);
  lm->footprint = *needs;
  lm->stamp = *stamp;
  lm->load_ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
  lock.lock();
  models_[lm->key] = lm;
  return lm;
}

// Unloads idle models, least recently used first, until `needs` more bytes fit the budget.
void model_manager::evict_for(uint64_t needs) {
  const uint64_t budget = opt_.engine.ram_budget;
  if (budget == 0) return;
  while (used_bytes() + needs > budget) {
    std::shared_ptr<loaded_model> lru;
    for (const auto& [k, lm] : models_) {
      if (lm->users == 0 && (!lru || lm->last_used < lru->last_used)) lru = lm;
    }
    if (!lru) return;  // the rest is in use: model::load decides with what is left
    models_.erase(lru->key);
  }
}

void model_manager::release(loaded_model& lm, double keep_alive) {
  std::lock_guard lock(mu_);
  --lm.users;
  lm.last_used = steady::now();
  if (keep_alive < 0) {
    lm.expires.reset();
    lm.expires_unix_ns = 0;
  } else {
    lm.expires = lm.last_used + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(keep_alive));
    lm.expires_unix_ns = to_unix_ns(*lm.expires);
  }
  if ((keep_alive == 0 || lm.unload_requested) && lm.users == 0) {
    models_.erase(lm.key);  // the lease still holds a reference: freed after this returns
  }
  cv_.notify_all();
}

std::unique_ptr<slot_lease> model_manager::acquire_slot(const model_lease& m, const std::vector<int32_t>& prompt,
                                                        const std::function<bool()>& still_wanted) {
  loaded_model& lm = m.get();
  std::unique_lock lock(mu_);
  const auto free_slot = [&] { return std::find(lm.busy.begin(), lm.busy.end(), false) != lm.busy.end(); };
  if (!free_slot()) {
    if (lm.waiting >= opt_.queue) {
      throw api_error(503,
                      "server busy: all " + std::to_string(lm.busy.size()) + " slots of '" + lm.key +
                          "' are in use and " + std::to_string(lm.waiting) + " requests are queued",
                      "", "server_busy");
    }
    ++lm.waiting;
    while (!free_slot()) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (!free_slot() && still_wanted && !still_wanted()) {
        --lm.waiting;
        throw api_error(499, "the client closed the request while it waited for a slot", "", "cancelled");
      }
    }
    --lm.waiting;
  }
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < lm.busy.size(); ++i) {
    if (lm.busy[i]) continue;
    const size_t len = lm.slots[i]->common_prefix(prompt);
    if (best < 0 || len > best_len) best = static_cast<int>(i), best_len = len;
  }
  lm.busy[static_cast<size_t>(best)] = true;
  return std::make_unique<slot_lease>(*this, lm, best);
}

void model_manager::release_slot(loaded_model& lm, int index) {
  std::lock_guard lock(mu_);
  lm.busy[static_cast<size_t>(index)] = false;
  cv_.notify_all();
}

bool model_manager::unload(const std::string& name) {
  auto r = resolve(name);
  std::lock_guard lock(mu_);
  const auto it = models_.find(r ? r->display_name : name);
  if (it == models_.end()) return false;
  if (it->second->users == 0) {
    models_.erase(it);
  } else {
    it->second->unload_requested = true;  // the last request to finish unloads it
  }
  return true;
}

std::vector<running_info> model_manager::running() {
  std::lock_guard lock(mu_);
  std::vector<running_info> out;
  for (const auto& [k, lm] : models_) {
    running_info ri;
    ri.name = lm->key;
    ri.digest = lm->info.entry ? lm->info.entry->id : "";
    ri.size = lm->footprint;
    ri.context_length = lm->llm->n_ctx();
    ri.expires_unix_ns = lm->expires ? lm->expires_unix_ns : 0;
    ri.family = architecture_of(lm->llm->file());
    ri.gguf_path = lm->info.gguf_path;
    out.push_back(std::move(ri));
  }
  return out;
}

std::vector<model_slots> model_manager::slots() {
  std::lock_guard lock(mu_);
  std::vector<model_slots> out;
  for (const auto& [k, lm] : models_) {
    model_slots m;
    m.name = lm->key;
    m.info = lm->info;
    m.n_ctx = lm->llm->n_ctx();
    if (lm->templates.main) m.chat_template = lm->templates.main->source();
    m.busy = lm->busy;
    m.waiting = lm->waiting;
    m.last_used = lm->last_used;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const model_slots& a, const model_slots& b) { return a.last_used > b.last_used; });
  return out;
}

int64_t model_manager::planned_context(const store::resolved_model& r) const {
  if (opt_.n_ctx > 0) return opt_.n_ctx;
  if (r.params.num_ctx.value_or(0) > 0) return *r.params.num_ctx;
  auto f = gguf::file::open(r.gguf_path);
  if (!f) return 0;
  auto hp = read_hparams(**f);
  return hp ? default_context(*hp) : 0;
}

result<load_plan> model_manager::plan(const store::resolved_model& r, int64_t n_ctx) const {
  auto f = gguf::file::open(r.gguf_path);
  if (!f) return f.err();
  auto hp = read_hparams(**f);
  if (!hp) return hp.err();
  load_plan p;
  p.n_ctx = n_ctx > 0 ? n_ctx : planned_context(r);
  if (p.n_ctx <= 0) p.n_ctx = default_context(*hp);
  p.n_slots = opt_.n_parallel;
  const model_options& o = opt_.engine;
  p.needs = estimate_memory(**f, *hp, {p.n_ctx, o.n_batch, std::max(1, o.n_threads), o.kv});
  p.total = p.needs.total() + static_cast<uint64_t>(p.n_slots - 1) * p.needs.kv;
  return p;
}

void model_manager::reap_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(250));
    const auto now = steady::now();
    for (auto it = models_.begin(); it != models_.end();) {
      const auto& lm = it->second;
      const bool expired = lm->users == 0 && lm->expires && *lm->expires <= now;
      it = expired ? models_.erase(it) : std::next(it);
    }
  }
}

}  // namespace pocketlm::server
