#include "petpipe/normalize/transform.hpp"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkNiftiImageIOFactory.h>
#include <itkVector.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>

#include "grid.hpp"
#include "petpipe/core/atomic_file.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/simd.hpp"

namespace petpipe::normalize {

using detail::IndexMap;
using detail::PointMap;

// ------------------------------------------------------------------------------------ AffineMap
Vec3 AffineMap::apply(const Vec3& x) const {
  Vec3 y{};
  for (int r = 0; r < 3; ++r)
    y[r] = matrix[3 * r] * x[0] + matrix[3 * r + 1] * x[1] + matrix[3 * r + 2] * x[2] + offset[r];
  return y;
}

double AffineMap::determinant() const {
  const auto& m = matrix;
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
         m[2] * (m[3] * m[7] - m[4] * m[6]);
}

AffineMap AffineMap::inverse() const {
  const double det = determinant();
  if (!std::isfinite(det) || std::abs(det) < 1e-12) throw Error("affine transform is singular");
  const auto& m = matrix;
  AffineMap inv;
  inv.matrix = {(m[4] * m[8] - m[5] * m[7]) / det, (m[2] * m[7] - m[1] * m[8]) / det,
                (m[1] * m[5] - m[2] * m[4]) / det, (m[5] * m[6] - m[3] * m[8]) / det,
                (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
                (m[3] * m[7] - m[4] * m[6]) / det, (m[1] * m[6] - m[0] * m[7]) / det,
                (m[0] * m[4] - m[1] * m[3]) / det};
  for (int r = 0; r < 3; ++r)
    inv.offset[r] = -(inv.matrix[3 * r] * offset[0] + inv.matrix[3 * r + 1] * offset[1] +
                      inv.matrix[3 * r + 2] * offset[2]);
  return inv;
}

AffineMap AffineMap::after(const AffineMap& first) const {
  AffineMap out;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += matrix[3 * r + k] * first.matrix[3 * k + c];
      out.matrix[3 * r + c] = s;
    }
  out.offset = apply(first.offset);
  return out;
}

double AffineMap::rotation_degrees() const {
  Eigen::Matrix3d m;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) m(r, c) = matrix[3 * r + c];
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d rot = svd.matrixU() * svd.matrixV().transpose();
  const double c = std::clamp((rot.trace() - 1.0) / 2.0, -1.0, 1.0);
  return std::acos(c) * 180.0 / M_PI;
}

// ---------------------------------------------------------------------------- DisplacementField
Vec3 DisplacementField::displacement(const Vec3& point) const {
  if (data.empty()) return {0, 0, 0};
  const Vec3 idx = IndexMap(geom)(point);
  float u[3];
  detail::trilinear(data.data(), geom.size, 3, idx[0], idx[1], idx[2], u, true);
  return {u[0], u[1], u[2]};
}

DisplacementField invert_field(const DisplacementField& field, const InvertFieldOptions& options) {
  DisplacementField inv(field.geom);
  const Geometry& g = field.geom;
  const PointMap to_point(g);
  const IndexMap to_index(g);
  for (int it = 0; it < options.max_iterations; ++it) {
    double worst = 0;
    std::mutex mx;
    DisplacementField next(g);
    parallel_for(g.size[2], [&](std::size_t k0, std::size_t k1) {
      double w = 0;
      for (std::size_t k = k0; k < k1; ++k)
        for (std::size_t j = 0; j < g.size[1]; ++j)
          for (std::size_t i = 0; i < g.size[0]; ++i) {
            const std::size_t v = g.linear_index(i, j, k);
            const Vec3 y = to_point(double(i), double(j), double(k));
            const float* cur = &inv.data[3 * v];
            const Vec3 q{y[0] + cur[0], y[1] + cur[1], y[2] + cur[2]};
            const Vec3 qi = to_index(q);
            float u[3];
            detail::trilinear(field.data.data(), g.size, 3, qi[0], qi[1], qi[2], u, true);
            for (int a = 0; a < 3; ++a) {
              next.data[3 * v + a] = -u[a];
              w = std::max(w, double(std::abs(-u[a] - cur[a])));
            }
          }
      std::lock_guard<std::mutex> lock(mx);
      worst = std::max(worst, w);
    });
    inv.data.swap(next.data);
    if (worst < options.tolerance_mm) break;
  }
  return inv;
}

// ------------------------------------------------------------------------------------ Transform
Transform& Transform::then(Component c) {
  components_.push_back(std::move(c));
  return *this;
}

Vec3 Transform::apply(const Vec3& x) const {
  Vec3 p = x;
  for (const auto& c : components_) {
    if (const auto* a = std::get_if<AffineMap>(&c))
      p = a->apply(p);
    else
      p = std::get<DisplacementField>(c).apply(p);
  }
  return p;
}

// ----------------------------------------------------------------------------------- resampling
namespace {

template <typename Out, typename F>
Volume<Out> map_grid(const Geometry& target, const Transform& t, F&& sample) {
  Volume<Out> out(target);
  const PointMap to_point(target);
  parallel_for(target.size[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < target.size[1]; ++j)
        for (std::size_t i = 0; i < target.size[0]; ++i)
          out.data[target.linear_index(i, j, k)] = sample(t.apply(to_point(double(i), double(j), double(k))));
  });
  return out;
}

}  // namespace

Image3D resample_linear(const Image3D& source, const Geometry& target, const Transform& t, float outside) {
  const IndexMap to_index(source.geom);
  return map_grid<float>(target, t, [&](const Vec3& p) {
    const Vec3 q = to_index(p);
    float v = outside;
    detail::trilinear(source.data.data(), source.geom.size, 1, q[0], q[1], q[2], &v, false);
    return v;
  });
}

LabelImage resample_nearest(const LabelImage& source, const Geometry& target, const Transform& t,
                            std::int32_t outside) {
  const IndexMap to_index(source.geom);
  const auto& n = source.geom.size;
  return map_grid<std::int32_t>(target, t, [&](const Vec3& p) {
    const Vec3 q = to_index(p);
    const long i = std::lround(q[0]), j = std::lround(q[1]), k = std::lround(q[2]);
    if (i < 0 || j < 0 || k < 0 || i >= long(n[0]) || j >= long(n[1]) || k >= long(n[2])) return outside;
    return source.data[source.geom.linear_index(i, j, k)];
  });
}

Image3D resample_occupancy(const Mask& source, const Geometry& target, const Transform& t, int subsamples) {
  const int s = std::max(1, subsamples);
  const IndexMap to_index(source.geom);
  const PointMap to_point(target);
  const auto& n = source.geom.size;
  Image3D out(target, 0.0f);
  parallel_for(target.size[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < target.size[1]; ++j)
        for (std::size_t i = 0; i < target.size[0]; ++i) {
          int inside = 0;
          for (int c = 0; c < s; ++c)
            for (int b = 0; b < s; ++b)
              for (int a = 0; a < s; ++a) {
                const double di = (a + 0.5) / s - 0.5, dj = (b + 0.5) / s - 0.5, dk = (c + 0.5) / s - 0.5;
                const Vec3 q = to_index(t.apply(to_point(i + di, j + dj, k + dk)));
                const long x = std::lround(q[0]), y = std::lround(q[1]), z = std::lround(q[2]);
                if (x < 0 || y < 0 || z < 0 || x >= long(n[0]) || y >= long(n[1]) || z >= long(n[2])) continue;
                inside += source.data[source.geom.linear_index(x, y, z)] != 0;
              }
          out.data[target.linear_index(i, j, k)] = float(inside) / float(s * s * s);
        }
  });
  return out;
}

Geometry mni_grid(double spacing, const Vec3& lo, const Vec3& hi) {
  if (!(spacing > 0)) throw make_error("MNI grid: spacing must be positive (got ", spacing, " mm)");
  Geometry g;
  for (int a = 0; a < 3; ++a) {
    if (!(hi[a] > lo[a])) throw Error("MNI grid: bounding box upper corner must exceed the lower corner");
    g.size[a] = static_cast<std::size_t>(std::lround((hi[a] - lo[a]) / spacing)) + 1;
    g.spacing[a] = spacing;
  }
  g.origin = from_ras(lo);
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  return g;
}

Geometry regrid(const Geometry& g, double spacing) {
  Geometry out = g;
  for (int a = 0; a < 3; ++a) {
    const double extent = (double(g.size[a]) - 1) * g.spacing[a];
    out.size[a] = static_cast<std::size_t>(std::floor(extent / spacing + 1e-6)) + 1;
    out.spacing[a] = spacing;
    // centre the new grid in the old extent
    const double shift = 0.5 * (extent - (double(out.size[a]) - 1) * spacing);
    for (int r = 0; r < 3; ++r) out.origin[r] += g.direction[3 * r + a] * shift;
  }
  return out;
}

Geometry subvoxel_grid(const Geometry& g, int s, const std::array<std::size_t, 3>& lo,
                       const std::array<std::size_t, 3>& hi) {
  if (s < 1) throw make_error("sub-voxel grid: subdivision must be at least 1 (got ", s, ")");
  for (int a = 0; a < 3; ++a)
    if (lo[a] > hi[a] || hi[a] >= g.size[a])
      throw make_error("sub-voxel grid: voxel box ", lo[a], "..", hi[a], " on axis ", a, " is outside 0..",
                       g.size[a] - 1);
  Geometry out = g;
  Vec3 first{};
  for (int a = 0; a < 3; ++a) {
    out.size[a] = (hi[a] - lo[a] + 1) * std::size_t(s);
    out.spacing[a] = g.spacing[a] / s;
    first[a] = double(lo[a]) - 0.5 + 0.5 / s;
  }
  out.origin = g.index_to_point(first);
  return out;
}

LabelImage resample_nearest_subvoxel(const LabelImage& source, const LabelImage& coarse, const Transform& t) {
  const Geometry& g = coarse.geom;
  std::array<std::size_t, 3> lo{g.size[0], g.size[1], g.size[2]}, hi{0, 0, 0};
  bool any = false;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        if (coarse.data[g.linear_index(i, j, k)] == 0) continue;
        any = true;
        const std::array<std::size_t, 3> idx{i, j, k};
        for (int a = 0; a < 3; ++a) {
          lo[a] = std::min(lo[a], idx[a] > 0 ? idx[a] - 1 : 0);
          hi[a] = std::max(hi[a], std::min(idx[a] + 1, g.size[a] - 1));
        }
      }
  if (!any) throw Error("no atlas label falls inside the image (check the transforms)");
  const double largest = std::max({g.spacing[0], g.spacing[1], g.spacing[2]});
  const int s = std::clamp(int(std::ceil(largest - 1e-6)), 2, 4);
  return resample_nearest(source, subvoxel_grid(g, s, lo, hi), t);
}

// ------------------------------------------------------------------------------------ smoothing
namespace {

// out[q] = sum over r = -radius..radius (in that order) of kernel[r + radius] * padded[q + (r + radius) ncomp]
// for q < n ncomp: one line of n points of ncomp components, padded by radius points either side.
PETPIPE_SIMD_CLONES
void convolve_padded(const double* padded, std::size_t n, int ncomp, const double* kernel, int radius,
                     double* out) {
  const std::size_t m = n * static_cast<std::size_t>(ncomp);
  std::fill(out, out + m, 0.0);
  for (int r = 0; r <= 2 * radius; ++r) {
    const double k = kernel[r];
    const double* src = padded + static_cast<std::size_t>(r) * static_cast<std::size_t>(ncomp);
    for (std::size_t q = 0; q < m; ++q) out[q] += k * src[q];
  }
}

}  // namespace

namespace detail {

void gaussian_smooth(std::vector<float>& data, const Geometry& g, int ncomp, double sigma_mm) {
  if (sigma_mm <= 0) return;
  for (int axis = 0; axis < 3; ++axis) {
    const double s = sigma_mm / g.spacing[axis];
    if (s < 0.2 || g.size[axis] < 2) continue;
    const int radius = std::max(1, int(std::ceil(3.0 * s)));
    std::vector<double> kernel(2 * radius + 1);
    double sum = 0;
    for (int r = -radius; r <= radius; ++r) sum += kernel[r + radius] = std::exp(-0.5 * r * r / (s * s));
    for (auto& w : kernel) w /= sum;
    const std::size_t n = g.size[axis];
    const std::size_t stride = axis == 0 ? 1 : axis == 1 ? g.size[0] : g.size[0] * g.size[1];
    // lines: iterate over all voxels with index 0 along `axis`
    const std::size_t a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;
    const std::size_t n1 = g.size[a1], n2 = g.size[a2];
    const std::size_t s1 = a1 == 0 ? 1 : a1 == 1 ? g.size[0] : g.size[0] * g.size[1];
    const std::size_t s2 = a2 == 0 ? 1 : a2 == 1 ? g.size[0] : g.size[0] * g.size[1];
    // Edge values repeated: the line is copied with radius copies of its end points either side.
    parallel_for(n2, [&](std::size_t b, std::size_t e) {
      std::vector<double> padded((n + 2 * radius) * ncomp), out(n * ncomp);
      for (std::size_t q2 = b; q2 < e; ++q2)
        for (std::size_t q1 = 0; q1 < n1; ++q1) {
          const std::size_t base = q1 * s1 + q2 * s2;
          for (long t = -radius; t < long(n) + radius; ++t) {
            const std::size_t tt = static_cast<std::size_t>(std::clamp<long>(t, 0, long(n) - 1));
            for (int c = 0; c < ncomp; ++c) padded[(t + radius) * ncomp + c] = data[(base + tt * stride) * ncomp + c];
          }
          convolve_padded(padded.data(), n, ncomp, kernel.data(), radius, out.data());
          for (std::size_t t = 0; t < n; ++t)
            for (int c = 0; c < ncomp; ++c) data[(base + t * stride) * ncomp + c] = float(out[t * ncomp + c]);
        }
    });
  }
}

Image3D smooth_and_resample(const Image3D& image, const Geometry& target, double sigma_mm) {
  if (sigma_mm <= 0 && image.geom.same_grid(target)) return image;
  Image3D s = image;
  gaussian_smooth(s.data, s.geom, 1, sigma_mm);
  if (s.geom.same_grid(target)) return s;
  return resample_linear(s, target, Transform::identity(), 0.0f);
}

double quantile(std::vector<float> v, double q) {
  if (v.empty()) return 0.0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace detail

// -------------------------------------------------------------------------------------- file I/O
void write_affine(const std::filesystem::path& path, const AffineMap& map) {
  std::ostringstream os;
  os.precision(17);
  os << "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters:";
  for (double v : map.matrix) os << ' ' << v;
  for (double v : map.offset) os << ' ' << v;
  os << "\nFixedParameters: 0 0 0\n";
  write_text(path, os.str());
}

AffineMap read_affine(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw make_error(path.string(), ": transform file not found");
  std::string line, type;
  std::vector<double> params, fixed;
  auto numbers = [](const std::string& s) {
    std::istringstream is(s);
    std::vector<double> v;
    double x;
    while (is >> x) v.push_back(x);
    return v;
  };
  while (std::getline(in, line)) {
    if (line.rfind("Transform:", 0) == 0) {
      if (!type.empty()) throw make_error(path.string(), ": holds more than one transform");
      type = line.substr(10);
      type.erase(0, type.find_first_not_of(' '));
      while (!type.empty() && (type.back() == '\r' || type.back() == ' ')) type.pop_back();
    } else if (line.rfind("Parameters:", 0) == 0) {
      params = numbers(line.substr(11));
    } else if (line.rfind("FixedParameters:", 0) == 0) {
      fixed = numbers(line.substr(16));
    }
  }
  if (type != "AffineTransform_double_3_3" && type != "MatrixOffsetTransformBase_double_3_3")
    throw make_error(path.string(), ": expected an ITK AffineTransform_double_3_3, found \"", type, "\"");
  if (params.size() != 12 || (fixed.size() != 3 && !fixed.empty()))
    throw make_error(path.string(), ": malformed affine transform (", params.size(), " parameters)");
  AffineMap m;
  for (int i = 0; i < 9; ++i) m.matrix[i] = params[i];
  const Vec3 c = fixed.empty() ? Vec3{0, 0, 0} : Vec3{fixed[0], fixed[1], fixed[2]};
  // ITK: y = M (x - c) + t + c
  for (int r = 0; r < 3; ++r)
    m.offset[r] = params[9 + r] + c[r] -
                  (m.matrix[3 * r] * c[0] + m.matrix[3 * r + 1] * c[1] + m.matrix[3 * r + 2] * c[2]);
  return m;
}

namespace {
using FieldImage = itk::Image<itk::Vector<float, 3>, 3>;
void register_nifti() {
  static const bool once = [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    return true;
  }();
  (void)once;
}
}  // namespace

void write_field(const std::filesystem::path& path, const DisplacementField& field) {
  register_nifti();
  const Geometry& g = field.geom;
  auto img = FieldImage::New();
  FieldImage::RegionType region;
  FieldImage::SpacingType spacing;
  FieldImage::PointType origin;
  FieldImage::DirectionType dir;
  for (unsigned i = 0; i < 3; ++i) {
    region.SetSize(i, g.size[i]);
    spacing[i] = g.spacing[i];
    origin[i] = g.origin[i];
    for (unsigned j = 0; j < 3; ++j) dir[i][j] = g.direction[3 * i + j];
  }
  img->SetRegions(region);
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(dir);
  img->Allocate();
  auto* p = img->GetBufferPointer();
  for (std::size_t v = 0; v < g.voxel_count(); ++v)
    for (unsigned a = 0; a < 3; ++a) p[v][a] = field.data[3 * v + a];
  AtomicFile file(path);
  auto writer = itk::ImageFileWriter<FieldImage>::New();
  writer->SetFileName(file.temp_path().string());
  writer->SetInput(img);
  writer->SetUseCompression(true);
  try {
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    throw make_error(path.string(), ": cannot write displacement field: ", e.GetDescription());
  }
  file.commit();
}

DisplacementField read_field(const std::filesystem::path& path) {
  register_nifti();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw make_error(path.string(), ": displacement field not found");
  auto reader = itk::ImageFileReader<FieldImage>::New();
  reader->SetFileName(path.string());
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw make_error(path.string(), ": cannot read displacement field: ", e.GetDescription());
  }
  auto img = reader->GetOutput();
  DisplacementField f;
  for (unsigned i = 0; i < 3; ++i) {
    f.geom.size[i] = img->GetLargestPossibleRegion().GetSize()[i];
    f.geom.spacing[i] = img->GetSpacing()[i];
    f.geom.origin[i] = img->GetOrigin()[i];
    for (unsigned j = 0; j < 3; ++j) f.geom.direction[3 * i + j] = img->GetDirection()[i][j];
  }
  f.data.resize(3 * f.geom.voxel_count());
  const auto* p = img->GetBufferPointer();
  for (std::size_t v = 0; v < f.geom.voxel_count(); ++v)
    for (unsigned a = 0; a < 3; ++a) f.data[3 * v + a] = p[v][a];
  return f;
}

}  // namespace petpipe::normalize
