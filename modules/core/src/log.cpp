#include "petpipe/core/log.hpp"

#include <atomic>
#include <iostream>
#include <mutex>

namespace petpipe::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_mutex;
Sink g_sink;
}  // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }
Level level() { return static_cast<Level>(g_level.load()); }
bool enabled(Level l) { return static_cast<int>(l) <= g_level.load(); }

void set_sink(Sink sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = std::move(sink);
}

void write(Level l, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) {
    g_sink(l, message);
    return;
  }
  switch (l) {
    case Level::error: std::cerr << "petpipe: error: " << message << '\n'; break;
    case Level::warn: std::cerr << "petpipe: warning: " << message << '\n'; break;
    case Level::info: std::cerr << "petpipe: " << message << '\n'; break;
    case Level::debug: std::cerr << "petpipe: [debug] " << message << '\n'; break;
  }
  std::cerr.flush();
}

}  // namespace petpipe::log
