// Linked into every test executable: sets the environment the tests rely on (unless already set), so
// that tests behave the same under ctest, when run by hand, and from any working directory.
#include <cstdlib>

namespace {
struct TestEnvironment {
  TestEnvironment() {
    ::setenv("PETPIPE_EXE", PETPIPE_TEST_EXE, 0);
    ::setenv("PETPIPE_ATLAS_DIR", PETPIPE_TEST_ATLAS_DIR, 0);
    ::setenv("PETPIPE_SOURCE_DIR", PETPIPE_TEST_SOURCE_DIR, 0);
    ::setenv("PETPIPE_BINARY_DIR", PETPIPE_TEST_BINARY_DIR, 0);
  }
} const environment;
}  // namespace
