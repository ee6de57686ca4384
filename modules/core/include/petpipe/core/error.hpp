#pragma once
// The one error type of petpipe. It carries a chain of context ("sub-07: frame 3: ...") that callers
// add as the error travels up; it is caught only in main() and in the pipeline runner.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace petpipe {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message) : std::runtime_error(message), message_(message) {}

  // Prefix context, e.g. err.add_context("sub-07") gives "sub-07: <message>".
  Error& add_context(const std::string& context) {
    message_ = context + ": " + message_;
    return *this;
  }
  const char* what() const noexcept override { return message_.c_str(); }

private:
  std::string message_;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

// Build an Error from streamable pieces: throw make_error("file.nii: ", n, " frames").
template <typename... Args>
Error make_error(Args&&... args) {
  return Error(detail::concat(std::forward<Args>(args)...));
}

// Run f(); if it throws petpipe::Error (or any std::exception), rethrow as Error with context prefixed.
template <typename F>
decltype(auto) with_context(const std::string& context, F&& f) {
  try {
    return f();
  } catch (Error& e) {
    e.add_context(context);
    throw;
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace petpipe
