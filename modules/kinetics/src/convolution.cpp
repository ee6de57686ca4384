#include "petpipe/kinetics/convolution.hpp"

#include <algorithm>
#include <cmath>

#include "petpipe/core/error.hpp"

namespace petpipe::kinetics {

FrameTimes FrameTimes::from(const FrameTable& frames) {
  FrameTimes t;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    t.start.push_back(frames.start_s[f] / 60.0);
    t.end.push_back(frames.end_s(f) / 60.0);
  }
  return t;
}

double PiecewiseLinear::operator()(double time) const {
  if (t.empty()) return 0.0;
  if (time <= t.front()) return y.front();
  if (time >= t.back()) return y.back();
  const auto it = std::upper_bound(t.begin(), t.end(), time);
  const std::size_t i = static_cast<std::size_t>(it - t.begin());  // t[i-1] <= time < t[i]
  const double u = (time - t[i - 1]) / (t[i] - t[i - 1]);
  return y[i - 1] + u * (y[i] - y[i - 1]);
}

namespace {

void check_frames(const FrameTimes& frames) {
  if (frames.size() == 0) throw Error("no frames");
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (!(frames.start[f] >= 0.0))
      throw make_error("frame ", f + 1, " starts before injection (", frames.start[f], " min)");
    if (!(frames.end[f] > frames.start[f])) throw make_error("frame ", f + 1, " has no duration");
    if (f > 0 && frames.start[f] < frames.end[f - 1] - 1e-9)
      throw make_error("frames ", f, " and ", f + 1, " overlap or are not in time order");
  }
}

// phi_n(x) = sum_{j>=0} (-x)^j / (j+n)!  (n = 1, 2, 3) and their derivatives; closed forms:
//   phi1 = (1 - e^-x)/x,  phi2 = (x - 1 + e^-x)/x^2,  phi3 = (x^2/2 - x + 1 - e^-x)/x^3.
// The series is used for small x, where the closed forms cancel.
struct Phi {
  double e, p1, p2, p3, d1, d2, d3;
};

Phi phi(double x, bool derivatives) {
  Phi r{};
  r.e = std::exp(-x);
  if (x < 2.0) {
    double* p[3] = {&r.p1, &r.p2, &r.p3};
    double* d[3] = {&r.d1, &r.d2, &r.d3};
    for (int n = 1; n <= 3; ++n) {
      double fact = 1.0;  // n!
      for (int i = 2; i <= n; ++i) fact *= i;
      double term = 1.0 / fact;  // (-x)^j/(j+n)!, j = 0
      double s = term, ds = 0.0;
      double q = 1.0 / (fact * (n + 1));  // (-x)^(j-1)/(j+n)!, j = 1
      for (int j = 1; j < 40; ++j) {
        term *= -x / (j + n);
        s += term;
        if (derivatives) {
          ds -= j * q;
          q *= -x / (j + n + 1);
        }
        if (std::abs(term) < 1e-18 * std::abs(s) && (!derivatives || std::abs(j * q) < 1e-18)) break;
      }
      *p[n - 1] = s;
      *d[n - 1] = ds;
    }
    return r;
  }
  const double e = r.e, x2 = x * x, x3 = x2 * x;
  r.p1 = (1.0 - e) / x;
  r.p2 = (x - 1.0 + e) / x2;
  r.p3 = (0.5 * x2 - x + 1.0 - e) / x3;
  if (derivatives) {
    r.d1 = (e * (x + 1.0) - 1.0) / x2;
    r.d2 = (2.0 - x - (x + 2.0) * e) / x3;
    r.d3 = (-0.5 * x2 + 2.0 * x - 3.0 + (x + 3.0) * e) / (x3 * x);
  }
  return r;
}

}  // namespace

PiecewiseLinear interpolate_frame_averages(const FrameTimes& frames, const std::vector<double>& values) {
  if (values.size() != frames.size())
    throw make_error(values.size(), " TAC values for ", frames.size(), " frames");
  check_frames(frames);
  // Knot values u_f at the mid-times such that every frame average of the interpolant equals the given
  // value: u_f + a_f (u_{f-1} - u_f) / 4 + b_f (u_{f+1} - u_f) / 4 = v_f, with
  // a_f = (m_f - s_f) / (m_f - m_{f-1}) (m_{-1} = 0, u_{-1} = 0: the knot at injection) and
  // b_f = (e_f - m_f) / (m_{f+1} - m_f) (b = 0 for the last frame, which is held). The system is strictly
  // diagonally dominant (diagonal >= 1/2, off-diagonals sum <= 1/2): solved by the Thomas algorithm.
  const std::size_t n = frames.size();
  std::vector<double> lo(n, 0.0), di(n, 0.0), up(n, 0.0), rhs(values);
  for (std::size_t f = 0; f < n; ++f) {
    const double m = frames.mid(f);
    const double mp = f > 0 ? frames.mid(f - 1) : 0.0;
    const double a = (m - frames.start[f]) / (m - mp);
    const double b = f + 1 < n ? (frames.end[f] - m) / (frames.mid(f + 1) - m) : 0.0;
    di[f] = 1.0 - 0.25 * a - 0.25 * b;
    if (f > 0) lo[f] = 0.25 * a;  // for f = 0 the neighbour is the fixed zero at t = 0
    up[f] = 0.25 * b;
  }
  for (std::size_t f = 1; f < n; ++f) {
    const double w = lo[f] / di[f - 1];
    di[f] -= w * up[f - 1];
    rhs[f] -= w * rhs[f - 1];
  }
  std::vector<double> u(n);
  u[n - 1] = rhs[n - 1] / di[n - 1];
  for (std::size_t f = n - 1; f-- > 0;) u[f] = (rhs[f] - up[f] * u[f + 1]) / di[f];
  PiecewiseLinear c;
  c.t.resize(n + 2);
  c.y.resize(n + 2);
  for (std::size_t f = 0; f < n; ++f) {
    c.t[f + 1] = frames.mid(f);
    c.y[f + 1] = u[f];
  }
  c.t[n + 1] = frames.end.back();
  c.y[n + 1] = u[n - 1];
  return c;
}

FrameConvolver::FrameConvolver(const PiecewiseLinear& input, const FrameTimes& frames) {
  check_frames(frames);
  if (input.t.size() != input.y.size() || input.t.empty())
    throw Error("piecewise-linear input needs matching, non-empty knot arrays");
  for (std::size_t i = 1; i < input.t.size(); ++i)
    if (!(input.t[i] > input.t[i - 1])) throw Error("piecewise-linear knots are not increasing");
  const double t_end = frames.end.back();
  std::vector<double> b{0.0};
  for (double t : input.t)
    if (t > 0.0 && t < t_end) b.push_back(t);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    b.push_back(frames.start[f]);
    b.push_back(frames.end[f]);
  }
  std::sort(b.begin(), b.end());
  std::vector<double> u;
  for (double t : b)
    if (u.empty() || t - u.back() > 1e-12 * std::max(1.0, t_end)) u.push_back(t);
  duration_.resize(frames.size());
  for (std::size_t f = 0; f < frames.size(); ++f) duration_[f] = frames.duration(f);
  std::size_t f = 0;
  for (std::size_t i = 0; i + 1 < u.size(); ++i) {
    const double a = u[i], e = u[i + 1];
    Interval iv;
    iv.tau = e - a;
    iv.c0 = input(a);
    iv.slope = (input(e) - iv.c0) / iv.tau;
    const double mid = 0.5 * (a + e);
    while (f < frames.size() && frames.end[f] <= mid) ++f;
    iv.frame = (f < frames.size() && frames.start[f] <= mid) ? static_cast<int>(f) : -1;
    intervals_.push_back(iv);
  }
}

void FrameConvolver::frame_averages(double k, double* out, double* dout) const {
  const std::size_t nf = duration_.size();
  std::fill(out, out + nf, 0.0);
  if (dout) std::fill(dout, dout + nf, 0.0);
  const bool deriv = dout != nullptr;
  double y = 0.0, g = 0.0;  // y(t) and dy/dk at the current knot
  for (const auto& iv : intervals_) {
    const double tau = iv.tau, tau2 = tau * tau, tau3 = tau2 * tau;
    const Phi p = phi(k * tau, deriv);
    if (iv.frame >= 0) {
      out[iv.frame] += y * tau * p.p1 + iv.c0 * tau2 * p.p2 + iv.slope * tau3 * p.p3;
      if (deriv)
        dout[iv.frame] +=
            g * tau * p.p1 + y * tau2 * p.d1 + iv.c0 * tau3 * p.d2 + iv.slope * tau3 * tau * p.d3;
    }
    const double y_next = y * p.e + iv.c0 * tau * p.p1 + iv.slope * tau2 * p.p2;
    if (deriv) g = g * p.e - tau * y * p.e + iv.c0 * tau2 * p.d1 + iv.slope * tau3 * p.d2;
    y = y_next;
  }
  for (std::size_t f = 0; f < nf; ++f) {
    out[f] /= duration_[f];
    if (dout) dout[f] /= duration_[f];
  }
}

std::vector<double> FrameConvolver::frame_averages(double k) const {
  std::vector<double> out(duration_.size());
  frame_averages(k, out.data());
  return out;
}

}  // namespace petpipe::kinetics
