#include "petpipe/qc/slices.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "petpipe/core/error.hpp"

namespace petpipe::qc {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// q-quantile (0..1) of finite positive values, linear interpolation; 0 when there are none.
double positive_quantile(const std::vector<float>& data, double q) {
  std::vector<float> v;
  v.reserve(data.size());
  for (float x : data)
    if (std::isfinite(x) && x > 0) v.push_back(x);
  if (v.empty()) return 0.0;
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + lo, v.end());
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + lo + 1, v.end());
  return a + (pos - lo) * (b - a);
}

// RAS bounding box of the grid's outer voxel faces.
void bounding_box_ras(const Geometry& g, Vec3& lo, Vec3& hi) {
  lo = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::infinity()};
  hi = {-lo[0], -lo[1], -lo[2]};
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{(c & 1) ? g.size[0] - 0.5 : -0.5, (c & 2) ? g.size[1] - 0.5 : -0.5,
                   (c & 4) ? g.size[2] - 0.5 : -0.5};
    const Vec3 ras = to_ras(g.index_to_point(idx));
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], ras[a]);
      hi[a] = std::max(hi[a], ras[a]);
    }
  }
}

// The display grid of one plane: pixel (u, v) -> RAS point (with the normal coordinate given).
struct PlaneGrid {
  int width = 0, height = 0;
  int h_axis = 0, v_axis = 1, n_axis = 2;  // RAS axes along the horizontal, vertical and normal
  double h_start = 0, h_step = 0;          // RAS coordinate of pixel centre u: h_start + u * h_step
  double v_start = 0, v_step = 0;
  Vec3 point(int u, int v, double normal) const {
    Vec3 ras{};
    ras[h_axis] = h_start + u * h_step;
    ras[v_axis] = v_start + v * v_step;
    ras[n_axis] = normal;
    return from_ras(ras);  // LPS
  }
};

PlaneGrid plane_grid(Plane plane, Convention conv, const Vec3& lo, const Vec3& hi, double pix) {
  PlaneGrid g;
  switch (plane) {
    case Plane::axial: g.h_axis = 0; g.v_axis = 1; g.n_axis = 2; break;
    case Plane::coronal: g.h_axis = 0; g.v_axis = 2; g.n_axis = 1; break;
    case Plane::sagittal: g.h_axis = 1; g.v_axis = 2; g.n_axis = 0; break;
  }
  const double hext = hi[g.h_axis] - lo[g.h_axis];
  const double vext = hi[g.v_axis] - lo[g.v_axis];
  g.width = std::max(1, static_cast<int>(std::ceil(hext / pix - 1e-9)));
  g.height = std::max(1, static_cast<int>(std::ceil(vext / pix - 1e-9)));
  const double hmid = 0.5 * (lo[g.h_axis] + hi[g.h_axis]);
  const double vmid = 0.5 * (lo[g.v_axis] + hi[g.v_axis]);
  // Horizontal: x runs R->L on screen (decreasing RAS x) in radiological convention; y runs P->A.
  const bool h_decreasing = g.h_axis == 0 && conv == Convention::radiological;
  g.h_step = h_decreasing ? -pix : pix;
  g.h_start = hmid - g.h_step * 0.5 * (g.width - 1);
  // Vertical: the top row is anterior (axial) or superior (coronal, sagittal): decreasing coordinate.
  g.v_step = -pix;
  g.v_start = vmid - g.v_step * 0.5 * (g.height - 1);
  return g;
}

void side_labels(SliceView& view, const PlaneGrid& g) {
  static const std::string pos[3] = {"R", "A", "S"};
  static const std::string neg[3] = {"L", "P", "I"};
  view.left = g.h_step < 0 ? pos[g.h_axis] : neg[g.h_axis];
  view.right = g.h_step < 0 ? neg[g.h_axis] : pos[g.h_axis];
  view.top = pos[g.v_axis];
  view.bottom = neg[g.v_axis];
}

void blend(std::uint8_t* px, const Rgb& c, double alpha) {
  for (int k = 0; k < 3; ++k)
    px[k] = static_cast<std::uint8_t>(std::lround((1 - alpha) * px[k] + alpha * c[k]));
}

bool nonfinite_or_outside(double v) { return !std::isfinite(v); }

}  // namespace

std::string to_string(Convention c) { return c == Convention::radiological ? "radiological" : "neurological"; }
std::string to_string(Plane p) {
  switch (p) {
    case Plane::axial: return "axial";
    case Plane::coronal: return "coronal";
    case Plane::sagittal: return "sagittal";
  }
  return "?";
}

double sample_linear(const Image3D& image, const Vec3& lps) {
  const auto& g = image.geom;
  const Vec3 idx = g.point_to_index(lps);
  std::array<std::size_t, 3> i0{};
  std::array<double, 3> w{};
  for (int a = 0; a < 3; ++a) {
    const double n = static_cast<double>(g.size[a]);
    if (!(idx[a] >= -0.5 && idx[a] <= n - 0.5)) return kNaN;
    const double c = std::clamp(idx[a], 0.0, n - 1.0);
    const double f = std::floor(c);
    i0[a] = static_cast<std::size_t>(f);
    w[a] = c - f;
    if (i0[a] + 1 >= g.size[a]) {  // on the last voxel plane
      i0[a] = g.size[a] - 1;
      w[a] = 0.0;
    }
  }
  double sum = 0.0;
  for (int c = 0; c < 8; ++c) {
    const int dx = c & 1, dy = (c >> 1) & 1, dz = (c >> 2) & 1;
    const double wt = (dx ? w[0] : 1 - w[0]) * (dy ? w[1] : 1 - w[1]) * (dz ? w[2] : 1 - w[2]);
    if (wt == 0.0) continue;
    sum += wt * image.at(i0[0] + dx, i0[1] + dy, i0[2] + dz);
  }
  return sum;
}

std::int32_t sample_nearest(const LabelImage& labels, const Vec3& lps, std::int32_t outside) {
  const auto& g = labels.geom;
  const Vec3 idx = g.point_to_index(lps);
  std::array<std::size_t, 3> i{};
  for (int a = 0; a < 3; ++a) {
    const double r = std::round(idx[a]);
    if (!(r >= 0 && r < static_cast<double>(g.size[a]))) return outside;
    i[a] = static_cast<std::size_t>(r);
  }
  return labels.at(i[0], i[1], i[2]);
}

namespace {
std::uint8_t sample_mask(const Mask& m, const Vec3& lps) {
  const auto& g = m.geom;
  const Vec3 idx = g.point_to_index(lps);
  std::array<std::size_t, 3> i{};
  for (int a = 0; a < 3; ++a) {
    const double r = std::round(idx[a]);
    if (!(r >= 0 && r < static_cast<double>(g.size[a]))) return 0;
    i[a] = static_cast<std::size_t>(r);
  }
  return m.at(i[0], i[1], i[2]);
}
}  // namespace

Vec3 centre_of_mass_ras(const Image3D& image) {
  const auto& g = image.geom;
  double s = 0, si = 0, sj = 0, sk = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double v = image.at(i, j, k);
        if (!(std::isfinite(v) && v > 0)) continue;
        s += v;
        si += v * i;
        sj += v * j;
        sk += v * k;
      }
  Vec3 idx{0.5 * (g.size[0] - 1.0), 0.5 * (g.size[1] - 1.0), 0.5 * (g.size[2] - 1.0)};
  if (s > 0) idx = {si / s, sj / s, sk / s};
  return to_ras(g.index_to_point(idx));
}

std::optional<Vec3> peak_ras(const Image3D& image) {
  const auto& g = image.geom;
  double best = -1;
  for (float x : image.data) {
    const double v = std::abs(static_cast<double>(x));
    if (std::isfinite(v) && v > best) best = v;
  }
  if (best < 0) return std::nullopt;
  // The centroid of the voxels at the maximum (one voxel unless the maximum is a plateau).
  double si = 0, sj = 0, sk = 0, n = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        if (std::abs(static_cast<double>(image.at(i, j, k))) == best) {
          si += i;
          sj += j;
          sk += k;
          n += 1;
        }
  return to_ras(g.index_to_point({si / n, sj / n, sk / n}));
}

OrthoViews render_orthogonal(const SliceLayers& layers, const ViewOptions& options) {
  if (!layers.base || layers.base->data.empty() || layers.base->geom.voxel_count() == 0)
    throw Error("slice rendering: no base image");
  const Image3D& base = *layers.base;
  if (base.data.size() != base.geom.voxel_count())
    throw make_error("slice rendering: base image holds ", base.data.size(), " values for ",
                     base.geom.voxel_count(), " voxels");
  OrthoViews out;
  out.convention = options.convention;
  Vec3 lo, hi;
  bounding_box_ras(base.geom, lo, hi);
  double pix = options.pixel_mm;
  if (!(pix > 0)) {
    pix = std::min({base.geom.spacing[0], base.geom.spacing[1], base.geom.spacing[2], 1.0});
    const double longest = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]});
    const int max_side = std::max(16, options.max_side);
    if (longest / pix > max_side) pix = longest / max_side;
  }
  out.pixel_mm = pix;
  out.centre_ras = options.centre_ras ? *options.centre_ras : centre_of_mass_ras(base);
  out.base_min = layers.base_min.value_or(0.0);
  out.base_max = layers.base_max.value_or(positive_quantile(base.data, 0.995));
  if (!(out.base_max > out.base_min)) out.base_max = out.base_min + 1.0;
  if (layers.overlay) {
    double m = 0;
    for (float v : layers.overlay->data)
      if (std::isfinite(v)) m = std::max(m, std::abs(static_cast<double>(v)));
    out.overlay_max = layers.overlay_max.value_or(m);
    if (!(out.overlay_max > layers.overlay_threshold)) out.overlay_max = layers.overlay_threshold + 1.0;
  }

  const Plane planes[3] = {Plane::axial, Plane::coronal, Plane::sagittal};
  for (int p = 0; p < 3; ++p) {
    const PlaneGrid g = plane_grid(planes[p], options.convention, lo, hi, pix);
    SliceView& view = out.views[p];
    view.plane = planes[p];
    view.position_mm = out.centre_ras[g.n_axis];
    side_labels(view, g);
    Raster img(g.width, g.height, 3, 0);
    const std::size_t npix = static_cast<std::size_t>(g.width) * g.height;
    // Normal-axis sample positions: one (slice) or the whole extent (projection).
    std::vector<double> normals;
    if (options.projection) {
      // Step along the ray: the overlay's finest voxel spacing (its values are what is projected), at
      // least one pixel.
      double step = pix;
      if (layers.overlay)
        step = std::max(pix, std::min({layers.overlay->geom.spacing[0], layers.overlay->geom.spacing[1],
                                       layers.overlay->geom.spacing[2]}));
      for (double t = lo[g.n_axis] + 0.5 * step; t < hi[g.n_axis]; t += step) normals.push_back(t);
      if (normals.empty()) normals.push_back(out.centre_ras[g.n_axis]);
    } else {
      normals.push_back(out.centre_ras[g.n_axis]);
    }

    std::vector<double> base_v(npix, kNaN), overlay_v(npix, kNaN), edge_v(npix, kNaN);
    std::vector<std::int32_t> label_v(layers.contours ? npix : 0, 0);
    std::vector<std::uint8_t> mask_v(layers.mask ? npix : 0, 0);
    const double silhouette = out.base_min + 0.1 * (out.base_max - out.base_min);
    for (int v = 0; v < g.height; ++v)
      for (int u = 0; u < g.width; ++u) {
        const std::size_t n = static_cast<std::size_t>(v) * g.width + u;
        if (!options.projection) {
          const Vec3 pt = g.point(u, v, normals[0]);
          base_v[n] = sample_linear(base, pt);
          if (layers.overlay) overlay_v[n] = sample_linear(*layers.overlay, pt);
          if (layers.edges) edge_v[n] = sample_linear(*layers.edges, pt);
          if (layers.contours) label_v[n] = sample_nearest(*layers.contours, pt);
          if (layers.mask) mask_v[n] = sample_mask(*layers.mask, pt);
        } else {
          // Base: fraction of the ray inside the silhouette; overlay: the value of largest magnitude.
          int inside = 0, count = 0;
          double best = kNaN;
          for (double t : normals) {
            const Vec3 pt = g.point(u, v, t);
            const double b = sample_linear(base, pt);
            if (std::isfinite(b)) {
              ++count;
              if (b > silhouette) ++inside;
            }
            if (layers.overlay) {
              const double o = sample_linear(*layers.overlay, pt);
              if (std::isfinite(o) && !(std::abs(o) <= std::abs(best))) best = o;
            }
            if (layers.mask && sample_mask(*layers.mask, pt)) mask_v[n] = 1;
          }
          base_v[n] = count ? (inside > 0 ? 1.0 : 0.0) : kNaN;
          overlay_v[n] = best;
        }
      }

    for (std::size_t n = 0; n < npix; ++n) {
      std::uint8_t* px = img.pixels.data() + 3 * n;
      if (options.projection) {
        const std::uint8_t c = nonfinite_or_outside(base_v[n]) ? 255 : (base_v[n] > 0 ? 215 : 250);
        px[0] = px[1] = px[2] = c;
      } else if (std::isfinite(base_v[n])) {
        const Rgb c = map_value(layers.base_colormap, base_v[n], out.base_min, out.base_max);
        px[0] = c[0]; px[1] = c[1]; px[2] = c[2];
      }
      if (layers.mask && mask_v[n]) blend(px, layers.mask_colour, layers.mask_alpha);
      if (layers.overlay && std::isfinite(overlay_v[n]) && std::abs(overlay_v[n]) >= layers.overlay_threshold &&
          overlay_v[n] != 0.0 && (overlay_v[n] > 0 || layers.overlay_show_negative)) {
        const double a = std::abs(overlay_v[n]);
        // The threshold maps to 30 % of the colour scale and the maximum to 90 %, so supra-threshold
        // values are never black and never white.
        const double t = 0.3 + 0.6 * std::clamp((a - layers.overlay_threshold) / (out.overlay_max - layers.overlay_threshold), 0.0, 1.0);
        const Rgb c = colour_at(overlay_v[n] > 0 ? layers.overlay_colormap : layers.overlay_negative_colormap, t);
        px[0] = c[0]; px[1] = c[1]; px[2] = c[2];
      }
    }
    // Mask outline.
    if (layers.mask) {
      for (int v = 0; v < g.height; ++v)
        for (int u = 0; u < g.width; ++u) {
          const std::size_t n = static_cast<std::size_t>(v) * g.width + u;
          if (!mask_v[n]) continue;
          const bool edge = u == 0 || v == 0 || u + 1 == g.width || v + 1 == g.height || !mask_v[n - 1] ||
                            !mask_v[n + 1] || !mask_v[n - g.width] || !mask_v[n + g.width];
          if (edge) blend(img.pixels.data() + 3 * n, layers.mask_colour, 1.0);
        }
    }
    // Edges: Sobel gradient magnitude of the sampled slice; the strongest edge_fraction of the pixels
    // where the image is defined.
    if (layers.edges && !options.projection) {
      std::vector<double> mag(npix, 0.0);
      std::vector<double> defined;
      for (int v = 1; v + 1 < g.height; ++v)
        for (int u = 1; u + 1 < g.width; ++u) {
          auto e = [&](int du, int dv) {
            const double x = edge_v[static_cast<std::size_t>(v + dv) * g.width + (u + du)];
            return std::isfinite(x) ? x : 0.0;
          };
          const std::size_t n = static_cast<std::size_t>(v) * g.width + u;
          if (!std::isfinite(edge_v[n])) continue;
          const double gx = (e(1, -1) + 2 * e(1, 0) + e(1, 1)) - (e(-1, -1) + 2 * e(-1, 0) + e(-1, 1));
          const double gy = (e(-1, 1) + 2 * e(0, 1) + e(1, 1)) - (e(-1, -1) + 2 * e(0, -1) + e(1, -1));
          mag[n] = std::hypot(gx, gy);
          defined.push_back(mag[n]);
        }
      if (!defined.empty()) {
        const double frac = std::clamp(layers.edge_fraction, 0.0, 1.0);
        const std::size_t k = static_cast<std::size_t>((1.0 - frac) * (defined.size() - 1));
        std::nth_element(defined.begin(), defined.begin() + k, defined.end());
        const double thr = defined[k];
        // Pixels above the quantile (all pixels with a gradient when fewer than the fraction have one).
        if (frac > 0)
          for (std::size_t n = 0; n < npix; ++n)
            if (mag[n] > thr) blend(img.pixels.data() + 3 * n, layers.edge_colour, 0.85);
      }
    }
    // Atlas contours: a labelled pixel whose 4-neighbour carries another label.
    if (layers.contours && !options.projection) {
      for (int v = 0; v < g.height; ++v)
        for (int u = 0; u < g.width; ++u) {
          const std::size_t n = static_cast<std::size_t>(v) * g.width + u;
          const std::int32_t l = label_v[n];
          if (l == 0) continue;
          const bool edge = (u > 0 && label_v[n - 1] != l) || (u + 1 < g.width && label_v[n + 1] != l) ||
                            (v > 0 && label_v[n - g.width] != l) || (v + 1 < g.height && label_v[n + g.width] != l);
          if (edge) blend(img.pixels.data() + 3 * n, layers.contour_colour, 0.8);
        }
    }
    view.image = std::move(img);
  }
  return out;
}

}  // namespace petpipe::qc
