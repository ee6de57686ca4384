// petpipe realign: rigid frame-to-frame motion correction of a dynamic PET scan.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/realign/realign.hpp"

namespace petpipe::cli {

namespace {

// "3", "1-4", "1,2,7-9" (1-based, as petpipe info lists frames) -> 0-based indices.
std::vector<std::size_t> parse_frame_list(const std::vector<std::string>& tokens) {
  std::vector<std::size_t> out;
  for (const auto& token : tokens) {
    std::stringstream ss(token);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) continue;
      const auto dash = item.find('-');
      auto number = [&](const std::string& s) -> long {
        long v = -1;
        if (!parse_integer(s, v) || v < 1)
          throw make_error("--exclude-frames: \"", item, "\" is not a frame number (1-based) or range such as 1-4");
        return v;
      };
      const long a = number(item.substr(0, dash));
      const long b = dash == std::string::npos ? a : number(item.substr(dash + 1));
      if (b < a) throw make_error("--exclude-frames: empty range \"", item, "\"");
      for (long f = a; f <= b; ++f) out.push_back(static_cast<std::size_t>(f - 1));
    }
  }
  return out;
}

struct OutputNames {
  fs::path mc, mc_json, motion, motion_json, mean, mean_json;
};

OutputNames output_names(const fs::path& pet, const fs::path& dir) {
  const std::string file = pet.filename().string();
  std::string mc, motion, mean;
  if (auto name = bids::parse_name(file)) {
    mc = bids::derivative_name(*name, {{"desc", "mc"}}, "pet", "");
    mean = bids::derivative_name(*name, {{"desc", "mean"}}, "pet", "");
    motion = bids::derivative_name(*name, {}, "motion", "");
  } else {
    std::string stem = strip_image_extension(file);
    if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, "_pet") == 0) stem.resize(stem.size() - 4);
    mc = stem + "_desc-mc_pet";
    mean = stem + "_desc-mean_pet";
    motion = stem + "_motion";
  }
  return {dir / (mc + ".nii.gz"), dir / (mc + ".json"),     dir / (motion + ".tsv"),
          dir / (motion + ".json"), dir / (mean + ".nii.gz"), dir / (mean + ".json")};
}

realign::Metric parse_metric(const std::string& s) {
  if (s == "correlation" || s == "nc") return realign::Metric::correlation;
  if (s == "mattes" || s == "mi") return realign::Metric::mattes;
  throw make_error("--metric: unknown metric \"", s, "\" (correlation or mattes)");
}

realign::Metric parse_reference_metric(const std::string& s) {
  if (s == "lncc") return realign::Metric::lncc;
  if (s == "local") return realign::Metric::local_lsq;
  if (s == "wncc") return realign::Metric::window_ncc;
  if (s == "correlation" || s == "nc") return realign::Metric::correlation;
  if (s == "mattes" || s == "mi") return realign::Metric::mattes;
  throw make_error("--reference-metric: unknown metric \"", s, "\" (wncc, local, lncc, mattes or correlation)");
}

realign::Metric parse_model_metric(const std::string& s) {
  if (s == "lsq") return realign::Metric::least_squares;
  if (s == "correlation" || s == "nc") return realign::Metric::correlation;
  if (s == "mattes" || s == "mi") return realign::Metric::mattes;
  throw make_error("--model-metric: unknown metric \"", s, "\" (lsq, mattes or correlation)");
}

std::string model_metric_key(realign::Metric m) {
  return m == realign::Metric::least_squares ? "lsq" : m == realign::Metric::correlation ? "correlation" : "mattes";
}

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

int run_realign(const po::variables_map& vm) {
  if (!vm.count("pet")) throw Error("--pet FILE is required (a 4D PET image with its PET-BIDS sidecar)");
  if (!vm.count("out")) throw Error("--out DIR is required");
  const fs::path pet_path = vm["pet"].as<std::string>();
  const fs::path out_dir = vm["out"].as<std::string>();
  const bool estimate_only = vm.count("estimate-only") > 0;
  const bool force = vm.count("force") > 0;

  realign::Options o;
  o.fwhm_mm = vm["fwhm"].as<double>();
  if (vm.count("ref-frame")) {
    const long r = vm["ref-frame"].as<long>();
    if (r < 1) throw make_error("--ref-frame: frame numbers start at 1 (got ", r, ")");
    o.reference_frame = static_cast<int>(r - 1);
  }
  if (vm.count("exclude-frames")) o.exclude_frames = parse_frame_list(vm["exclude-frames"].as<std::vector<std::string>>());
  o.start_time_s = vm["start-time"].as<double>();
  o.empty_fraction = vm["empty-fraction"].as<double>();
  const std::string excluded = vm["excluded"].as<std::string>();
  if (excluded == "nearest") o.excluded = realign::ExcludedPolicy::nearest;
  else if (excluded == "identity") o.excluded = realign::ExcludedPolicy::identity;
  else throw make_error("--excluded: \"", excluded, "\" is not nearest or identity");
  o.metric = parse_metric(vm["metric"].as<std::string>());
  o.two_pass = vm.count("single-pass") == 0;
  o.sampling_fraction = vm["sampling"].as<double>();
  o.refine_passes = vm["refine-passes"].as<int>();
  o.refine_fwhm_mm = vm["refine-fwhm"].as<double>();
  {
    const long samples = vm["refine-samples"].as<long>();
    if (samples < 1000) throw make_error("--refine-samples: at least 1000 points (got ", samples, ")");
    o.refine_max_samples = static_cast<std::size_t>(samples);
  }
  {
    const std::string target = vm["refine-target"].as<std::string>();
    if (target == "mean") o.refine_target = realign::RefineTarget::mean;
    else if (target == "model") o.refine_target = realign::RefineTarget::model;
    else throw make_error("--refine-target: \"", target, "\" is not mean or model");
    const int k = vm["refine-components"].as<int>();
    if (k < 1 || k > 8) throw make_error("--refine-components: 1..8 (got ", k, ")");
    o.refine_components = k;
    o.reference_metric = parse_reference_metric(vm["reference-metric"].as<std::string>());
    o.lncc_radius_mm = vm["lncc-radius"].as<double>();
    o.model_prior_weight = vm["model-prior"].as<double>();
    if (!(o.model_prior_weight >= 0)) throw make_error("--model-prior: must be >= 0 (got ", o.model_prior_weight, ")");
    o.window_radius_mm = vm["window-radius"].as<double>();
    if (!(o.window_radius_mm > 0)) throw make_error("--window-radius: must be > 0 mm (got ", o.window_radius_mm, ")");
    const long ws = vm["window-samples"].as<long>();
    if (ws < 1000) throw make_error("--window-samples: at least 1000 points (got ", ws, ")");
    o.window_samples = static_cast<std::size_t>(ws);
    o.local_cell_mm = vm["local-cell"].as<double>();
    if (!(o.local_cell_mm > 0)) throw make_error("--local-cell: must be > 0 mm (got ", o.local_cell_mm, ")");
    if (!(o.lncc_radius_mm > 0)) throw make_error("--lncc-radius: must be > 0 mm (got ", o.lncc_radius_mm, ")");
    const long ls = vm["lncc-samples"].as<long>();
    if (ls < 1000) throw make_error("--lncc-samples: at least 1000 points (got ", ls, ")");
    o.lncc_max_samples = static_cast<std::size_t>(ls);
    o.model_metric = parse_model_metric(vm["model-metric"].as<std::string>());
    const long qs = vm["lsq-samples"].as<long>();
    if (qs < 1000) throw make_error("--lsq-samples: at least 1000 points (got ", qs, ")");
    o.lsq_max_samples = static_cast<std::size_t>(qs);
  }
  o.seed = vm["seed"].as<std::uint32_t>();
  const std::string interp = vm["interp"].as<std::string>();
  realign::Interpolation interpolation;
  if (interp == "linear") interpolation = realign::Interpolation::linear;
  else if (interp == "bspline") interpolation = realign::Interpolation::bspline;
  else throw make_error("--interp: \"", interp, "\" is not linear or bspline");

  const OutputNames names = output_names(pet_path, out_dir);
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

  nlohmann::json config;
  config["fwhm_mm"] = o.fwhm_mm;
  config["reference_frame"] = motion.reference_frame + 1;
  std::vector<std::size_t> excl1;
  for (auto f : o.exclude_frames) excl1.push_back(f + 1);
  config["exclude_frames"] = excl1;
  config["start_time_s"] = o.start_time_s;
  config["empty_fraction"] = o.empty_fraction;
  config["excluded"] = excluded;
  config["metric"] = vm["metric"].as<std::string>();
  config["two_pass"] = o.two_pass;
  config["refine_fwhm_mm"] = o.refine_fwhm_mm;
  config["refine_passes"] = o.refine_passes;
  config["refine_max_samples"] = o.refine_max_samples;
  config["refine_target"] = o.refine_target == realign::RefineTarget::model ? "model" : "mean";
  config["refine_components"] = o.refine_components;
  config["reference_metric"] = vm["reference-metric"].as<std::string>();
  config["lncc_radius_mm"] = o.lncc_radius_mm;
  config["window_radius_mm"] = o.window_radius_mm;
  config["model_prior_weight"] = o.model_prior_weight;
  config["window_samples"] = o.window_samples;
  config["local_cell_mm"] = o.local_cell_mm;
  config["lncc_max_samples"] = o.lncc_max_samples;
  config["model_metric"] = model_metric_key(o.model_metric);
  config["lsq_max_samples"] = o.lsq_max_samples;
  config["sampling_fraction"] = o.sampling_fraction;
  config["levels"] = o.levels;
  config["estimation_voxel_mm"] = o.estimation_voxel_mm;
  config["seed"] = o.seed;
  config["interpolation"] = interp;
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
    return 0;
  }

  realign::reslice_frames(pet, motion, interpolation);
  write_dynamic(names.mc, pet, false);
  nlohmann::json sidecar = read_json(sidecar_path(pet_path));
  sidecar.update(frame_table_to_sidecar(pet.frames));
  sidecar["Description"] = "frames realigned to a common position (rigid, petpipe realign)";
  sidecar["MotionTable"] = names.motion.filename().string();
  sidecar["Interpolation"] = interp;
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
  return 0;
}

}  // namespace

Command realign_command() {
  Command c;
  c.name = "realign";
  c.synopsis = "rigid frame-to-frame motion correction of a dynamic PET scan";
  c.description =
      "Estimates one rigid transform (3 translations, 3 rotations) per frame and reslices the frames into "
      "one position: a first pass registers every frame to a reference frame, a second pass (repeated) "
      "registers every frame to the realigned series. Frames "
      "are block-averaged to about 2.5 mm voxels and smoothed (--fwhm, default 7 mm) for the first pass; the "
      "metric is Mattes mutual information on a random 10 % of the voxels (at most 50000 points) with a "
      "two-level pyramid (only its coarser level when the model-target second pass follows, whose first round "
      "works at full resolution). The second pass (--refine-passes, default 5 rounds) uses the block-averaged frames "
      "without further smoothing (--refine-fwhm), at points drawn inside the head, which the reference "
      "frame's smoothed image outlines. With --refine-target model (the default) its "
      "first round registers every frame to the reference frame, and the later rounds register every frame "
      "to its prediction from the OTHER realigned frames by a low-rank temporal model (up to "
      "--refine-components principal components, leave-one-out): an image with the frame's own tracer "
      "distribution. The series is then expressed in the reference frame's space (its transform is the "
      "identity). The first of these rounds uses local normalized correlation (--reference-metric wncc, "
      "windows of 3 x 3 x 3 points, --window-radius 3 mm, 400000 points in all): a region contrast that "
      "changes between the frame and the reference frame is locally a rescaling of intensities, which it "
      "ignores, whereas a global metric reads part of it as motion. Each window's lattice sits at a random "
      "sub-voxel offset, so both images are interpolated alike; ITK's neighbourhood correlation "
      "(--reference-metric lncc) reads the reference at voxel centres and the frame between them, and with "
      "noisy frames prefers poses at which interpolation smooths the frame (false motion of 1.2 deg on a "
      "noisy motion-free phantom). --reference-metric local: least squares with an intensity "
      "scale per cell of --local-cell mm, every head point, biased on phantoms without anatomical edges "
      "(docs/MODULE_VALIDATION.md). The model rounds use least "
      "squares with an intensity scale (--model-metric lsq, Gauss-Newton, every head point up to "
      "--lsq-samples; --model-metric mattes: mutual information on --refine-samples points), each frame "
      "held weakly (--model-prior 0.2) near its pose relative to the other frames from the round against the "
      "reference frame: the model rounds build each target from the other frames at their current poses, "
      "and without that hold the pose groups of a moved, coarsely sampled phantom drifted apart a little "
      "further in every round. With --refine-target mean every round registers every frame to the "
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
        ("ref-frame", po::value<long>(), "reference frame (1-based; default: high-count middle/late frame)")
        ("exclude-frames", po::value<std::vector<std::string>>()->multitoken(),
         "frames not estimated, 1-based: 1 2 3, 1-3 or 1,2,5-7")
        ("start-time", po::value<double>()->default_value(0.0), "frames starting before this time (s) are not estimated")
        ("fwhm", po::value<double>()->default_value(7.0), "smoothing of the estimation images (FWHM, mm)")
        ("estimate-only", "write the motion table only, do not reslice")
        ("interp", po::value<std::string>()->default_value("bspline"),
         "reslicing: bspline (cubic B-spline, as SPM) or linear")
        ("excluded", po::value<std::string>()->default_value("nearest"),
         "frames not estimated get the nearest estimated transform (nearest) or none (identity)")
        ("empty-fraction", po::value<double>()->default_value(0.02),
         "near-empty frame: mean below this fraction of the largest frame mean")
        ("metric", po::value<std::string>()->default_value("mattes"), "mattes (mutual information) or correlation")
        ("single-pass", "skip the second pass (registration to the mean)")
        ("sampling", po::value<double>()->default_value(realign::Options{}.sampling_fraction), "fraction of estimation voxels sampled (0,1]")
        ("refine-passes", po::value<int>()->default_value(realign::Options{}.refine_passes),
         "second pass: rounds (1..12), each from the previous one's result with rebuilt targets")
        ("refine-fwhm", po::value<double>()->default_value(realign::Options{}.refine_fwhm_mm),
         "second pass: smoothing of its images (FWHM, mm; 0 = none, < 0 = --fwhm)")
        ("refine-samples", po::value<long>()->default_value(static_cast<long>(realign::Options{}.refine_max_samples)),
         "second pass: metric points per frame (inside the head)")
        ("refine-target", po::value<std::string>()->default_value(
             realign::Options{}.refine_target == realign::RefineTarget::model ? "model" : "mean"),
         "second pass: each frame to the mean of the realigned frames (mean) or to its prediction from "
         "the other frames by a low-rank temporal model (model)")
        ("refine-components", po::value<int>()->default_value(realign::Options{}.refine_components),
         "second pass, model target: temporal components (1..8)")
        ("reference-metric", po::value<std::string>()->default_value("wncc"),
         "second pass, model target: metric of the round against the reference frame (wncc: local "
         "normalized correlation on jittered windows of --window-radius; lncc: ITK's local normalized "
         "correlation, windows of --lncc-radius; local: least squares with an intensity scale per cell of "
         "--local-cell mm; mattes or correlation)")
        ("model-prior", po::value<double>()->default_value(realign::Options{}.model_prior_weight),
         "second pass, model rounds: weight (relative to the frame's own term) of a prior holding the frames' "
         "relative poses near the reference round's (0 = none)")
        ("window-radius", po::value<double>()->default_value(realign::Options{}.window_radius_mm),
         "wncc: window half-width (mm, rounded to 1..3 estimation voxels)")
        ("window-samples", po::value<long>()->default_value(static_cast<long>(realign::Options{}.window_samples)),
         "wncc: points per frame in all ((2 r + 1)^3 per window)")
        ("local-cell", po::value<double>()->default_value(realign::Options{}.local_cell_mm),
         "local least squares: cell edge (mm, at least 2 estimation voxels)")
        ("lncc-radius", po::value<double>()->default_value(realign::Options{}.lncc_radius_mm),
         "local normalized correlation: window half-width (mm, rounded to 1..3 estimation voxels)")
        ("lncc-samples", po::value<long>()->default_value(static_cast<long>(realign::Options{}.lncc_max_samples)),
         "local normalized correlation: points per frame")
        ("model-metric", po::value<std::string>()->default_value(model_metric_key(realign::Options{}.model_metric)),
         "second pass, model target: metric of the rounds against each frame's prediction (lsq: least "
         "squares with an intensity scale, Gauss-Newton; mattes or correlation)")
        ("lsq-samples", po::value<long>()->default_value(static_cast<long>(realign::Options{}.lsq_max_samples)),
         "least squares: points per frame (every head voxel up to this many)")
        ("seed", po::value<std::uint32_t>()->default_value(20240611), "sampling seed");
  };
  c.run = run_realign;
  return c;
}

PETPIPE_REGISTER_COMMAND(realign_command, 30)

}  // namespace petpipe::cli
