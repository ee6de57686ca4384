#pragma once
// Exact frame averages of a piecewise-linear curve convolved with exp(-k t).
//
// Time is in minutes throughout the kinetics module; rate constants are per minute.
//
// The reference TAC is only known as frame averages. It is represented by a piecewise-linear curve
// (interpolate_frame_averages) with knots at t = 0 (injection, value 0), at every frame's mid-time, and
// at the end of the last frame (held constant after the last mid-time). The knot values are chosen so
// that the curve's average over every frame equals the measured frame average exactly (area-preserving
// "histopolation": a diagonally dominant tridiagonal system), so the integral of the reference TAC up to
// any frame boundary is the measured one; with knot values equal to the frame averages instead, a sharp
// bolus peak loses several per cent of its area.
// For such a curve c(t) the convolution y(t) = integral_0^t c(s) exp(-k (t - s)) ds solves
// y' = c - k y, and on each interval where c is linear it has a closed form, so y and its integral over
// every frame are computed exactly (no time step, no sampling at mid-frame), together with the
// derivative with respect to k.
#include <cstddef>
#include <vector>

#include "petpipe/core/frame_table.hpp"

namespace petpipe::kinetics {

// Frame timing in minutes (converted from the FrameTable's seconds).
struct FrameTimes {
  std::vector<double> start;  // min
  std::vector<double> end;    // min
  std::size_t size() const { return start.size(); }
  double duration(std::size_t f) const { return end[f] - start[f]; }
  double mid(std::size_t f) const { return 0.5 * (start[f] + end[f]); }
  static FrameTimes from(const FrameTable& frames);
};

// A piecewise-linear curve through knots (t[i], y[i]), t strictly increasing. Before the first knot it
// takes y[0], after the last knot y.back().
struct PiecewiseLinear {
  std::vector<double> t;  // min
  std::vector<double> y;
  double operator()(double time) const;
};

// The area-preserving interpolant of frame averages described above. Throws petpipe::Error when sizes differ, a frame
// starts before t = 0 or frames are not increasing.
PiecewiseLinear interpolate_frame_averages(const FrameTimes& frames, const std::vector<double>& values);

// Precomputed interval structure for one input curve and one frame schedule; frame_averages() can then
// be called for any number of rate constants k (cheap: one pass over the merged knots).
class FrameConvolver {
public:
  FrameConvolver(const PiecewiseLinear& input, const FrameTimes& frames);

  std::size_t frame_count() const { return duration_.size(); }

  // out[f] = frame average of (input conv exp(-k t)) over frame f; k >= 0 per minute. When dout is not
  // null, dout[f] = d out[f] / dk (exact).
  void frame_averages(double k, double* out, double* dout = nullptr) const;
  std::vector<double> frame_averages(double k) const;

private:
  struct Interval {
    double tau;    // length, min
    double c0;     // input at the interval start
    double slope;  // input slope
    int frame;     // frame index the interval belongs to, -1 in gaps between frames
  };
  std::vector<Interval> intervals_;
  std::vector<double> duration_;
};

}  // namespace petpipe::kinetics
