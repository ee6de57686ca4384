#include "petpipe/core/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "petpipe/core/log.hpp"

namespace petpipe {

Progress::Progress(std::string label, std::size_t total)
    : label_(std::move(label)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_render_(start_),
      active_(::isatty(STDERR_FILENO) != 0 && log::enabled(log::Level::info) && total > 0) {
  if (active_) render(0, false);
}

Progress::~Progress() { done(); }

void Progress::advance(std::size_t n) {
  const std::size_t count = (count_ += n);
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (now - last_render_ < std::chrono::milliseconds(200) && count < total_) return;
  last_render_ = now;
  render(count, false);
}

void Progress::done() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (active_) render(total_, true);
}

void Progress::render(std::size_t count, bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = total_ ? std::min(1.0, double(count) / double(total_)) : 1.0;
  char buf[256];
  if (final) {
    std::snprintf(buf, sizeof buf, "\r%s: 100%% (%.1f s)\n", label_.c_str(), elapsed);
  } else if (fraction > 0.0) {
    const double eta = elapsed / fraction - elapsed;
    std::snprintf(buf, sizeof buf, "\r%s: %3.0f%% (ETA %.0f s)   ", label_.c_str(), 100.0 * fraction,
                  eta);
  } else {
    std::snprintf(buf, sizeof buf, "\r%s:   0%%", label_.c_str());
  }
  std::fputs(buf, stderr);
  std::fflush(stderr);
}

}  // namespace petpipe
