#pragma once
// RAII progress reporter: percent and ETA on a terminal (stderr is a tty and the log level is at
// least info), silent otherwise. Thread-safe increments.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace petpipe {

class Progress {
public:
  Progress(std::string label, std::size_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::size_t n = 1);
  void done();
  bool active() const { return active_; }

private:
  void render(std::size_t count, bool final);

  std::string label_;
  std::size_t total_;
  std::atomic<std::size_t> count_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_render_;
  std::mutex mutex_;
  bool active_;
  bool finished_ = false;
};

}  // namespace petpipe
