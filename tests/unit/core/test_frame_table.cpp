#include <gtest/gtest.h>
#include "petpipe/core/frame_table.hpp"
TEST(FrameTable, HalfLife) { EXPECT_NEAR(*petpipe::half_life_seconds("C11"), 1221.84, 1e-6); }
