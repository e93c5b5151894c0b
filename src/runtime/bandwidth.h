// Memory read bandwidth of this machine, measured the way decode uses memory: threads streaming
// through a buffer much larger than the caches. Decode speed is bounded by this figure divided by
// the bytes read per token.
#pragma once

#include <cstddef>

namespace pocketlm {

// Bytes per second read by `n_threads` threads summing a `bytes`-sized buffer (best of `reps`).
double measure_read_bandwidth(int n_threads, size_t bytes = size_t{256} << 20, int reps = 3);

}  // namespace pocketlm
