#pragma once
// One logging facade. Library code never prints to stdout; messages go to stderr (or a sink set by
// the application) with a level filter set once by the command line (--quiet / --verbose).
#include <functional>
#include <string>

#include "petpipe/core/error.hpp"

namespace petpipe::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level level);
Level level();
bool enabled(Level level);

// Replace the output sink (default: stderr with a "petpipe: warning: " style prefix). Tests use this to
// capture warnings. Pass an empty function to restore the default.
using Sink = std::function<void(Level, const std::string&)>;
void set_sink(Sink sink);

void write(Level level, const std::string& message);

template <typename... Args>
void error(Args&&... args) {
  write(Level::error, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void warn(Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void info(Args&&... args) {
  if (enabled(Level::info)) write(Level::info, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void debug(Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, detail::concat(std::forward<Args>(args)...));
}

}  // namespace petpipe::log
