#pragma once
// Exact time-activity curves for the phantom. Curves are sums of terms c * t^m * exp(-r t) (t in
// minutes, zero before the injection at t = 0), a family closed under convolution with exp(-k t), so
// SRTM tissue curves and their frame averages are computed in closed form, without sampling.
#include <vector>

#include "petpipe/core/frame_table.hpp"

namespace petpipe::phantom {

struct ExpTerm {
  double coef = 0.0;  // kBq/mL per min^power
  int power = 0;      // m >= 0
  double rate = 0.0;  // 1/min, >= 0
};

// f(t) = sum_i coef_i t^power_i exp(-rate_i t) for t >= 0; f(t) = 0 for t < 0.
struct ExpCurve {
  std::vector<ExpTerm> terms;

  double value(double t_min) const;
  // Exact integral over [t0, t1] (minutes), kBq/mL * min. The part before t = 0 contributes nothing.
  double integral(double t0_min, double t1_min) const;
  // (f (x) exp(-k t))(t) = integral_0^t f(tau) exp(-k (t - tau)) dtau, exact (k >= 0, 1/min). Near-equal
  // rates use a convergent series instead of the cancelling closed form.
  ExpCurve convolve_exp(double k_per_min) const;
  ExpCurve scaled(double s) const;
  ExpCurve plus(const ExpCurve& other) const;
};

// Reference-region curve, a bolus with a bi-exponential washout:
// C_R(t) = a1 t e^{-l1 t} + a2 (e^{-l2 t} - e^{-l1 t}) + a3 (e^{-l3 t} - e^{-l1 t}), zero at t = 0,
// decay corrected, kBq/mL with t in minutes.
struct ReferenceCurveParams {
  double a1 = 9.0, l1 = 0.6;     // kBq/mL/min, 1/min: bolus rise
  double a2 = 5.0, l2 = 0.12;    // kBq/mL, 1/min: fast washout
  double a3 = 2.5, l3 = 0.012;   // kBq/mL, 1/min: slow washout
};
ExpCurve reference_curve(const ReferenceCurveParams& p, double scale = 1.0);

// SRTM (Lammertsma & Hume 1996) target curve:
// C_T = R1 C_R + (k2 - R1 k2a) [C_R (x) exp(-k2a t)], k2a = k2 / (1 + BPND). k2 in 1/min.
ExpCurve srtm_target(const ExpCurve& reference, double r1, double k2_per_min, double bpnd);

// Frame means (kBq/mL) of a curve over the frames of a table (frame times in seconds).
std::vector<double> frame_means(const ExpCurve& curve, const FrameTable& frames);

}  // namespace petpipe::phantom
