#pragma once
// Regional models on ROI TACs (frame averages, same decay state as the reference TAC).
//
//  - srtm_nlls: SRTM (Lammertsma & Hume 1996) by Levenberg-Marquardt with an exact analytic Jacobian,
//    box bounds by projection, several starts; standard errors from sigma^2 (J'WJ)^-1.
//  - logan_reference: Logan reference-tissue graphical analysis (Logan et al. 1996), BPND = slope - 1.
//  - mrtm / mrtm2: multilinear reference tissue models (Ichise et al. 2003).
// The integrals of the linear methods are frame averages of the running integral of each TAC's
// piecewise-linear interpolant (interpolate_frame_averages), computed exactly. The linear methods assume
// decay-corrected TACs.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "petpipe/kinetics/convolution.hpp"
#include "petpipe/kinetics/reference.hpp"

namespace petpipe::kinetics {

struct NllsOptions {
  std::vector<double> weights;          // per frame, empty = uniform
  double decay_constant_per_min = 0.0;  // lambda when the TACs are not decay corrected
  double r1_min = 0.0, r1_max = 3.0;    // bounds (issue 4)
  double k2_min = 0.0, k2_max = 1.0;    // 1/min
  double bp_min = 0.0, bp_max = 8.0;
  int max_iterations = 200;             // per start
  // Starts: every combination of these values (clipped to the bounds).
  std::vector<double> r1_starts{0.5, 1.0, 1.5};
  std::vector<double> k2_starts{0.05, 0.15, 0.4};
  std::vector<double> bp_starts{0.3, 1.5, 4.0};
};

struct SrtmFit {
  double r1 = 0, k2 = 0, bpnd = 0, k2a = 0;  // k2, k2a per minute
  double se_r1 = 0, se_k2 = 0, se_bpnd = 0;  // standard errors (NaN when not estimable)
  double rss = 0;                            // weighted residual sum of squares
  int iterations = 0;                        // of the winning start
  bool converged = false;
  bool at_bound = false;                     // a parameter ends on a bound
  std::vector<double> fitted;                // model frame averages
};

SrtmFit srtm_nlls(const FrameTimes& frames, const std::vector<double>& reference,
                  const std::vector<double>& target, const NllsOptions& options = {});

// SRTM by srtm_nlls on every region of a set of TACs, with the frame weights of one scheme (computed
// from the reference TAC) and the decay constant when the frames are not decay corrected: the regional
// fits of petpipe run. A region with a non-finite frame is not fitted (fitted[i] false, fits[i] empty).
struct RegionalSrtmOptions {
  WeightScheme weights = WeightScheme::counts;
};
struct RegionalSrtmResult {
  std::vector<std::string> names;
  std::vector<SrtmFit> fits;
  std::vector<bool> fitted;
  std::vector<double> frame_weights;
};
RegionalSrtmResult fit_srtm_regions(const FrameTable& frames, const std::vector<double>& reference,
                                    const std::vector<std::pair<std::string, std::vector<double>>>& regions,
                                    const RegionalSrtmOptions& options = {});

// The SRTM model frame averages for given parameters and, optionally, the Jacobian with respect to
// (R1, k2, BPND) (frames x 3, row-major). Used by srtm_nlls; public for tests.
std::vector<double> srtm_model(const FrameTimes& frames, const std::vector<double>& reference, double r1,
                               double k2, double bpnd, double decay_constant_per_min = 0.0,
                               std::vector<double>* jacobian = nullptr);

struct LoganOptions {
  double k2_ref_per_min = 0.0;  // k2' of the reference region; <= 0 drops the C_R/k2' term
  double t_star_min = 20.0;     // frames with mid-time >= t* enter the regression
};
struct LinearFit {
  double bpnd = 0;
  double slope = 0, intercept = 0;  // Logan: DVR and intercept
  double k2 = 0, k2a = 0, r1 = 0;   // MRTM/MRTM2 where defined (per minute)
  double k2_ref = 0;                // MRTM: estimated k2' = k2 / R1
  std::size_t points = 0;
};
LinearFit logan_reference(const FrameTimes& frames, const std::vector<double>& reference,
                          const std::vector<double>& target, const LoganOptions& options = {});
// MRTM: C_T = g1 int C_R + g2 int C_T + g3 C_R (all frames, weighted); k2 = g1, k2a = -g2, R1 = g3.
LinearFit mrtm(const FrameTimes& frames, const std::vector<double>& reference,
               const std::vector<double>& target, const std::vector<double>& weights = {});
// MRTM2: C_T = g1 (int C_R + C_R / k2') + g2 int C_T with k2' fixed (e.g. from MRTM on a high-binding
// region); k2 = g1, k2a = -g2, R1 = k2 / k2'.
LinearFit mrtm2(const FrameTimes& frames, const std::vector<double>& reference,
                const std::vector<double>& target, double k2_ref_per_min,
                const std::vector<double>& weights = {});

}  // namespace petpipe::kinetics
