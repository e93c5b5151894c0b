#include "gguf/mapping_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace pocketlm::gguf {

namespace {

// Lock-free for the signal handler: a slot is live while `size` is non-zero.
struct slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> size{0};
  std::atomic<bool> damaged{false};
};

constexpr int k_slots = 256;
slot g_slots[k_slots];
std::mutex g_mu;  // serialises watch/forget (never taken in the handler)
struct sigaction g_previous {};

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (auto& s : g_slots) {
    const size_t size = s.size.load(std::memory_order_acquire);
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (size == 0 || addr < base || addr >= base + size) continue;
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    void* at = reinterpret_cast<void*>(addr & ~(page - 1));
    // A zero page in place of the vanished one: the faulting load retries and reads zeros.
    if (mmap(at, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      s.damaged.store(true, std::memory_order_release);
      return;
    }
    break;
  }
  // Not ours (or no memory for the zero page): whatever was installed before decides.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) return g_previous.sa_sigaction(sig, info, uctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  signal(sig, SIG_DFL);  // returning re-executes the access, which now kills as before
}

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace

int mapping_guard::watch(const void* base, size_t size) {
  if (size == 0) return -1;
  install_once();
  std::lock_guard lock(g_mu);
  for (int i = 0; i < k_slots; ++i) {
    slot& s = g_slots[i];
    if (s.size.load() != 0) continue;
    s.damaged.store(false);
    s.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    s.size.store(size, std::memory_order_release);
    return i;
  }
  return -1;
}

void mapping_guard::forget(int slot_index) {
  if (slot_index < 0 || slot_index >= k_slots) return;
  std::lock_guard lock(g_mu);
  g_slots[slot_index].size.store(0, std::memory_order_release);
}

bool mapping_guard::damaged(int slot_index) {
  return slot_index >= 0 && slot_index < k_slots && g_slots[slot_index].damaged.load(std::memory_order_acquire);
}

}  // namespace pocketlm::gguf
