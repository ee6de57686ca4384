#pragma once
// Permutation inference: Freedman-Lane (residuals of the reduced model H0: C beta = 0 are permuted and
// the full model is refitted), maximum-statistic family-wise error over voxels and over TFCE.
// Subjects are assumed exchangeable under H0 (no blocks). Permutation 0 is the identity.
#include <cstdint>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/stats/clusters.hpp"
#include "petpipe/stats/glm.hpp"

namespace petpipe::stats {

struct PermutationOptions {
  std::size_t permutations = 5000;  // including the identity
  std::uint64_t seed = 0;
  bool tfce = false;
  TfceOptions tfce_options;
};

struct PermutationResult {
  std::size_t permutations = 0;
  std::vector<double> stat;         // observed t or F per mask voxel
  std::vector<double> p_fwe;        // max-statistic FWE p per mask voxel (one-sided for t)
  std::vector<double> max_null;     // maximum statistic of every permutation
  std::vector<double> tfce;         // observed TFCE (when requested)
  std::vector<double> tfce_p_fwe;   // FWE p of TFCE
  std::vector<double> tfce_max_null;
};

// Y: subjects x mask voxels (graph order of `graph`), X: design, contrast: t or F.
PermutationResult permutation_test(const MatrixXfRM& Y, const Eigen::MatrixXd& X, const Contrast& contrast,
                                   const MaskGraph& graph, const PermutationOptions& options = {});

// The permutations used (row 0 the identity), reproducible from the seed; exposed for tests.
std::vector<std::vector<std::uint32_t>> make_permutations(std::size_t n, std::size_t count, std::uint64_t seed);

}  // namespace petpipe::stats
