// petpipe realign: rigid frame-to-frame motion correction of a dynamic PET scan.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/layout.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/pipeline/stages.hpp"
#include "petpipe/realign/realign.hpp"

namespace petpipe::cli {

namespace {

std::string metric_name(realign::Metric m) {
  switch (m) {
    case realign::Metric::correlation: return "normalized correlation";
    case realign::Metric::mattes: return "Mattes mutual information";
    case realign::Metric::lncc: return "local normalized correlation";
    case realign::Metric::least_squares: return "least squares with intensity scale";
    case realign::Metric::local_lsq: return "local least squares (intensity scale per cell)";
    case realign::Metric::window_ncc: return "local normalized correlation (jittered windows)";
  }
  return "";
}

nlohmann::json motion_sidecar(const realign::MotionResult& m, const realign::Options& o) {
  nlohmann::json j;
  auto col = [](const std::string& d, const std::string& units) {
    nlohmann::json c;
    c["Description"] = d;
    if (!units.empty()) c["Units"] = units;
    return c;
  };
  j["frame"] = col("frame number, 1-based", "");
  j["frame_start"] = col("frame start relative to TimeZero", "s");
  j["frame_end"] = col("frame end relative to TimeZero", "s");
  j["tx"] = col("translation along x (LPS: towards patient left)", "mm");
  j["ty"] = col("translation along y (LPS: towards posterior)", "mm");
  j["tz"] = col("translation along z (LPS: towards superior)", "mm");
  j["rx"] = col("right-handed rotation about the x axis", "deg");
  j["ry"] = col("right-handed rotation about the y axis", "deg");
  j["rz"] = col("right-handed rotation about the z axis", "deg");
  j["framewise_displacement"] =
      col("Power et al. 2012: |dtx|+|dty|+|dtz| + 50 mm x (|drx|+|dry|+|drz|) (radians), to the previous frame", "mm");
  j["status"] = col("estimated | reference | near-empty | excluded | before-start | single-frame", "");
  j["source_frame"] = col("for frames not estimated: the frame whose transform was copied (n/a: none)", "");
  j["TransformConvention"] =
      "Each row maps points of the reference space to the frame: y = R (x - c) + c + t, in LPS millimetres "
      "(x: left, y: posterior, z: superior; RAS = (-x, -y, z)); R = Rz(rz) Rx(rx) Ry(ry) with "
      "right-handed rotations about the LPS axes, c = CenterOfRotation; the realigned frame is frame(T(x)). This is ITK's fixed-to-moving direction "
      "(itk::Euler3DTransform, ComputeZYX off).";
  j["RotationOrder"] = "R = Rz(rz) * Rx(rx) * Ry(ry): the rotation about y is applied first, then x, then z";
  j["CenterOfRotation"] = std::vector<double>(m.center_lps.begin(), m.center_lps.end());
  j["CenterOfRotationDescription"] = "physical centre of the image grid, LPS mm";
  j["ReferenceFrame"] = m.reference_frame + 1;
  j["ReferenceSpace"] = o.two_pass ? "mean of the realigned frames (second pass), built in the reference frame's space"
                                   : "reference frame";
  j["Metric"] = metric_name(o.metric);
  if (o.two_pass && o.refine_target == realign::RefineTarget::model)
    j["ReferenceRoundMetric"] = metric_name(o.reference_metric);
  if (o.two_pass && o.refine_target == realign::RefineTarget::model && o.refine_passes >= 2)
    j["ModelRoundMetric"] = metric_name(o.model_metric);
  j["SmoothingFWHM"] = o.fwhm_mm;
  j["NaNVoxels"] = m.nan_voxels;
  j["Warnings"] = m.warnings;
  return j;
}

Table motion_table(const realign::MotionResult& m, const FrameTable& frames) {
  Table t;
  t.columns = {"frame", "frame_start", "frame_end", "tx", "ty", "tz", "rx", "ry", "rz",
               "framewise_displacement", "status", "source_frame"};
  for (std::size_t f = 0; f < m.frames.size(); ++f) {
    const auto& r = m.frames[f];
    t.add_row({std::to_string(f + 1), format_number(frames.start_s[f]), format_number(frames.end_s(f)),
               format_number(r.tx_mm, 6), format_number(r.ty_mm, 6), format_number(r.tz_mm, 6),
               format_number(r.rx_deg, 6), format_number(r.ry_deg, 6), format_number(r.rz_deg, 6),
               format_number(r.fd_mm, 6), r.status,
               r.source_frame >= 0 ? std::to_string(r.source_frame + 1) : std::string("n/a")});
  }
  return t;
}

pipeline::RealignRequest request_from(const po::variables_map& vm) {
  if (!vm.count("pet")) throw Error("--pet FILE is required (a 4D PET image with its PET-BIDS sidecar)");
  if (!vm.count("out")) throw Error("--out DIR is required");
  pipeline::RealignRequest r;
  r.pet = vm["pet"].as<std::string>();
  r.out = vm["out"].as<std::string>();
  r.estimate_only = vm.count("estimate-only") > 0;
  r.force = vm.count("force") > 0;
  r.params = pipeline::realign_table().from_vm(vm);
  return r;
}

}  // namespace
}  // namespace petpipe::cli

namespace petpipe::pipeline {

std::vector<std::string> request_args(const RealignRequest& r) {
  std::vector<std::string> a{"realign", "--pet", r.pet.string(), "--out", r.out.string()};
  if (r.estimate_only) a.push_back("--estimate-only");
  if (r.force) a.push_back("--force");
  const auto t = realign_table().to_args(r.params);
  a.insert(a.end(), t.begin(), t.end());
  return a;
}

void run_realign(const RealignRequest& request) {
  using namespace petpipe::cli;
  const fs::path& pet_path = request.pet;
  const fs::path& out_dir = request.out;
  const bool estimate_only = request.estimate_only;
  const bool force = request.force;
  const RealignParams& params = request.params;
  const realign::Options& o = params.estimation;
  const realign::Interpolation interpolation = params.interpolation;

  const layout::RealignFiles names = layout::realign_files(layout::source_of(pet_path), out_dir);
  std::vector<fs::path> outputs{names.motion, names.motion_json};
  if (!estimate_only) outputs.insert(outputs.end(), {names.mc, names.mc_json, names.mean, names.mean_json});
  std::error_code ec;
  if (!force)
    for (const auto& p : outputs)
      if (fs::exists(p, ec)) throw make_error(p.string(), ": exists (use --force to overwrite)");
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw make_error(out_dir.string(), ": --out must be a directory");

  DynamicImage pet;
  const ImageInfo info = read_image_info(pet_path);
  if (info.dimension == 3 || (info.dimension == 4 && info.size[3] == 1)) {
    // A single frame (NIfTI readers report a 4D image with one volume as 3D): read it with its sidecar.
    Image3D frame = read_image(pet_path);
    const fs::path json = sidecar_path(pet_path);
    if (!fs::exists(json, ec))
      throw make_error(pet_path.string(), ": PET-BIDS sidecar ", json.filename().string(), " not found beside the image");
    double scale = 1.0;
    pet.frames = read_pet_sidecar(json, 1, &scale);
    pet.geom = frame.geom;
    pet.data = std::move(frame.data);
    for (auto& v : pet.data) v = static_cast<float>(v * scale);
    pet.frames.units = "kBq/mL";
  } else {
    pet = read_dynamic(pet_path);
  }
  log::info("realign: ", pet_path.filename().string(), ": ", pet.frame_count(), " frames of ", pet.geom.size[0],
            " x ", pet.geom.size[1], " x ", pet.geom.size[2], " voxels");
  const realign::MotionResult motion =
      with_context(pet_path.filename().string(), [&] { return realign::estimate_motion(pet, o); });

  // Every parameter of the table, the reference frame used, and the fixed estimation settings.
  nlohmann::json config = pipeline::realign_table().to_json(params);
  config["reference_frame_used"] = motion.reference_frame + 1;
  config["metric"] = o.metric == realign::Metric::mattes ? "mattes" : metric_name(o.metric);
  config["model_metric"] = o.model_metric == realign::Metric::least_squares ? "lsq" : metric_name(o.model_metric);
  config["levels"] = o.levels;
  config["estimation_voxel_mm"] = o.estimation_voxel_mm;
  config["estimate_only"] = estimate_only;
  Provenance prov;
  prov.configuration = config;
  prov.inputs = {pet_path, sidecar_path(pet_path)};
  const nlohmann::json pj = prov.to_json();

  fs::create_directories(out_dir);
  nlohmann::json mj = motion_sidecar(motion, o);
  mj.update(pj);
  write_tsv(names.motion, motion_table(motion, pet.frames));
  write_json(names.motion_json, mj);
  if (estimate_only) {
    log::info("realign: wrote ", names.motion.string(), " (estimate only)");
    return;
  }

  realign::reslice_frames(pet, motion, interpolation);
  write_dynamic(names.mc, pet, false);
  nlohmann::json sidecar = read_json(sidecar_path(pet_path));
  sidecar.update(frame_table_to_sidecar(pet.frames));
  sidecar["Description"] = "frames realigned to a common position (rigid, petpipe realign)";
  sidecar["MotionTable"] = names.motion.filename().string();
  sidecar["Interpolation"] = config["interpolation"];
  sidecar.update(pj);
  write_json(names.mc_json, sidecar);

  const Image3D mean = realign::mean_image(pet);
  write_image(names.mean, mean);
  nlohmann::json mean_json;
  mean_json["Description"] =
      "duration-weighted mean of all realigned frames (time-averaged activity over the scan)";
  mean_json["Units"] = pet.frames.units;
  mean_json["FrameStart"] = pet.frames.start_s.front();
  mean_json["FrameEnd"] = pet.frames.end_s(pet.frame_count() - 1);
  mean_json.update(pj);
  write_json(names.mean_json, mean_json);
  log::info("realign: wrote ", names.mc.string(), ", ", names.motion.filename().string(), " and ",
            names.mean.filename().string());
}

}  // namespace petpipe::pipeline

namespace petpipe::cli {

Command realign_command() {
  Command c;
  c.name = "realign";
  c.synopsis = "rigid frame-to-frame motion correction of a dynamic PET scan";
  c.description =
      "Estimates one rigid transform (3 translations, 3 rotations) per frame and reslices the frames into "
      "one position: a first pass registers every frame to a reference frame, a second pass (repeated) "
      "registers every frame to the realigned series. Frames "
      "are block-averaged to about 2.5 mm voxels and smoothed (--fwhm) for the first pass; the "
      "metric is Mattes mutual information on a random 10 % of the voxels (at most 50000 points) with a "
      "two-level pyramid (only its coarser level when the model-target second pass follows, whose first round "
      "works at full resolution). The second pass (--refine-passes rounds) uses the block-averaged frames "
      "without further smoothing (--refine-fwhm), at points drawn inside the head, which the reference "
      "frame's smoothed image outlines. With --refine-target model (the default) its "
      "first round registers every frame to the reference frame, and the later rounds register every frame "
      "to its prediction from the OTHER realigned frames by a low-rank temporal model (up to "
      "--refine-components principal components, leave-one-out): an image with the frame's own tracer "
      "distribution. The series is then expressed in the reference frame's space (its transform is the "
      "identity). The first of these rounds uses local normalized correlation (--reference-metric wncc, "
      "windows of 3 x 3 x 3 points over --window-radius, --window-samples points in all): a region contrast that "
      "changes between the frame and the reference frame is locally a rescaling of intensities, which it "
      "ignores, whereas a global metric reads part of it as motion. Each window's lattice sits at a random "
      "sub-voxel offset, so both images are interpolated alike (--reference-metric mattes: mutual "
      "information instead). The model rounds use least "
      "squares with an intensity scale (Gauss-Newton, every head point up to --lsq-samples), each frame "
      "held weakly (--model-prior) near its pose relative to the other frames from the round against the "
      "reference frame, since the model rounds build each target from the other frames at their current "
      "poses. With --refine-target mean every round registers every frame to the "
      "duration-weighted mean "
      "of the realigned frames, as SPM realign does. A tracer distribution that changes over the scan biases "
      "registration to a mean image or to a heavily smoothed image; these choices and the metric (against "
      "normalized correlation) are measured in docs/MODULE_VALIDATION.md. Registrations of different frames "
      "run in parallel "
      "(--threads).\n\n"
      "Frames numbers are 1-based, as `petpipe info` lists them. The reference frame (--ref-frame) defaults "
      "to the highest-count frame (mean activity x duration x decay factor) among the frames in the last "
      "two thirds of the scan. Frames are not estimated when listed in --exclude-frames, when they start "
      "before --start-time, or when near-empty (mean below --empty-fraction of the largest frame mean, e.g. "
      "before the tracer arrives); they take the transform of the estimated frame nearest in time "
      "(--excluded nearest) or stay unmoved (--excluded identity). NaN voxels are treated as 0 with a "
      "warning. A one-frame image is copied with an identity transform and a warning.\n\n"
      "Reslicing (--interp) is cubic B-spline interpolation by default (as SPM's reslice; it keeps small "
      "regions' contrast, where trilinear interpolation blurs every moved frame: measured in "
      "docs/MODULE_VALIDATION.md); like any interpolating spline it may overshoot slightly next to sharp "
      "edges. --interp linear is trilinear.\n\n"
      "Outputs in --out, named after the input (BIDS derivatives): <name>_desc-mc_pet.nii.gz with its "
      "sidecar (frame table preserved), <name>_motion.tsv with <name>_motion.json, and "
      "<name>_desc-mean_pet.nii.gz (duration-weighted mean of the realigned frames) with a sidecar. "
      "--estimate-only writes only the motion table.\n\n"
      "Motion table: tx ty tz (mm) and rx ry rz (degrees) of the transform that maps reference-space points "
      "to the frame (ITK's fixed-to-moving direction) in LPS coordinates (x left, y posterior, z superior) "
      "about the centre of the image grid, R = Rz Rx Ry; framewise_displacement after Power et al. with a "
      "50 mm sphere.";
  c.examples = {
      {"petpipe realign --pet sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz --out derivatives/sub-01",
       "Realign all frames; writes sub-01_trc-carfentanil_desc-mc_pet.nii.gz, _motion.tsv and "
       "_desc-mean_pet.nii.gz."},
      {"petpipe realign --pet scan_pet.nii.gz --out mc --start-time 120 --exclude-frames 1-3 --estimate-only",
       "Estimate motion only, skipping the first two minutes and frames 1 to 3."},
      {"petpipe realign --pet scan_pet.nii.gz --out mc --ref-frame 20 --interp linear --excluded identity",
       "Frame 20 as reference, trilinear reslicing (default: cubic B-spline), frames not estimated left unmoved."}};
  c.references = {
      "Friston KJ, Ashburner J, Frith CD, Poline JB, Heather JD, Frackowiak RS. Spatial registration and "
      "normalization of images. Hum Brain Mapp 1995;3:165-189 (SPM realign).",
      "Power JD, Barnes KA, Snyder AZ, Schlaggar BL, Petersen SE. Spurious but systematic correlations in "
      "functional connectivity MRI networks arise from subject motion. NeuroImage 2012;59:2142-2154 "
      "(framewise displacement).",
      "Mattes D, Haynor DR, Vesselle H, Lewellen TK, Eubank W. PET-CT image registration in the chest using "
      "free-form deformations. IEEE Trans Med Imaging 2003;22:120-128."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("pet", po::value<std::string>(), "dynamic PET image (4D NIfTI, _pet.json beside it)")
        ("out", po::value<std::string>(), "output directory")
        ("estimate-only", "write the motion table only, do not reslice");
    pipeline::realign_table().add_options(d);
  };
  c.run = [](const po::variables_map& vm) {
    pipeline::run_realign(request_from(vm));
    return 0;
  };
  return c;
}

PETPIPE_REGISTER_COMMAND(realign_command, 30)

}  // namespace petpipe::cli
