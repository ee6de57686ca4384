// Reslicing of one volume through a rigid transform: linear with ITK's ResampleImageFilter, cubic
// B-spline with bspline_reslice.cpp.
#include <itkEuler3DTransform.h>
#include <itkImage.h>
#include <itkLinearInterpolateImageFunction.h>
#include <itkResampleImageFilter.h>

#include <algorithm>
#include <vector>

#include "backend.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

namespace {
using ImageType = itk::Image<float, 3>;
using TransformType = itk::Euler3DTransform<double>;

ImageType::Pointer wrap(const float* data, const Geometry& g) {
  auto out = ImageType::New();
  ImageType::RegionType region;
  ImageType::SizeType size;
  for (int a = 0; a < 3; ++a) size[a] = g.size[a];
  region.SetSize(size);
  out->SetRegions(region);
  ImageType::SpacingType spacing;
  ImageType::PointType origin;
  ImageType::DirectionType direction;
  for (int r = 0; r < 3; ++r) {
    spacing[r] = g.spacing[r];
    origin[r] = g.origin[r];
    for (int c = 0; c < 3; ++c) direction(r, c) = g.direction[3 * r + c];
  }
  out->SetSpacing(spacing);
  out->SetOrigin(origin);
  out->SetDirection(direction);
  out->GetPixelContainer()->SetImportPointer(const_cast<float*>(data), g.voxel_count(), false);
  return out;
}
}  // namespace

void reslice_volume(const float* in, float* out, const Geometry& geom, const Params& params,
                    const Vec3& center, Interpolation interpolation, unsigned threads) {
  if (interpolation == Interpolation::bspline) {
    std::vector<float> coefficients(in, in + geom.voxel_count());
    bspline_coefficients(coefficients.data(), geom);
    reslice_bspline(coefficients.data(), out, geom, params, center);
    return;
  }
  auto input = wrap(in, geom);
  auto transform = TransformType::New();
  TransformType::InputPointType c;
  for (int a = 0; a < 3; ++a) c[a] = center[a];
  transform->SetCenter(c);
  TransformType::ParametersType p(6);
  for (int i = 0; i < 6; ++i) p[i] = params[i];
  transform->SetParameters(p);

  using Resample = itk::ResampleImageFilter<ImageType, ImageType, double>;
  auto resample = Resample::New();
  resample->SetInput(input);
  resample->SetTransform(transform);
  resample->SetOutputParametersFromImage(input);
  resample->SetDefaultPixelValue(0.0f);
  resample->SetNumberOfWorkUnits(std::max(1u, threads));
  resample->SetInterpolator(itk::LinearInterpolateImageFunction<ImageType, double>::New());
  auto output = resample->GetOutput();
  try {
    resample->Update();
  } catch (const itk::ExceptionObject& e) {
    throw make_error("reslicing failed: ", e.GetDescription());
  }
  std::copy_n(output->GetBufferPointer(), geom.voxel_count(), out);
}

}  // namespace petpipe::realign::detail
