// petpipe smooth: Gaussian smoothing of a 3D image or of every frame of a 4D PET image.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/pipeline/stages.hpp"
#include "petpipe/smooth/gaussian.hpp"

namespace petpipe::cli {

namespace {

bool is_image_name(const fs::path& p) {
  const std::string s = p.filename().string();
  auto ends = [&](const std::string& e) { return s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0; };
  return ends(".nii") || ends(".nii.gz");
}

pipeline::SmoothRequest request_from(const po::variables_map& vm) {
  if (!vm.count("in")) throw Error("no --in FILE given (a 3D image or a 4D PET image)");
  if (!vm.count("out")) throw Error("no --out FILE given");
  pipeline::SmoothRequest r;
  r.in = vm["in"].as<std::string>();
  r.out = vm["out"].as<std::string>();
  r.force = vm.count("force") > 0;
  r.params = pipeline::smooth_table().from_vm(vm);
  return r;
}

}  // namespace
}  // namespace petpipe::cli

namespace petpipe::pipeline {

std::vector<std::string> request_args(const SmoothRequest& r) {
  std::vector<std::string> a{"smooth", "--in", r.in.string(), "--out", r.out.string()};
  if (r.force) a.push_back("--force");
  const auto t = smooth_table().to_args(r.params);
  a.insert(a.end(), t.begin(), t.end());
  return a;
}

void run_smooth(const SmoothRequest& request) {
  using namespace petpipe::cli;
  const fs::path& in = request.in;
  const fs::path& out = request.out;
  const bool force = request.force;
  const SmoothParams& params = request.params;
  const std::vector<double> fwhm{params.fwhm_mm[0], params.fwhm_mm[1], params.fwhm_mm[2]};

  std::error_code ec;
  if (!fs::exists(in, ec)) throw make_error(in.string(), ": input image not found");
  if (!is_image_name(out)) throw make_error(out.string(), ": --out must be a NIfTI file name (.nii or .nii.gz)");
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec))
    throw make_error(out.string(), ": --out is the input image; choose another name");
  if (fs::exists(out, ec) && !force)
    throw make_error(out.string(), ": exists (use --force to overwrite)");
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());

  smooth::Options options;
  options.fwhm_mm = params.fwhm_mm;
  options.nan_aware = params.nan_aware;

  Provenance prov;
  prov.inputs = {in};
  prov.configuration = {{"smooth",
                         {{"fwhm_mm", fwhm},
                          {"nan_aware", options.nan_aware},
                          {"truncate_sigma", options.truncate},
                          {"edges", "normalised by the kernel mass inside the image"}}}};
  const ImageInfo info = read_image_info(in);
  const fs::path in_json = sidecar_path(in);
  const fs::path out_json = sidecar_path(out);
  nlohmann::json sidecar = nlohmann::json::object();

  if (info.dimension == 4 && info.size[3] > 1) {
    if (!fs::exists(in_json, ec))
      throw make_error(in.string(), ": a 4D image needs its PET-BIDS sidecar ", in_json.filename().string(),
                       " (frame timing) beside it");
    ReadDynamicOptions ro;
    ro.allow_nan_frames = true;  // masked frames are legitimate input to smoothing
    DynamicImage pet = read_dynamic(in, ro);
    log::info("smoothing ", pet.frame_count(), " frames of ", in.filename().string(), " with FWHM ", fwhm[0],
              " x ", fwhm[1], " x ", fwhm[2], " mm");
    const auto t0 = std::chrono::steady_clock::now();
    smooth::gaussian_frames(pet, options);
    log::info("smoothing took ", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
    // The PET sidecar travels with the image: its own fields, the frame table as written (values are now
    // kBq/mL), and the provenance.
    sidecar = read_json(in_json);
    const nlohmann::json frame_fields = frame_table_to_sidecar(pet.frames);
    for (const auto& [k, v] : frame_fields.items()) sidecar[k] = v;
    prov.inputs.push_back(in_json);
    sidecar.update(prov.to_json());
    sidecar["SmoothingFWHM"] = fwhm;
    sidecar["SmoothingFWHMUnits"] = "mm";
    write_dynamic(out, pet, false);
  } else {
    Image3D img = read_image(in);
    log::info("smoothing ", in.filename().string(), " with FWHM ", fwhm[0], " x ", fwhm[1], " x ", fwhm[2], " mm");
    const auto t0 = std::chrono::steady_clock::now();
    smooth::gaussian_inplace(img.data.data(), img.geom, options);
    log::info("smoothing took ", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
    if (fs::exists(in_json, ec)) {
      const nlohmann::json j = read_json(in_json);
      if (j.is_object()) sidecar = j;
      prov.inputs.push_back(in_json);
    }
    sidecar.update(prov.to_json());
    sidecar["SmoothingFWHM"] = fwhm;
    sidecar["SmoothingFWHMUnits"] = "mm";
    write_image(out, img);
  }
  write_json(out_json, sidecar);
  log::info("wrote ", out.string(), " and ", out_json.filename().string());
}

}  // namespace petpipe::pipeline

namespace petpipe::cli {

Command smooth_command() {
  Command c;
  c.name = "smooth";
  c.synopsis = "Gaussian smoothing of a 3D image or of every frame of a 4D PET image (FWHM in mm)";
  c.description =
      "Smooths an image with a Gaussian kernel given as FWHM in millimetres (the default is the "
      "seed study's smoothing of its MNI BPND maps; sigma = FWHM / (2 sqrt(2 ln 2))). The kernel is applied along "
      "the voxel axes with sigma in voxels = sigma / voxel size, so anisotropic voxels and oblique grids "
      "get the same physical kernel. It is truncated at 4 sigma and normalised.\n\n"
      "Edges: voxels outside the image carry no weight and each result is divided by the kernel mass "
      "inside the image, so a uniform image stays uniform to its edge (SPM instead truncates the kernel "
      "without renormalising, which darkens the outer ~2 sigma; the interior is the same).\n\n"
      "NaN voxels (e.g. outside a mask) neither spread nor receive weight: each finite voxel becomes the "
      "kernel-weighted mean of its finite neighbours, and NaN voxels stay NaN. --no-nan-aware makes a "
      "NaN spread over the kernel as in a plain convolution.\n\n"
      "A 4D image is a dynamic PET image and needs its PET-BIDS sidecar; each frame is smoothed on its "
      "own and the sidecar is written beside the output with the provenance added. A 3D image gets a JSON "
      "sidecar with the provenance (its own sidecar's fields are kept when it has one).";
  c.examples = {
      {"petpipe smooth --in sub-01_space-MNI_meas-BPND_mimap.nii.gz "
       "--out sub-01_space-MNI_desc-sm8_meas-BPND_mimap.nii.gz",
       "Smoothing of a BPND map with the default FWHM."},
      {"petpipe smooth --in sub-01_pet.nii.gz --out sub-01_desc-sm4_pet.nii.gz --fwhm 4",
       "4 mm smoothing of every frame of a dynamic PET image; sub-01_desc-sm4_pet.json is written too."},
      {"petpipe smooth --in t.nii.gz --out t_sm.nii.gz --fwhm 6 6 10",
       "Different FWHM along the three voxel axes."}};
  c.references = {
      "Friston KJ et al. Statistical Parametric Mapping: The Analysis of Functional Brain Images. "
      "Academic Press 2007 (spm_smooth: separable Gaussian smoothing with FWHM in mm).",
      "Knutsson H, Westin C-F. Normalized and differential convolution. Proc CVPR 1993:515-523 "
      "(normalised convolution, used here for NaN voxels and edges)."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("in,i", po::value<std::string>(), "input image (3D, or 4D PET with its _pet.json)")
        ("out,o", po::value<std::string>(), "output image (.nii or .nii.gz); a .json sidecar is written beside it")
        ;
    pipeline::smooth_table().add_options(d);
  };
  c.run = [](const po::variables_map& vm) {
    pipeline::run_smooth(request_from(vm));
    return 0;
  };
  return c;
}

PETPIPE_REGISTER_COMMAND(smooth_command, 60)

}  // namespace petpipe::cli
