#pragma once
// Thread count shared by all modules (set once from --threads) and a simple blocked parallel loop.
#include <cstddef>
#include <functional>

namespace petpipe {

// 0 = all hardware threads.
void set_thread_count(unsigned n);
unsigned thread_count();

// Calls body(begin, end) on contiguous chunks of [0, n) from up to thread_count() threads. The first
// exception thrown by any chunk is rethrown in the caller after all threads finish.
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body,
                  std::size_t min_chunk = 1);

}  // namespace petpipe
