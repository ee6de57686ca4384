// Histogram matching, normalised mutual information and the orientation-convention check.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "grid.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/normalize/register.hpp"

namespace petpipe::normalize {

Image3D match_histogram(const Image3D& image, const Image3D& reference, double threshold_fraction,
                        const Mask* mask) {
  if (mask && (!mask->geom.same_grid(image.geom) || !mask->geom.same_grid(reference.geom)))
    throw Error("histogram matching: the mask must be on the grid of both images");
  constexpr int kPoints = 64;
  auto foreground_quantiles = [&](const Image3D& img, double* thr) {
    *thr = threshold_fraction * detail::quantile(img.data, 0.99);
    std::vector<float> fg;
    fg.reserve(img.data.size());
    for (std::size_t i = 0; i < img.data.size(); ++i)
      if (img.data[i] > *thr && (!mask || mask->data[i])) fg.push_back(img.data[i]);
    if (fg.size() < 100) throw Error("histogram matching: image has too few foreground voxels");
    std::sort(fg.begin(), fg.end());
    std::vector<double> q(kPoints + 1);
    for (int i = 0; i <= kPoints; ++i) {
      const double pos = (0.005 + 0.99 * i / kPoints) * double(fg.size() - 1);
      q[i] = fg[static_cast<std::size_t>(pos)];
    }
    return q;
  };
  double ti = 0, tr = 0;
  const auto qi = foreground_quantiles(image, &ti);
  const auto qr = foreground_quantiles(reference, &tr);
  Image3D out = image;
  for (auto& v : out.data) {
    const double x = v;
    if (!(x > qi.front())) {
      // below the first foreground quantile: linear from 0
      v = qi.front() > 0 ? float(std::max(0.0, x) * qr.front() / qi.front()) : 0.0f;
      continue;
    }
    const auto it = std::upper_bound(qi.begin(), qi.end(), x);
    std::size_t hi = std::min<std::size_t>(it - qi.begin(), qi.size() - 1);
    std::size_t lo = hi - 1;
    while (lo > 0 && qi[hi] - qi[lo] <= 0) --lo;
    const double span = qi[hi] - qi[lo];
    const double t = span > 0 ? (x - qi[lo]) / span : 0.0;
    v = float(qr[lo] + t * (qr[hi] - qr[lo]));
  }
  return out;
}

Image3D local_normalize(const Image3D& image, double sigma_mm, double floor) {
  const std::size_t n = image.data.size();
  std::vector<float> mean = image.data, sq(n);
  double s = 0, s2 = 0;
  for (std::size_t v = 0; v < n; ++v) {
    sq[v] = image.data[v] * image.data[v];
    s += image.data[v];
    s2 += double(image.data[v]) * image.data[v];
  }
  const double gm = n ? s / double(n) : 0.0;
  const double gvar = n ? std::max(0.0, s2 / double(n) - gm * gm) : 0.0;
  const double f2 = floor * floor * gvar;
  detail::gaussian_smooth(mean, image.geom, 1, sigma_mm);
  detail::gaussian_smooth(sq, image.geom, 1, sigma_mm);
  Image3D out(image.geom, 0.0f);
  for (std::size_t v = 0; v < n; ++v) {
    const double var = std::max(0.0, double(sq[v]) - double(mean[v]) * mean[v]);
    const double d = std::sqrt(var + f2);
    out.data[v] = d > 0 ? float((image.data[v] - mean[v]) / d) : 0.0f;
  }
  return out;
}

double normalized_mutual_information(const Image3D& a, const Image3D& b, const Transform& a_to_b, int bins) {
  auto range = [](const Image3D& img) {
    double lo = detail::quantile(img.data, 0.0), hi = detail::quantile(img.data, 0.995);
    if (!(hi > lo)) hi = lo + 1;
    return std::pair{lo, hi};
  };
  const auto [alo, ahi] = range(a);
  const auto [blo, bhi] = range(b);
  std::vector<double> joint(bins * bins, 0.0);
  const detail::PointMap to_point(a.geom);
  const detail::IndexMap to_index(b.geom);
  const auto& g = a.geom;
  double total = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 q = to_index(a_to_b.apply(to_point(double(i), double(j), double(k))));
        float vb;
        if (!detail::trilinear(b.data.data(), b.geom.size, 1, q[0], q[1], q[2], &vb, false)) continue;
        const double va = a.data[g.linear_index(i, j, k)];
        const int ia = std::clamp(int((va - alo) / (ahi - alo) * bins), 0, bins - 1);
        const int ib = std::clamp(int((vb - blo) / (bhi - blo) * bins), 0, bins - 1);
        joint[ia * bins + ib] += 1;
        total += 1;
      }
  if (total < 1) return 0.0;
  std::vector<double> pa(bins, 0.0), pb(bins, 0.0);
  double hab = 0;
  for (int x = 0; x < bins; ++x)
    for (int y = 0; y < bins; ++y) {
      const double p = joint[x * bins + y] / total;
      pa[x] += p;
      pb[y] += p;
      if (p > 0) hab -= p * std::log(p);
    }
  double ha = 0, hb = 0;
  for (int x = 0; x < bins; ++x) {
    if (pa[x] > 0) ha -= pa[x] * std::log(pa[x]);
    if (pb[x] > 0) hb -= pb[x] * std::log(pb[x]);
  }
  return hab > 0 ? (ha + hb) / hab : 0.0;
}

// Intensity-weighted centre (LPS mm) of the positive voxels; the grid centre when there are none.
Vec3 detail::center_of_mass(const Image3D& img) {
  const detail::PointMap to_point(img.geom);
  const auto& g = img.geom;
  double w = 0, s[3] = {0, 0, 0};
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double v = img.data[g.linear_index(i, j, k)];
        if (!(v > 0)) continue;
        const Vec3 p = to_point(double(i), double(j), double(k));
        for (int a = 0; a < 3; ++a) s[a] += v * p[a];
        w += v;
      }
  if (w <= 0) return g.index_to_point({(g.size[0] - 1) / 2.0, (g.size[1] - 1) / 2.0, (g.size[2] - 1) / 2.0});
  return {s[0] / w, s[1] / w, s[2] / w};
}

namespace {


std::string describe_rotation(const Mat3& r) {
  const double tr = r[0] + r[4] + r[8];
  const double angle = std::acos(std::clamp((tr - 1) / 2, -1.0, 1.0)) * 180.0 / M_PI;
  // rotation axis: eigenvector for eigenvalue 1; for these matrices the axis is axis-aligned when
  // one diagonal entry is 1.
  static const char* names[3] = {"left-right", "anterior-posterior", "superior-inferior"};
  std::ostringstream os;
  os << std::lround(angle) << " deg rotation about ";
  int axis = -1;
  for (int a = 0; a < 3; ++a)
    if (std::abs(r[4 * a] - 1) < 1e-9) axis = a;
  if (axis >= 0 && angle > 1) os << "the " << names[axis] << " axis";
  else os << "an oblique axis";
  return os.str();
}

}  // namespace

OrientationCheck check_orientation(const Image3D& fixed, const Image3D& moving, double margin) {
  const double sp = 8.0;
  const Image3D f = detail::smooth_and_resample(fixed, regrid(fixed.geom, sp), 0.5 * sp);
  const Image3D m = detail::smooth_and_resample(moving, regrid(moving.geom, sp), 0.5 * sp);
  const Vec3 cf = detail::center_of_mass(f), cm = detail::center_of_mass(m);
  struct Candidate {
    Mat3 r;
    AffineMap map;
    double nmi;
    bool identity;
  };
  std::vector<Candidate> all;
  // the 24 proper rotations that map coordinate axes onto coordinate axes
  const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& p : perms)
    for (int signs = 0; signs < 8; ++signs) {
      Mat3 r{0, 0, 0, 0, 0, 0, 0, 0, 0};
      for (int row = 0; row < 3; ++row) r[3 * row + p[row]] = (signs >> row) & 1 ? -1.0 : 1.0;
      AffineMap map;
      map.matrix = r;
      if (map.determinant() < 0) continue;
      // x -> cm + R (x - cf)
      const Vec3 rc = map.apply(cf);
      map.offset = {cm[0] - rc[0], cm[1] - rc[1], cm[2] - rc[2]};
      const bool identity = r[0] == 1 && r[4] == 1 && r[8] == 1;
      all.push_back({r, map, normalized_mutual_information(f, m, Transform({map})), identity});
    }
  std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    if (a.identity != b.identity) return a.identity;
    return a.nmi > b.nmi;
  });
  // Refine the header orientation and the two best others with a short rigid registration at 8 mm:
  // centre-of-mass alignment alone does not separate a tilted head from a wrong convention.
  LinearOptions lo;
  lo.kind = LinearKind::rigid;
  lo.spacing_mm = {sp};
  lo.smoothing_mm = {0.0};
  lo.iterations = {60};
  lo.sampling_fraction = 1.0;
  lo.max_step_mm = 4.0;
  OrientationCheck out;
  for (std::size_t c = 0; c < std::min<std::size_t>(3, all.size()); ++c) {
    double nmi = all[c].nmi;
    try {
      const LinearResult lr = register_linear(f, m, lo, &all[c].map);
      nmi = std::max(nmi, normalized_mutual_information(f, m, Transform({lr.fixed_to_moving})));
    } catch (const Error&) {
      // keep the unrefined value
    }
    if (all[c].identity) {
      out.identity_nmi = nmi;
    } else if (nmi > out.best_other_nmi) {
      out.best_other_nmi = nmi;
      out.best_other = describe_rotation(all[c].r);
    }
  }
  out.consistent = !(out.best_other_nmi - 1.0 > (out.identity_nmi - 1.0) * (1.0 + margin));
  log::debug("normalize: orientation check: NMI ", out.identity_nmi, " as given, best other ",
             out.best_other_nmi, " (", out.best_other, ")");
  return out;
}

}  // namespace petpipe::normalize
