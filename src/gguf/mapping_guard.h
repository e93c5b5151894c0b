// gguf/ internals: survives a model file that shrinks under its mapping. Touching a page of a
// file mapping past the file's (new) end raises SIGBUS, which would kill the whole server for one
// user's `cp junk model.gguf`. Watched mappings get a SIGBUS handler that maps a zero page over
// the faulting one and marks the mapping damaged; whoever computed from it checks damaged() and
// fails that request instead. Faults outside watched mappings keep the default action (a crash
// with a core, as before).
#pragma once

#include <cstddef>

namespace pocketlm::gguf {

class mapping_guard {
 public:
  // Watches [base, base + size); -1 when every slot is taken (the mapping is then unguarded).
  static int watch(const void* base, size_t size);
  // Stops watching; call before munmap.
  static void forget(int slot);
  static bool damaged(int slot);
};

}  // namespace pocketlm::gguf
