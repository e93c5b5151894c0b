#include "runtime/scheduler.h"

#include <algorithm>
#include <chrono>

#include "runtime/power.h"

namespace pocketlm {

scheduler::scheduler(model& m, int64_t chunk, int64_t shared_chunk)
    : model_(m),
      chunk_(chunk > 0 ? std::min(chunk, m.max_batch()) : m.max_batch()),
      shared_chunk_(std::clamp<int64_t>(shared_chunk, 1, chunk_)) {}

result<std::vector<float>> scheduler::eval(int seq, const std::vector<int32_t>& tokens) {
  if (tokens.empty()) return error{"eval: no tokens", error_kind::invalid_input};
  job j;
  j.seq = seq;
  j.tokens = &tokens;
  {
    // Checked alone, so that one request's bad tokens or full context never fail the step it
    // would share with others.
    std::lock_guard lock(mu_);
    if (auto ok = model_.check_eval(seq, tokens); !ok) return ok.err();
  }
  return submit(j);
}

result<std::vector<float>> scheduler::embed(int seq, const std::vector<int32_t>& tokens) {
  job j;
  j.seq = seq;
  j.tokens = &tokens;
  j.embedding = true;
  return submit(j);
}

int64_t scheduler::truncate(int seq, int64_t n_keep) {
  std::lock_guard lock(mu_);  // n_past of other sequences may be written by a running step
  return model_.truncate(seq, n_keep);
}

result<std::vector<float>> scheduler::submit(job& j) {
  std::unique_lock lock(mu_);
  queue_.push_back(&j);
  cv_.notify_all();  // a step may be waiting for this sequence's next token
  while (!j.finished) {
    if (busy_) {
      cv_.wait(lock);
      continue;
    }
    busy_ = true;
    step(lock);
    busy_ = false;
    cv_.notify_all();
  }
  if (!j.failed) return j.failed.err();
  return std::move(j.out);
}

// Picks the step's work under the lock, runs it unlocked, hands out the results locked again.
void scheduler::step(std::unique_lock<std::mutex>& lock) {
  // An embedding runs alone: its passes sum hidden states over every token they hold.
  if (queue_.front()->embedding) {
    job* e = queue_.front();
    queue_.pop_front();
    lock.unlock();
    auto out = model_.embed(e->seq, *e->tokens);
    lock.lock();
    if (out)
      e->out = std::move(*out);
    else
      e->failed = out.err();
    e->finished = true;
    return;
  }
  // A streaming sequence comes back with its next token a moment after its decode finished
  // (sampling, sending): a prompt chunk starting without it would make it wait a whole chunk
  // more. So before a step with prompt work, wait briefly for the sequences decoded last step.
  const auto is_prompt = [](const job* j) { return !j->embedding && j->tokens->size() > 1; };
  const auto back = [&] {
    return std::all_of(decoded_.begin(), decoded_.end(), [&](int seq) {
      return std::any_of(queue_.begin(), queue_.end(), [&](const job* j) { return j->seq == seq; });
    });
  };
  if (!decoded_.empty() && std::any_of(queue_.begin(), queue_.end(), is_prompt)) {
    cv_.wait_for(lock, std::chrono::milliseconds(5), back);
  }
  decoded_.clear();
  struct part {
    job* j;
    size_t n;
  };
  std::vector<part> parts;
  batch b;
  int64_t budget = chunk_;
  int decodes = 0;
  const auto take = [&](job* j, size_t n) {
    const int64_t base = model_.n_past(j->seq);
    for (size_t i = 0; i < n; ++i) {
      const size_t at = j->done + i;
      b.push_back({(*j->tokens)[at], j->seq, base + static_cast<int64_t>(i), at + 1 == j->tokens->size()});
    }
    parts.push_back({j, n});
    budget -= static_cast<int64_t>(n);
  };
  // Decodes (one-token jobs) first, then prompt chunks, both in arrival order.
  const auto is_decode = [](const job* j) { return !j->embedding && j->tokens->size() == 1; };
  for (job* j : queue_) {
    if (is_decode(j) && budget > 0) {
      take(j, 1);
      ++decodes;
    }
  }
  if (decodes > 0) budget = std::min(budget, shared_chunk_);
  for (job* j : queue_) {
    if (j->embedding || is_decode(j) || budget <= 0) continue;
    take(j, std::min<size_t>(j->tokens->size() - j->done, static_cast<size_t>(budget)));
  }
  if (b.empty()) return;  // only embeddings behind others: the next step takes them
  lock.unlock();
  // A power policy (runtime/power.h: --thermal-limit, --min-battery) runs passes on fewer
  // threads, or pauses after them, while the phone is hot or its battery low; busy_ holds the
  // next step meanwhile.
  const auto policy = power::installed();
  if (policy) {
    if (const int n = policy->threads_for_next_pass(); n > 0) model_.set_active_threads(n);
  }
  const auto started = std::chrono::steady_clock::now();
  auto logits = model_.decode(b);
  if (policy) policy->after_pass(std::chrono::steady_clock::now() - started);
  lock.lock();
  if (decodes > 1) batched_decodes_.fetch_add(decodes);
  if (decodes > 0 && parts.size() > static_cast<size_t>(decodes)) interleaved_steps_.fetch_add(1);
  const auto n_vocab = static_cast<size_t>(model_.params().n_vocab);
  size_t row = 0;
  for (const part& p : parts) {
    p.j->done += p.n;
    const bool last = p.j->done == p.j->tokens->size();
    if (!logits) {
      p.j->failed = logits.err();
    } else if (last) {
      const auto from = logits->begin() + static_cast<long>(row * n_vocab);
      p.j->out.assign(from, from + static_cast<long>(n_vocab));
    }
    if (last) ++row;
    if (last || !logits) p.j->finished = true;
    if (last && p.j->tokens->size() == 1) decoded_.push_back(p.j->seq);
  }
  std::erase_if(queue_, [](const job* j) { return j->finished; });
}

}  // namespace pocketlm
