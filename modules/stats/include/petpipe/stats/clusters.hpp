#pragma once
// Connected components, cluster-level inference (RFT FWE and topological FDR) and TFCE.
#include <cstdint>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/stats/rft.hpp"

namespace petpipe::stats {

// Neighbourhood: 6 (faces), 18 (faces + edges, SPM's default for clusters) or 26 (+ corners).
enum class Connectivity { c6 = 6, c18 = 18, c26 = 26 };

struct Labels {
  std::vector<std::int32_t> label;  // per voxel of the grid; 0 = not in a cluster, else 1..n
  std::vector<std::size_t> sizes;   // voxels per cluster (index = label - 1)
};
Labels label_components(const std::vector<std::uint8_t>& in, const Geometry& geom, Connectivity conn);

struct Cluster {
  std::size_t voxels = 0;
  double volume_mm3 = 0;
  double resels = 0;
  std::size_t peak_index = 0;     // linear voxel index of the peak
  Vec3 peak_ras{0, 0, 0};         // MNI / RAS mm
  double peak_stat = 0;           // t (or F)
  double peak_z = 0;
  double peak_p_fwe = 1;          // RFT height FWE p of the peak
  double p_uncorrected = 1;       // RFT cluster-extent p of one cluster
  double p_fwe = 1;               // RFT cluster FWE p (spm_P_RF with c = 1)
  double p_fdr = 1;               // topological cluster FDR (BH over the uncorrected cluster p values)
};

struct ClusterOptions {
  double cluster_forming_p = 0.001;  // uncorrected one-sided p of the cluster-forming threshold
  Connectivity connectivity = Connectivity::c18;
};

struct ClusterResult {
  double threshold = 0;             // statistic threshold u
  std::vector<Cluster> clusters;    // sorted by size, largest first
  Labels labels;                    // cluster labels after sorting (1 = largest)
};

// `stat` holds one value per grid voxel (NaN outside the mask); `field` and the dfs say how to turn
// the cluster-forming p into a threshold. Smoothness gives resels of the search volume.
ClusterResult cluster_inference(const std::vector<double>& stat, const Geometry& geom, Field field, double df1,
                                double df2, const Smoothness& smoothness, const ClusterOptions& options = {});

// Threshold-free cluster enhancement (Smith & Nichols 2009): TFCE(v) = sum over h = dh, 2dh, ... <= stat(v)
// of extent(h, v)^E h^H dh, with the extent in voxels of the cluster containing v at threshold h.
// Only positive values are enhanced. Computed in one descending sweep with a union-find that carries
// per-cluster running sums, so the cost is near-linear in the number of voxels.
struct TfceOptions {
  double E = 0.5;
  double H = 2.0;
  double dh = 0.1;  // step of the threshold integral in statistic units (fixed, so null and observed
                    // maps are enhanced identically)
  Connectivity connectivity = Connectivity::c26;
};

// The mask voxels (position = rank among the mask voxels in linear order) and their neighbourhood, as
// positions in the grid padded by one voxel on every side: the neighbours of padded index i are
// i + d for d in `deltas`, and padding voxels are never in the mask, so no bounds checks are needed.
struct MaskGraph {
  std::vector<std::size_t> voxels;        // linear indices of mask voxels in the original grid
  std::vector<std::uint32_t> padded;      // padded-grid index of each mask voxel
  std::vector<std::int64_t> deltas;       // neighbour offsets in the padded grid (6, 18 or 26)
  std::size_t padded_count = 0;           // voxels of the padded grid
};
MaskGraph mask_graph(const Mask& mask, Connectivity conn);

// stat: one value per mask voxel (graph order). Returns TFCE per mask voxel.
std::vector<double> tfce(const std::vector<double>& stat, const MaskGraph& graph, const TfceOptions& options = {});

// Scratch buffers of tfce, reused across calls (one per thread) to avoid reallocating per permutation.
struct TfceWorkspace {
  std::vector<std::uint32_t> parent, size, level, order, start, roots, kept;  // parent/size/val: padded grid
  std::vector<double> val;
};
// As above, writing into `out` (resized to the number of mask voxels).
void tfce(const std::vector<double>& stat, const MaskGraph& graph, const TfceOptions& options, TfceWorkspace& ws,
          std::vector<double>& out);

}  // namespace petpipe::stats
