#include "petpipe/core/nifti_io.hpp"

#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>
#include <itkNiftiImageIO.h>
#include <itkNiftiImageIOFactory.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "petpipe/core/atomic_file.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "nifti_voxels.hpp"

namespace petpipe {

namespace {

void require_exists(const fs::path& path, const char* what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw make_error(path.string(), ": ", what, " not found");
  if (fs::is_directory(path, ec)) throw make_error(path.string(), ": is a directory, expected a ", what);
}

bool is_nifti_name(const fs::path& path) {
  const std::string n = path.filename().string();
  auto ends = [&](const std::string& e) {
    return n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

void register_image_io() {
  // Explicit registration keeps the set of formats small and independent of link order.
  static const bool registered = [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    return true;
  }();
  (void)registered;
}

itk::ImageIOBase::Pointer open_image_io(const fs::path& path) {
  require_exists(path, "image");
  register_image_io();
  itk::ImageIOBase::Pointer io = itk::ImageIOFactory::CreateImageIO(
      path.string().c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
  if (!io) throw make_error(path.string(), ": not a readable image (unknown or corrupt format)");
  try {
    io->SetFileName(path.string());
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw make_error(path.string(), ": cannot read image header: ", e.GetDescription());
  }
  return io;
}

template <unsigned D>
void set_geometry(itk::ImageBase<D>* img, const Geometry& g, std::size_t frames = 1,
                  double frame_spacing = 1.0) {
  typename itk::ImageBase<D>::RegionType region;
  typename itk::ImageBase<D>::SpacingType spacing;
  typename itk::ImageBase<D>::PointType origin;
  typename itk::ImageBase<D>::DirectionType direction;
  direction.SetIdentity();
  for (unsigned i = 0; i < D; ++i) {
    region.SetSize(i, i < 3 ? g.size[i] : frames);
    spacing[i] = i < 3 ? g.spacing[i] : frame_spacing;
    origin[i] = i < 3 ? g.origin[i] : 0.0;
    for (unsigned j = 0; j < D; ++j)
      if (i < 3 && j < 3) direction[i][j] = g.direction[3 * i + j];
  }
  img->SetRegions(region);
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(direction);
}

bool is_nifti_file(const fs::path& path) { return is_nifti_name(path); }

// 3D volume of type T from a 3D image or a 4D image with a single volume.
template <typename T, typename Convert>
Volume<T> read_volume(const fs::path& path, Convert&& convert) {
  const ImageInfo info = read_image_info(path);
  if (!(info.dimension == 3 || info.dimension == 2 || (info.dimension == 4 && info.size[3] == 1)))
    throw make_error(path.string(), ": is a ", info.dimension, "D image with ",
                     info.dimension == 4 ? info.size[3] : 0, " volumes; a 3D image is needed");
  if (!is_nifti_file(path)) throw make_error(path.string(), ": not a NIfTI file (.nii or .nii.gz)");
  Volume<T> out;
  out.geom = info.geom;
  const std::size_t n = out.geom.voxel_count();
  std::vector<float> raw(n);
  detail::read_voxels(path.string(), raw.data(), n);
  out.data.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.data[i] = convert(raw[i], i);
  return out;
}

template <typename P, unsigned D>
void write_itk_to(AtomicFile& file, typename itk::Image<P, D>::Pointer img) {
  register_image_io();
  const fs::path& path = file.target();
  if (!is_nifti_name(path))
    throw make_error(path.string(), ": output images must be named .nii or .nii.gz");
  auto writer = itk::ImageFileWriter<itk::Image<P, D>>::New();
  writer->SetFileName(file.temp_path().string());
  writer->SetInput(img);
  writer->SetUseCompression(true);
  try {
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    throw make_error(path.string(), ": cannot write image: ", e.GetDescription());
  }
}

template <typename P, unsigned D>
void write_itk(const fs::path& path, typename itk::Image<P, D>::Pointer img) {
  AtomicFile file(path);
  write_itk_to<P, D>(file, img);
  file.commit();
}

template <typename T, typename P>
void write_volume(const fs::path& path, const Volume<T>& v) {
  if (v.data.size() != v.geom.voxel_count())
    throw make_error(path.string(), ": image data size does not match its geometry");
  auto img = itk::Image<P, 3>::New();
  set_geometry<3>(img.GetPointer(), v.geom);
  img->Allocate();
  P* p = img->GetBufferPointer();
  for (std::size_t i = 0; i < v.data.size(); ++i) p[i] = static_cast<P>(v.data[i]);
  write_itk<P, 3>(path, img);
}

double json_number(const nlohmann::json& j, const char* key, const fs::path& path) {
  const auto& v = j.at(key);
  if (!v.is_number()) throw make_error(path.string(), ": field ", key, " is not a number");
  return v.get<double>();
}

std::vector<double> json_numbers(const nlohmann::json& v, const char* key, const fs::path& path) {
  if (v.is_number()) return {v.get<double>()};
  if (!v.is_array()) throw make_error(path.string(), ": field ", key, " is not an array of numbers");
  std::vector<double> out;
  for (const auto& e : v) {
    if (!e.is_number()) throw make_error(path.string(), ": field ", key, " holds a non-number");
    out.push_back(e.get<double>());
  }
  return out;
}

}  // namespace

std::string strip_image_extension(const std::string& name) {
  for (const char* e : {".nii.gz", ".nii", ".json", ".gz"}) {
    const std::string ext(e);
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
      return name.substr(0, name.size() - ext.size());
  }
  return name;
}

fs::path sidecar_path(const fs::path& image_path) {
  return image_path.parent_path() / (strip_image_extension(image_path.filename().string()) + ".json");
}

ImageInfo read_image_info(const fs::path& path) {
  auto io = open_image_io(path);
  ImageInfo info;
  info.path = path.string();
  info.dimension = io->GetNumberOfDimensions();
  for (unsigned i = 0; i < std::min(4u, info.dimension); ++i) {
    info.size[i] = io->GetDimensions(i);
    info.spacing[i] = io->GetSpacing(i);
  }
  for (unsigned i = 0; i < 3; ++i) {
    info.geom.size[i] = i < info.dimension ? io->GetDimensions(i) : 1;
    info.geom.spacing[i] = i < info.dimension ? io->GetSpacing(i) : 1.0;
    info.geom.origin[i] = i < info.dimension ? io->GetOrigin(i) : 0.0;
    if (i < info.dimension) {
      const auto dir = io->GetDirection(i);  // column i
      for (unsigned r = 0; r < 3; ++r) info.geom.direction[3 * r + i] = r < dir.size() ? dir[r] : 0.0;
    }
  }
  info.component_type = itk::ImageIOBase::GetComponentTypeAsString(io->GetComponentType());
  info.pixel_type = itk::ImageIOBase::GetPixelTypeAsString(io->GetPixelType());
  info.components = io->GetNumberOfComponents();
  return info;
}

Image3D read_image(const fs::path& path) {
  return read_volume<float>(path, [](float v, std::size_t) { return v; });
}

LabelImage read_labels(const fs::path& path) {
  return read_volume<std::int32_t>(path, [&](float v, std::size_t i) {
    if (!std::isfinite(v) || v != std::round(v) || std::abs(v) > 2e9)
      throw make_error(path.string(), ": label image holds a non-integer value (", v, ") at voxel ", i);
    return static_cast<std::int32_t>(v);
  });
}

Mask read_mask(const fs::path& path) {
  return read_volume<std::uint8_t>(
      path, [](float v, std::size_t) { return static_cast<std::uint8_t>(std::isfinite(v) && v != 0); });
}

FrameTable read_pet_sidecar(const fs::path& json_path, std::size_t expected_frames, double* unit_scale) {
  const nlohmann::json j = read_json(json_path);
  if (!j.is_object()) throw make_error(json_path.string(), ": sidecar is not a JSON object");
  FrameTable t;
  const char* start_key = j.contains("FrameTimesStart") ? "FrameTimesStart"
                          : j.contains("FrameTimeStart") ? "FrameTimeStart"
                                                         : nullptr;
  if (!start_key) throw make_error(json_path.string(), ": no FrameTimesStart field");
  if (!j.contains("FrameDuration")) throw make_error(json_path.string(), ": no FrameDuration field");
  t.start_s = json_numbers(j[start_key], start_key, json_path);
  t.duration_s = json_numbers(j["FrameDuration"], "FrameDuration", json_path);
  if (t.start_s.size() != t.duration_s.size())
    throw make_error(json_path.string(), ": ", start_key, " has ", t.start_s.size(),
                     " entries but FrameDuration has ", t.duration_s.size());
  if (expected_frames && t.start_s.size() != expected_frames)
    throw make_error(json_path.string(), ": sidecar lists ", t.start_s.size(),
                     " frames but the image has ", expected_frames, " (dim[4])");

  if (!j.contains("Units") || !j["Units"].is_string())
    throw make_error(json_path.string(), ": no Units field (e.g. \"Bq/mL\")");
  std::string units = j["Units"].get<std::string>();
  if (units == "BQML") units = "Bq/mL";  // DICOM / dcm2niix spelling
  const auto scale = activity_to_kbq_per_ml(units);
  if (!scale)
    throw make_error(json_path.string(), ": unknown activity units \"", units,
                     "\" (expected Bq/mL, kBq/mL, MBq/mL, kBq/cc, nCi/mL, uCi/mL, ...)");
  if (unit_scale) *unit_scale = *scale;
  t.units = "kBq/mL";

  if (j.contains("TracerName") && j["TracerName"].is_string()) t.tracer = j["TracerName"];
  if (j.contains("TracerRadionuclide") && j["TracerRadionuclide"].is_string()) {
    const std::string r = j["TracerRadionuclide"];
    const auto canon = canonical_radionuclide(r);
    if (!canon)
      throw make_error(json_path.string(), ": unknown TracerRadionuclide \"", r,
                       "\" (known: C11, F18, O15, N13, Ga68, Cu64, Zr89, Rb82, I124, ...)");
    t.radionuclide = *canon;
    t.half_life_s = *half_life_seconds(r);
  } else {
    log::warn(json_path.string(),
              ": no TracerRadionuclide field; the half-life is unknown, so decay-dependent steps "
              "(decay weights, decay conversion) will refuse to run");
  }

  if (j.contains("ImageDecayCorrected")) {
    const auto& v = j["ImageDecayCorrected"];
    if (v.is_boolean())
      t.decay_corrected = v.get<bool>();
    else if (v.is_string())
      t.decay_corrected = (v == "true" || v == "True" || v == "TRUE");
    else
      throw make_error(json_path.string(), ": ImageDecayCorrected is not true or false");
  } else if (j.contains("DecayCorrection") && j["DecayCorrection"].is_string()) {
    t.decay_corrected = j["DecayCorrection"] != "NONE";  // dcm2niix legacy
  } else {
    throw make_error(json_path.string(), ": no ImageDecayCorrected field (true or false)");
  }

  if (j.contains("InjectionStart")) t.injection_start_s = json_number(j, "InjectionStart", json_path);
  if (j.contains("TimeZero") && j["TimeZero"].is_string()) t.time_zero = j["TimeZero"];
  double decay_ref = t.injection_start_s;
  if (j.contains("ImageDecayCorrectionTime"))
    decay_ref = json_number(j, "ImageDecayCorrectionTime", json_path);
  // Internally, times are relative to the injection.
  if (t.injection_start_s != 0.0) {
    log::info(json_path.string(), ": InjectionStart is ", t.injection_start_s,
              " s after TimeZero; frame times are taken relative to the injection");
    for (double& s : t.start_s) s -= t.injection_start_s;
  }
  t.decay_reference_s = decay_ref - t.injection_start_s;

  const char* dcf_key = j.contains("DecayCorrectionFactor") ? "DecayCorrectionFactor"
                        : j.contains("DecayFactor")         ? "DecayFactor"
                                                            : nullptr;
  if (dcf_key) {
    t.decay_correction_factor = json_numbers(j[dcf_key], dcf_key, json_path);
    if (t.decay_correction_factor.size() != t.start_s.size())
      throw make_error(json_path.string(), ": ", dcf_key, " has ", t.decay_correction_factor.size(),
                       " entries for ", t.start_s.size(), " frames");
  }
  t.validate(json_path.string());
  return t;
}

nlohmann::json frame_table_to_sidecar(const FrameTable& t) {
  nlohmann::json j;
  // Internal times are relative to the injection, so TimeZero == injection.
  j["TimeZero"] = t.time_zero.empty() ? "00:00:00" : t.time_zero;
  j["InjectionStart"] = 0;
  j["ScanStart"] = t.size() ? t.start_s[0] : 0.0;
  j["FrameTimesStart"] = t.start_s;
  j["FrameDuration"] = t.duration_s;
  j["Units"] = t.units;
  if (!t.tracer.empty()) j["TracerName"] = t.tracer;
  if (!t.radionuclide.empty()) j["TracerRadionuclide"] = t.radionuclide;
  j["ImageDecayCorrected"] = t.decay_corrected;
  j["ImageDecayCorrectionTime"] = t.decay_reference_s;
  if (!t.decay_correction_factor.empty()) j["DecayCorrectionFactor"] = t.decay_correction_factor;
  return j;
}

DynamicImage read_dynamic(const fs::path& path, const ReadDynamicOptions& options) {
  require_exists(path, "PET image");
  const fs::path json = options.sidecar.empty() ? sidecar_path(path) : options.sidecar;
  std::error_code ec;
  if (!fs::exists(json, ec))
    throw make_error(path.string(), ": PET-BIDS sidecar ", json.filename().string(),
                     " not found beside the image (frame timing is required)");
  auto io = open_image_io(path);
  unsigned dim = io->GetNumberOfDimensions();
  std::size_t nframes = dim == 4 ? io->GetDimensions(3) : 1;
  // ITK drops a trailing singleton dimension: a one-frame 4D NIfTI (dim[0] = 4, dim[4] = 1) reads as
  // 3D, so the NIfTI header decides.
  if (dim == 3 && is_nifti_file(path)) {
    const auto h = detail::read_voxel_header(path.string());
    if (h.dim[0] >= 4 && h.dim[4] == 1) dim = 4;
  }
  if (dim != 4)
    throw make_error(path.string(), ": is a ", dim, "D image; a 4D dynamic PET image is needed");
  double scale = 1.0;
  DynamicImage out;
  out.frames = read_pet_sidecar(json, nframes, &scale);

  if (!is_nifti_file(path)) throw make_error(path.string(), ": not a NIfTI file (.nii or .nii.gz)");
  out.geom = read_image_info(path).geom;
  const std::size_t n = out.geom.voxel_count() * nframes;
  out.data.resize(n);
  detail::read_voxels(path.string(), out.data.data(), n);  // straight into the one 4D copy
  if (scale != 1.0)
    for (float& v : out.data) v = static_cast<float>(v * scale);

  const std::size_t nvox = out.geom.voxel_count();
  for (std::size_t f = 0; f < nframes; ++f) {
    const float* fr = out.frame(f);
    bool all_nan = true;
    for (std::size_t i = 0; i < nvox && all_nan; ++i) all_nan = std::isnan(fr[i]);
    if (all_nan) {
      if (!options.allow_nan_frames)
        throw make_error(path.string(), ": frame ", f + 1, " of ", nframes, " is entirely NaN");
      log::warn(path.string(), ": frame ", f + 1, " is entirely NaN");
    }
  }
  return out;
}

void write_image(const fs::path& path, const Image3D& image) { write_volume<float, float>(path, image); }
void write_labels(const fs::path& path, const LabelImage& labels) {
  write_volume<std::int32_t, std::int32_t>(path, labels);
}
void write_mask(const fs::path& path, const Mask& mask) {
  write_volume<std::uint8_t, std::uint8_t>(path, mask);
}

void write_dynamic(const fs::path& path, const DynamicImage& image, bool write_sidecar) {
  const std::size_t nf = image.frame_count();
  if (image.data.size() != image.geom.voxel_count() * nf)
    throw make_error(path.string(), ": 4D data size does not match geometry x frames");
  auto img = itk::Image<float, 4>::New();
  const double tr = nf ? image.frames.duration_s[0] : 1.0;
  set_geometry<4>(img.GetPointer(), image.geom, nf, tr > 0 ? tr : 1.0);
  // Wrap our buffer instead of copying it (the import container does not own the memory).
  img->GetPixelContainer()->SetImportPointer(const_cast<float*>(image.data.data()), image.data.size(),
                                             false);
  // Both files are written under temporary names and moved into place only when both succeeded.
  AtomicFile image_file(path);
  write_itk_to<float, 4>(image_file, img);
  if (write_sidecar) write_json(sidecar_path(path), frame_table_to_sidecar(image.frames));
  image_file.commit();
}

void write_json(const fs::path& path, const nlohmann::json& j) { write_text(path, j.dump(2) + "\n"); }

nlohmann::json read_json(const fs::path& path) {
  require_exists(path, "JSON file");
  std::ifstream in(path);
  if (!in) throw make_error(path.string(), ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw make_error(path.string(), ": invalid JSON: ", e.what());
  }
}

void write_text(const fs::path& path, const std::string& text) {
  AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    out << text;
    out.flush();
    if (!out) throw make_error(path.string(), ": write failed");
  }
  file.commit();
}

}  // namespace petpipe
