#include "petpipe/core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace petpipe {

namespace {
std::atomic<unsigned> g_threads{0};
}

void set_thread_count(unsigned n) { g_threads = n; }

unsigned thread_count() {
  const unsigned n = g_threads.load();
  if (n > 0) return n;
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body,
                  std::size_t min_chunk) {
  if (n == 0) return;
  const std::size_t workers =
      std::max<std::size_t>(1, std::min<std::size_t>(thread_count(), (n + min_chunk - 1) / std::max<std::size_t>(1, min_chunk)));
  if (workers == 1) {
    body(0, n);
    return;
  }
  std::exception_ptr first_error;
  std::mutex m;
  std::vector<std::thread> threads;
  const std::size_t chunk = (n + workers - 1) / workers;
  for (std::size_t w = 0; w < workers; ++w) {
    const std::size_t b = w * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    threads.emplace_back([&, b, e] {
      try {
        body(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!first_error) first_error = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace petpipe
