#include "petpipe/phantom/random.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace petpipe::phantom {

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  return mix64(mix64(mix64(seed) ^ (a * 0x9e3779b97f4a7c15ULL + 1)) ^ (b * 0xc2b2ae3d27d4eb4fULL + 7));
}

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_cached_) {
    has_cached_ = false;
    return cached_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double a = 2.0 * std::numbers::pi * u2;
  cached_ = r * std::sin(a);
  has_cached_ = true;
  return r * std::cos(a);
}

double Rng::truncated_normal(double mean, double sd, double lo, double hi) {
  for (int i = 0; i < 1000; ++i) {
    const double v = normal(mean, sd);
    if (v >= lo && v <= hi) return v;
  }
  return std::clamp(mean, lo, hi);
}

}  // namespace petpipe::phantom
