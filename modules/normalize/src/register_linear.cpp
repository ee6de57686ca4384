// Rigid / affine registration with ITK v4 (Mattes MI, regular-step gradient descent). The pyramid is
// built here (Gaussian smoothing + resampling per level) and one single-level ITK registration runs
// per level, continuing from the previous level's transform. All ITK templates stay in this file.
#include <itkAffineTransform.h>
#include <itkEuler3DTransform.h>
#include <itkImage.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkMattesMutualInformationImageToImageMetricv4.h>
#include <itkMultiThreaderBase.h>
#include <itkRegistrationParameterScalesFromPhysicalShift.h>
#include <itkRegularStepGradientDescentOptimizerv4.h>

#include <Eigen/Dense>
#include <cmath>

#include "grid.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/normalize/register.hpp"

namespace petpipe::normalize {

namespace {

using ImageType = itk::Image<float, 3>;

ImageType::Pointer to_itk(const Image3D& v) {
  auto img = ImageType::New();
  ImageType::RegionType region;
  ImageType::SpacingType spacing;
  ImageType::PointType origin;
  ImageType::DirectionType dir;
  for (unsigned i = 0; i < 3; ++i) {
    region.SetSize(i, v.geom.size[i]);
    spacing[i] = v.geom.spacing[i];
    origin[i] = v.geom.origin[i];
    for (unsigned j = 0; j < 3; ++j) dir[i][j] = v.geom.direction[3 * i + j];
  }
  img->SetRegions(region);
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(dir);
  img->Allocate();
  std::copy(v.data.begin(), v.data.end(), img->GetBufferPointer());
  return img;
}


Image3D clamp_negative(Image3D img) {
  for (auto& v : img.data)
    if (!(v > 0)) v = 0;  // also maps NaN to 0
  return img;
}

template <typename TransformType>
LinearResult run(const Image3D& fixed_in, const Image3D& moving_in, const LinearOptions& o,
                 typename TransformType::Pointer transform) {
  using MetricType = itk::MattesMutualInformationImageToImageMetricv4<ImageType, ImageType>;
  using OptimizerType = itk::RegularStepGradientDescentOptimizerv4<double>;
  using RegistrationType = itk::ImageRegistrationMethodv4<ImageType, ImageType, TransformType>;
  using ScalesType = itk::RegistrationParameterScalesFromPhysicalShift<MetricType>;

  LinearResult result;
  const std::size_t levels = o.spacing_mm.size();
  for (std::size_t l = 0; l < levels; ++l) {
    const double sp = o.spacing_mm[l];
    const double sigma = l < o.smoothing_mm.size() ? o.smoothing_mm[l] : 0.0;
    const int iters = l < o.iterations.size() ? o.iterations[l] : o.iterations.back();
    const Image3D f = detail::smooth_and_resample(fixed_in, regrid(fixed_in.geom, sp), sigma);
    const Image3D m = detail::smooth_and_resample(moving_in, regrid(moving_in.geom, sp), sigma);

    auto metric = MetricType::New();
    metric->SetNumberOfHistogramBins(o.histogram_bins);
    metric->SetUseMovingImageGradientFilter(false);
    metric->SetUseFixedImageGradientFilter(false);
    auto scales = ScalesType::New();
    scales->SetMetric(metric);
    scales->SetTransformForward(true);
    auto optimizer = OptimizerType::New();
    optimizer->SetLearningRate(o.max_step_mm / double(1u << std::min<std::size_t>(l, 2)));
    optimizer->SetMinimumStepLength(o.min_step_mm);
    optimizer->SetRelaxationFactor(0.5);
    optimizer->SetNumberOfIterations(iters);
    optimizer->SetGradientMagnitudeTolerance(1e-8);
    optimizer->SetScalesEstimator(scales);
    optimizer->SetDoEstimateLearningRateOnce(false);
    optimizer->SetDoEstimateLearningRateAtEachIteration(false);
    optimizer->SetReturnBestParametersAndValue(true);

    auto reg = RegistrationType::New();
    reg->SetFixedImage(to_itk(f));
    reg->SetMovingImage(to_itk(m));
    reg->SetMetric(metric);
    reg->SetOptimizer(optimizer);
    reg->SetInitialTransform(transform);
    reg->InPlaceOn();
    reg->SetNumberOfLevels(1);
    typename RegistrationType::ShrinkFactorsArrayType shrink(1);
    shrink[0] = 1;
    reg->SetShrinkFactorsPerLevel(shrink);
    typename RegistrationType::SmoothingSigmasArrayType sig(1);
    sig[0] = 0;
    reg->SetSmoothingSigmasPerLevel(sig);
    reg->SetMetricSamplingStrategy(o.sampling_fraction < 1.0 ? RegistrationType::MetricSamplingStrategyEnum::RANDOM
                                                             : RegistrationType::MetricSamplingStrategyEnum::NONE);
    reg->SetMetricSamplingPercentage(std::clamp(o.sampling_fraction, 0.01, 1.0));
    reg->MetricSamplingReinitializeSeed(static_cast<int>(o.seed + 7 * l));
    reg->SetNumberOfWorkUnits(thread_count());
    try {
      reg->Update();
    } catch (const itk::ExceptionObject& e) {
      throw make_error("registration failed at the ", sp, " mm level: ", e.GetDescription(),
                       " (do the images overlap?)");
    }
    result.metric = optimizer->GetCurrentMetricValue();
    result.iterations += static_cast<int>(optimizer->GetCurrentIteration());
    log::debug("normalize: level ", sp, " mm: MI ", result.metric, " after ", optimizer->GetCurrentIteration(),
               " iterations");
  }
  const auto mat = transform->GetMatrix();
  const auto off = transform->GetOffset();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) result.fixed_to_moving.matrix[3 * r + c] = mat[r][c];
    result.fixed_to_moving.offset[r] = off[r];
  }
  return result;
}

}  // namespace

LinearResult register_linear(const Image3D& fixed_raw, const Image3D& moving_raw, const LinearOptions& o,
                             const AffineMap* initial) {
  if (o.spacing_mm.empty() || o.iterations.empty())
    throw Error("registration: at least one pyramid level is needed");
  if (fixed_raw.data.size() != fixed_raw.geom.voxel_count() || moving_raw.data.size() != moving_raw.geom.voxel_count())
    throw Error("registration: image data size does not match its geometry");
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(thread_count());
  Image3D fixed = clamp_negative(fixed_raw);
  if (o.fixed_threshold > 0)
    for (auto& v : fixed.data)
      if (v <= o.fixed_threshold) v = 0;
  const Image3D moving = clamp_negative(moving_raw);

  const Vec3 cf = detail::center_of_mass(fixed);
  AffineMap start;
  if (initial) {
    start = *initial;
  } else if (o.center_of_mass_init) {
    const Vec3 cm = detail::center_of_mass(moving);
    start.offset = {cm[0] - cf[0], cm[1] - cf[1], cm[2] - cf[2]};
  }
  // Express the start about the centre cf: y = M (x - cf) + t + cf  =>  t = offset + M cf - cf.
  itk::Point<double, 3> center;
  itk::Vector<double, 3> translation;
  for (int r = 0; r < 3; ++r) {
    center[r] = cf[r];
    translation[r] = start.offset[r] - cf[r];
    for (int c = 0; c < 3; ++c) translation[r] += start.matrix[3 * r + c] * cf[c];
  }

  if (o.kind == LinearKind::rigid) {
    using T = itk::Euler3DTransform<double>;
    auto t = T::New();
    t->SetCenter(center);
    // nearest rotation of the start matrix
    Eigen::Matrix3d m;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) m(r, c) = start.matrix[3 * r + c];
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
    Eigen::Matrix3d rot = svd.matrixU() * svd.matrixV().transpose();
    if (rot.determinant() < 0) throw Error("registration: the initial transform is a reflection");
    T::MatrixType mat;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) mat[r][c] = rot(r, c);
    t->SetMatrix(mat, 1e-6);
    t->SetTranslation(translation);
    return run<T>(fixed, moving, o, t);
  }
  using T = itk::AffineTransform<double, 3>;
  auto t = T::New();
  t->SetCenter(center);
  T::MatrixType mat;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) mat[r][c] = start.matrix[3 * r + c];
  t->SetMatrix(mat);
  t->SetTranslation(translation);
  return run<T>(fixed, moving, o, t);
}

}  // namespace petpipe::normalize
