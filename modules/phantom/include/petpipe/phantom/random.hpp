#pragma once
// Deterministic random numbers: std::mt19937_64 (its output sequence is fixed by the standard) with
// our own uniform and normal transforms, so results do not depend on the standard library's
// distribution implementations. Seeds of independent streams are derived with SplitMix64.
#include <cstdint>
#include <random>

namespace petpipe::phantom {

// SplitMix64 finaliser of x.
std::uint64_t mix64(std::uint64_t x);
// Seed of an independent stream identified by (seed, a, b), e.g. (cohort seed, subject index, purpose).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0);

class Rng {
public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double uniform();                       // [0, 1), 53 random bits
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                        // standard normal, Box-Muller (cached pair)
  double normal(double mean, double sd) { return mean + sd * normal(); }
  // Normal truncated to [lo, hi] by rejection (falls back to clamping after 1000 tries).
  double truncated_normal(double mean, double sd, double lo, double hi);

private:
  std::mt19937_64 engine_;
  double cached_ = 0.0;
  bool has_cached_ = false;
};

}  // namespace petpipe::phantom
