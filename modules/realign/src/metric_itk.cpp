// The ITK metrics (Metric::mattes, correlation, lncc): rigid registration of two estimation images with
// ITK's v4 framework, ImageRegistrationMethodv4 with an Euler3DTransform, the metric on a random subset
// of points (or on points drawn from settings.fixed_mask), multi-resolution, and a regular-step
// gradient descent whose step is measured in millimetres (see MmStepOptimizer).
#include <cmath>
#include <sstream>

#include <itkCommand.h>
#include <itkANTSNeighborhoodCorrelationImageToImageMetricv4.h>
#include <itkCorrelationImageToImageMetricv4.h>
#include <itkEuler3DTransform.h>
#include <itkImage.h>
#include <itkMultiThreaderBase.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkLinearInterpolateImageFunction.h>
#include <itkMattesMutualInformationImageToImageMetricv4.h>
#include <itkRegularStepGradientDescentOptimizerv4.h>

#include "backend.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

namespace {

using ImageType = itk::Image<float, 3>;
using TransformType = itk::Euler3DTransform<double>;

// Radius (mm) that converts rotations into displacements for the optimiser: a rotation of a radians
// counts as a step of kRadiusMm * a millimetres.
constexpr double kRadiusMm = 60.0;

// Regular-step gradient descent in which the step length is measured in a parameter space scaled by
// sqrt(scales): with scales (R^2, R^2, R^2, 1, 1, 1) a step of s moves translations by up to s mm and
// rotations by up to s/R radians, i.e. every step is preconditioned AND normalised in millimetres.
// (itk::RegularStepGradientDescentOptimizerv4 normalises the step in raw parameter units, which mixes
// radians with millimetres.)
class MmStepOptimizer : public itk::RegularStepGradientDescentOptimizerv4<double> {
public:
  using Self = MmStepOptimizer;
  using Superclass = itk::RegularStepGradientDescentOptimizerv4<double>;
  using Pointer = itk::SmartPointer<Self>;
  using ConstPointer = itk::SmartPointer<const Self>;
  itkNewMacro(Self)
  itkTypeMacro(MmStepOptimizer, RegularStepGradientDescentOptimizerv4)

  void StartOptimization(bool doOnlyInitialization = false) override {
    previous_.clear();
    relaxation_ = 1.0;
    Superclass::StartOptimization(doOnlyInitialization);
  }

protected:
  MmStepOptimizer() = default;

  void AdvanceOneStep() override {
    const auto& scales = this->GetScales();
    const std::size_t n = this->m_Gradient.Size();
    std::vector<double> g(n);
    double magnitude = 0;
    for (std::size_t i = 0; i < n; ++i) {
      g[i] = this->m_Gradient[i] / std::sqrt(scales[i]);
      magnitude += g[i] * g[i];
    }
    magnitude = std::sqrt(magnitude);
    if (magnitude < this->GetGradientMagnitudeTolerance() || !std::isfinite(magnitude)) {
      this->m_StopCondition = itk::StopConditionObjectToObjectOptimizerEnum::GRADIENT_MAGNITUDE_TOLEARANCE;
      this->m_StopConditionDescription << "gradient magnitude " << magnitude << " below tolerance";
      this->StopOptimization();
      return;
    }
    if (previous_.size() == n) {
      double dot = 0;
      for (std::size_t i = 0; i < n; ++i) dot += g[i] * previous_[i];
      if (dot < 0) relaxation_ *= this->GetRelaxationFactor();
    }
    previous_ = g;
    const double step = relaxation_ * this->GetLearningRate();
    if (step < this->GetMinimumStepLength()) {
      this->m_StopCondition = itk::StopConditionObjectToObjectOptimizerEnum::STEP_TOO_SMALL;
      this->m_StopConditionDescription << "step " << step << " below minimum after "
                                       << this->m_CurrentIteration << " iterations";
      this->StopOptimization();
      return;
    }
    for (std::size_t i = 0; i < n; ++i)
      this->m_Gradient[i] = step * g[i] / magnitude / std::sqrt(scales[i]);
    this->m_Metric->UpdateTransformParameters(this->m_Gradient, 1.0);
    this->InvokeEvent(itk::IterationEvent());
  }

private:
  std::vector<double> previous_;
  double relaxation_ = 1.0;
};

ImageType::Pointer wrap(const Image3D& image) {
  // Shares the buffer (read-only use): no copy of the estimation image.
  auto out = ImageType::New();
  ImageType::RegionType region;
  ImageType::SizeType size;
  for (int a = 0; a < 3; ++a) size[a] = image.geom.size[a];
  region.SetSize(size);
  out->SetRegions(region);
  ImageType::SpacingType spacing;
  ImageType::PointType origin;
  ImageType::DirectionType direction;
  for (int r = 0; r < 3; ++r) {
    spacing[r] = image.geom.spacing[r];
    origin[r] = image.geom.origin[r];
    for (int c = 0; c < 3; ++c) direction(r, c) = image.geom.direction[3 * r + c];
  }
  out->SetSpacing(spacing);
  out->SetOrigin(origin);
  out->SetDirection(direction);
  out->GetPixelContainer()->SetImportPointer(const_cast<float*>(image.data.data()), image.data.size(),
                                             false);
  return out;
}

// Per level: the initial step shrinks with the level's resolution, the stopping step is finer on the
// last level.
class LevelObserver : public itk::Command {
public:
  using Self = LevelObserver;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self)
  MmStepOptimizer* optimizer = nullptr;
  std::vector<double> learning_rates;
  std::vector<double> min_steps;
  unsigned level = 0;
  unsigned iterations = 0;

  void Execute(itk::Object* caller, const itk::EventObject& event) override {
    Execute(static_cast<const itk::Object*>(caller), event);
  }
  void Execute(const itk::Object*, const itk::EventObject& event) override {
    if (itk::MultiResolutionIterationEvent().CheckEvent(&event)) {
      if (level > 0) iterations += optimizer->GetCurrentIteration();
      if (level < learning_rates.size()) {
        optimizer->SetLearningRate(learning_rates[level]);
        optimizer->SetMinimumStepLength(min_steps[level]);
      }
      ++level;
    }
  }
};

template <typename Metric>
RegistrationOutput run(typename Metric::Pointer metric, const Image3D& fixed, const Image3D& moving,
                       const Vec3& center, const Params& initial, const RegistrationSettings& s) {
  using Registration = itk::ImageRegistrationMethodv4<ImageType, ImageType, TransformType>;
  auto fixed_itk = wrap(fixed);
  auto moving_itk = wrap(moving);

  auto transform = TransformType::New();
  TransformType::InputPointType c;
  for (int a = 0; a < 3; ++a) c[a] = center[a];
  transform->SetCenter(c);
  TransformType::ParametersType p(6);
  for (int i = 0; i < 6; ++i) p[i] = initial[i];
  transform->SetParameters(p);

  using Interpolator = itk::LinearInterpolateImageFunction<ImageType, double>;
  metric->SetFixedInterpolator(Interpolator::New());
  metric->SetMovingInterpolator(Interpolator::New());
  metric->SetUseMovingImageGradientFilter(false);  // central differences at the sampled points only
  metric->SetUseFixedImageGradientFilter(false);
  metric->SetMaximumNumberOfWorkUnits(1);

  auto optimizer = MmStepOptimizer::New();
  MmStepOptimizer::ScalesType scales(6);
  for (int i = 0; i < 3; ++i) scales[i] = kRadiusMm * kRadiusMm;
  for (int i = 3; i < 6; ++i) scales[i] = 1.0;
  optimizer->SetScales(scales);
  optimizer->SetNumberOfIterations(static_cast<itk::SizeValueType>(s.max_iterations));
  optimizer->SetRelaxationFactor(0.5);
  optimizer->SetGradientMagnitudeTolerance(1e-12);
  optimizer->SetNumberOfWorkUnits(1);
  optimizer->SetReturnBestParametersAndValue(false);

  auto reg = Registration::New();
  reg->SetNumberOfWorkUnits(1);
  reg->SetFixedImage(fixed_itk);
  reg->SetMovingImage(moving_itk);
  reg->SetMetric(metric);
  reg->SetOptimizer(optimizer);
  reg->SetInitialTransform(transform);
  reg->InPlaceOn();

  const unsigned levels = static_cast<unsigned>(std::max(1, s.levels));
  Registration::ShrinkFactorsArrayType shrink(levels);
  Registration::SmoothingSigmasArrayType sigmas(levels);
  auto observer = LevelObserver::New();
  observer->optimizer = optimizer;
  double min_spacing = std::min({fixed.geom.spacing[0], fixed.geom.spacing[1], fixed.geom.spacing[2]});
  for (unsigned l = 0; l < levels; ++l) {
    const unsigned factor = 1u << (levels - 1 - l + static_cast<unsigned>(std::max(0, s.extra_shrink_levels)));
    shrink[l] = factor;
    sigmas[l] = 0.0;  // estimation images are smoothed already
    // Initial step: half a voxel of the level, at least 0.5 mm (or as given for the finest level).
    const double step = (l + 1 == levels && s.initial_step_mm > 0) ? s.initial_step_mm
                                                                     : std::max(0.5, 0.5 * factor * min_spacing);
    observer->learning_rates.push_back(step);
    observer->min_steps.push_back(l + 1 == levels ? s.min_step_mm : 4 * s.min_step_mm);
  }
  reg->SetNumberOfLevels(levels);
  reg->SetShrinkFactorsPerLevel(shrink);
  reg->SetSmoothingSigmasPerLevel(sigmas);
  reg->SetSmoothingSigmasAreSpecifiedInPhysicalUnits(true);
  // Optional sampling mask: the points are drawn by draw_sample_points (jittered within the mask's
  // voxels). A mask on the metric itself would be tested at every point and iteration. ITK's own
  // sampling is then off.
  const bool own_points = s.fixed_mask != nullptr;
  reg->SetMetricSamplingStrategy(own_points ? Registration::MetricSamplingStrategyEnum::NONE
                                            : Registration::MetricSamplingStrategyEnum::RANDOM);
  if (own_points) {
    const auto drawn = draw_sample_points(fixed.geom, *s.fixed_mask, s.sampling_fraction, s.max_samples, s.seed);
    using PointSet = typename Metric::FixedSampledPointSetType;
    auto points = PointSet::New();
    points->Initialize();
    for (std::size_t i = 0; i < drawn.size(); ++i) {
      typename PointSet::PointType point;
      for (int a = 0; a < 3; ++a) point[a] = drawn[i][a];
      points->SetPoint(i, point);
    }
    metric->SetFixedSampledPointSet(points);
    metric->SetUseSampledPointSet(true);
  }
  // ITK's random sampling (no mask): per level the given fraction of the level's voxels, at most
  // max_samples points.
  Registration::MetricSamplingPercentageArrayType percentages(levels);
  for (unsigned l = 0; l < levels; ++l) {
    const double f = static_cast<double>(shrink[l]);
    const double voxels = static_cast<double>(fixed.geom.voxel_count()) / (f * f * f);
    percentages[l] = std::clamp(std::min(s.sampling_fraction, static_cast<double>(s.max_samples) / voxels), 1e-4, 1.0);
  }
  reg->SetMetricSamplingPercentagePerLevel(percentages);
  reg->MetricSamplingReinitializeSeed(static_cast<int>(s.seed % 2147483647u));
  reg->AddObserver(itk::MultiResolutionIterationEvent(), observer);

  try {
    reg->Update();
  } catch (const itk::ExceptionObject& e) {
    throw make_error("rigid registration failed: ", e.GetDescription());
  }
  RegistrationOutput out;
  const auto& final_params = reg->GetModifiableTransform()->GetParameters();
  for (int i = 0; i < 6; ++i) out.params[i] = final_params[i];
  out.metric_value = optimizer->GetValue();
  out.iterations = observer->iterations + optimizer->GetCurrentIteration();
  out.stop_condition = optimizer->GetStopConditionDescription();
  return out;
}

}  // namespace

ItkSingleThreadScope::ItkSingleThreadScope() : previous_(itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads()) {
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(1);
}

ItkSingleThreadScope::~ItkSingleThreadScope() { itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(previous_); }

RegistrationOutput register_itk(const Image3D& fixed, const Image3D& moving, const Vec3& center, const Params& initial,
                                const RegistrationSettings& settings) {
  switch (settings.metric) {
    case Metric::mattes: {
      using M = itk::MattesMutualInformationImageToImageMetricv4<ImageType, ImageType>;
      auto metric = M::New();
      metric->SetNumberOfHistogramBins(32);
      return run<M>(metric, fixed, moving, center, initial, settings);
    }
    case Metric::correlation: {
      using M = itk::CorrelationImageToImageMetricv4<ImageType, ImageType>;
      return run<M>(M::New(), fixed, moving, center, initial, settings);
    }
    case Metric::lncc: {
      using M = itk::ANTSNeighborhoodCorrelationImageToImageMetricv4<ImageType, ImageType>;
      auto metric = M::New();
      M::RadiusType r;
      r.Fill(static_cast<itk::SizeValueType>(std::max(1, settings.window_radius)));
      metric->SetRadius(r);
      return run<M>(metric, fixed, moving, center, initial, settings);
    }
    default:
      throw make_error("realign: not an ITK metric");
  }
}

}  // namespace petpipe::realign::detail
