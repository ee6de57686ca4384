// petpipe srtm: voxelwise SRTM by the basis-function method; BPND, R1, k2, k2a, RSS maps.
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/layout.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/kinetics/reference.hpp"
#include "petpipe/kinetics/srtm_bfm.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/pipeline/stages.hpp"

namespace petpipe::cli {

namespace {

std::vector<double> read_ref_tac_tsv(const fs::path& path, const FrameTable& frames) {
  return with_context(path.string(), [&] {
    const Table t = read_tsv(path);
    if (!t.has_column("frame_start") || !t.has_column("frame_end"))
      throw Error("needs columns frame_start and frame_end (seconds) and one value column");
    std::vector<std::string> value_cols;
    for (const auto& c : t.columns)
      if (c != "frame_start" && c != "frame_end") value_cols.push_back(c);
    if (value_cols.size() != 1)
      throw make_error("needs exactly one value column besides frame_start and frame_end, found ",
                       value_cols.size());
    const auto start = t.numeric_column("frame_start"), end = t.numeric_column("frame_end");
    const auto values = t.numeric_column(value_cols[0]);
    if (values.size() != frames.size())
      throw make_error(values.size(), " frames but the PET image has ", frames.size());
    for (std::size_t f = 0; f < frames.size(); ++f)
      if (std::abs(start[f] - frames.start_s[f]) > 1.0 || std::abs(end[f] - frames.end_s(f)) > 1.0)
        throw make_error("frame ", f + 1, " times (", start[f], "-", end[f], " s) differ from the PET frame ",
                         "table (", frames.start_s[f], "-", frames.end_s(f), " s)");
    return values;
  });
}

pipeline::SrtmRequest request_from(const po::variables_map& vm) {
  if (!vm.count("pet")) throw Error("no --pet FILE given (dynamic PET with its _pet.json)");
  if (!vm.count("out")) throw Error("no --out DIR given");
  if (vm.count("ref-mask") == vm.count("ref-tac"))
    throw Error("give exactly one of --ref-mask FILE and --ref-tac TSV");
  pipeline::SrtmRequest r;
  r.pet = vm["pet"].as<std::string>();
  r.out = vm["out"].as<std::string>();
  r.force = vm.count("force") > 0;
  if (vm.count("ref-mask")) r.ref_mask = vm["ref-mask"].as<std::string>();
  if (vm.count("ref-tac")) r.ref_tac = vm["ref-tac"].as<std::string>();
  if (vm.count("mask")) r.mask = vm["mask"].as<std::string>();
  if (vm.count("tracer")) r.tracer = vm["tracer"].as<std::string>();
  r.params = pipeline::srtm_table().from_vm(vm);
  return r;
}

}  // namespace
}  // namespace petpipe::cli

namespace petpipe::pipeline {

std::vector<std::string> request_args(const SrtmRequest& r) {
  std::vector<std::string> a{"srtm", "--pet", r.pet.string(), "--out", r.out.string()};
  if (!r.ref_mask.empty()) a.insert(a.end(), {"--ref-mask", r.ref_mask.string()});
  if (!r.ref_tac.empty()) a.insert(a.end(), {"--ref-tac", r.ref_tac.string()});
  if (!r.mask.empty()) a.insert(a.end(), {"--mask", r.mask.string()});
  if (!r.tracer.empty()) a.insert(a.end(), {"--tracer", r.tracer});
  if (r.force) a.push_back("--force");
  const auto t = srtm_table().to_args(r.params);
  a.insert(a.end(), t.begin(), t.end());
  return a;
}

void run_srtm(const SrtmRequest& request) {
  using namespace kinetics;
  using namespace petpipe::cli;
  if (request.ref_mask.empty() == request.ref_tac.empty())
    throw Error("give exactly one of --ref-mask FILE and --ref-tac TSV");
  const fs::path& pet_path = request.pet;
  const fs::path& out_dir = request.out;
  const bool force = request.force;
  const bool by_mask = !request.ref_mask.empty();
  std::error_code ec;
  if (!fs::exists(pet_path, ec)) throw make_error(pet_path.string(), ": PET image not found");
  const fs::path ref_path = by_mask ? request.ref_mask : request.ref_tac;
  if (!fs::exists(ref_path, ec)) throw make_error(ref_path.string(), ": not found");
  const fs::path& mask_path = request.mask;
  if (!mask_path.empty() && !fs::exists(mask_path, ec)) throw make_error(mask_path.string(), ": mask not found");
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw make_error(out_dir.string(), ": --out exists and is not a directory");
  const SrtmParams& params = request.params;
  const WeightScheme scheme = params.weights;
  const std::size_t n_basis = params.basis_functions;
  const double mask_threshold = params.mask_threshold_fraction;

  // PET and its frame table.
  DynamicImage pet = read_dynamic(pet_path);
  const FrameTable& frames = pet.frames;

  // theta3 grid: both limits given, or the tracer preset's (from --tracer or the sidecar's TracerName).
  const std::string tracer = !request.tracer.empty() ? request.tracer : frames.tracer;
  double th_min = params.theta3_min_per_min, th_max = params.theta3_max_per_min;
  const std::optional<pipeline::TracerPreset> preset = pipeline::find_tracer_preset(tracer);
  const bool theta3_from_preset = std::isnan(th_min) || std::isnan(th_max);
  if (theta3_from_preset) {
    if (!preset) {
      std::string known;
      for (const auto& k : pipeline::known_tracers()) known += (known.empty() ? "" : ", ") + k;
      throw make_error(!request.tracer.empty() ? "--tracer " + tracer : pet_path.string() + ": tracer \"" + tracer + "\"",
                       ": no tracer preset (known: ", known, "); give --theta3-min and --theta3-max");
    }
    const nlohmann::json& ps = preset->config["srtm"];
    if (std::isnan(th_min)) th_min = ps["theta3_min_per_min"].get<double>();
    if (std::isnan(th_max)) th_max = ps["theta3_max_per_min"].get<double>();
  }
  if (!(th_min < th_max)) throw make_error("--theta3-min ", th_min, " must be below --theta3-max ", th_max);
  const bool have_preset = preset.has_value();
  const std::vector<double> grid = log_grid(th_min, th_max, n_basis);
  const double lambda = frames.decay_constant_per_s() * 60.0;
  if (lambda <= 0.0)
    log::warn(pet_path.filename().string(), ": radionuclide half-life unknown; theta3 grid used without decay "
              "constant");
  if (!(th_min > lambda))
    throw make_error("--theta3-min ", th_min, " /min must exceed the decay constant ", lambda,
                     " /min (theta3 includes it)");

  // Reference TAC.
  std::vector<double> ref;
  std::size_t ref_voxels = 0;
  if (by_mask) {
    const Mask rm = with_context(ref_path.string(), [&] { return read_mask(ref_path); });
    const RegionTac rt = with_context(ref_path.string(), [&] { return region_tac(pet, rm); });
    ref = rt.values;
    ref_voxels = rt.voxels;
    if (rt.skipped_nonfinite)
      log::warn(ref_path.filename().string(), ": ", rt.skipped_nonfinite,
                " reference voxels with NaN/inf in some frame left out");
  } else {
    ref = read_ref_tac_tsv(ref_path, frames);
  }
  const FrameTimes ft = FrameTimes::from(frames);
  with_context(ref_path.string(), [&] { check_reference_tac(ref, ft); });

  // Fit mask.
  Mask mask;
  BrainMaskOptions bmo;
  bmo.threshold_fraction = mask_threshold;
  if (!mask_path.empty()) {
    mask = with_context(mask_path.string(), [&] { return read_mask(mask_path); });
    if (!mask.geom.same_grid(pet.geom))
      throw make_error(mask_path.string(), ": mask is not on the PET grid (", mask.geom.size[0], "x",
                       mask.geom.size[1], "x", mask.geom.size[2], " vs ", pet.geom.size[0], "x",
                       pet.geom.size[1], "x", pet.geom.size[2], ")");
  } else {
    mask = brain_mask(pet, bmo);
  }
  std::size_t mask_count = 0;
  for (auto m : mask.data) mask_count += m;
  if (mask_count == 0)
    throw make_error(mask_path.empty() ? pet_path.string() + ": brain mask from the mean image" : mask_path.string(),
                     ": mask is empty");

  // Weights.
  std::vector<double> mean_tac;
  if (scheme == WeightScheme::counts) mean_tac = region_tac(pet, mask).values;
  BfmOptions o;
  o.weights = frame_weights(scheme, frames, mean_tac);
  o.subgrid_refinement = params.subgrid_refinement;
  o.theta3 = grid;
  if (frames.decay_corrected) {
    for (double& x : o.theta3) x -= lambda;
    o.decay_constant_per_min = 0.0;
  } else {
    o.decay_constant_per_min = lambda;
  }

  // Output names, refused before any work is written.
  layout::Source src = layout::source_of(pet_path, {});
  if (!src.prefix.empty())
    log::warn(pet_path.filename().string(), ": not a BIDS name; outputs are prefixed with ", src.prefix);
  else if (!src.name.get("trc") && have_preset)
    src.name.set("trc", preset->name);
  const layout::SrtmFiles files = layout::srtm_files(src, out_dir);
  const fs::path edge_path = files.gridedge, fitmask_path = files.fitmask, tac_path = files.ref_tac;
  const std::vector<fs::path> all = files.all();
  if (!force)
    for (const auto& p : all)
      if (fs::exists(p, ec)) throw make_error(p.string(), ": exists (use --force to overwrite)");

  log::info("SRTM basis functions: ", n_basis, " theta3 from ", th_min, " to ", th_max,
            " /min (including lambda ", lambda, " /min), ", to_string(scheme), " weights, ", mask_count,
            " voxels, ", thread_count(), " threads");
  const BfmResult r = srtm_bfm(pet, ref, mask, o);
  log::info("fitted ", r.fitted_voxels, " voxels in ", r.fit_seconds, " s (", r.fitted_voxels / std::max(r.fit_seconds, 1e-9),
            " voxels/s); ", r.negative_bpnd, " with negative BPND (kept); ", r.grid_edge_voxels,
            " on the theta3 grid edge; ", r.skipped_nonfinite, " skipped (NaN/inf), ", r.skipped_zero,
            " skipped (all zero)");
  if (r.grid_edge_voxels > r.fitted_voxels / 20)
    log::warn(r.grid_edge_voxels, " of ", r.fitted_voxels, " voxels have their best theta3 on the grid edge");

  // Provenance and options shared by every sidecar.
  Provenance prov;
  prov.command_line = command_line();
  prov.inputs = {pet_path, sidecar_path(pet_path), ref_path};
  if (!mask_path.empty()) prov.inputs.push_back(mask_path);
  nlohmann::json cfg = {{"method", "SRTM basis-function method (Gunn et al. 1997)"},
                        {"tracer", tracer},
                        {"theta3_min_per_min", th_min},
                        {"theta3_max_per_min", th_max},
                        {"theta3_includes_decay_constant", true},
                        {"decay_constant_per_min", lambda},
                        {"data_decay_corrected", frames.decay_corrected},
                        {"basis_functions", n_basis},
                        {"theta3_source", theta3_from_preset ? "preset " + preset->file.string() : "options"},
                        {"theta3_spacing", "logarithmic"},
                        {"subgrid_refinement", o.subgrid_refinement},
                        {"weights", to_string(scheme)},
                        {"frame_weights", o.weights},
                        {"reference", by_mask ? "mask" : "tsv"},
                        {"reference_voxels", ref_voxels},
                        {"mask", mask_path.empty() ? "brain mask from the mean image" : mask_path.string()},
                        {"mask_threshold_fraction", mask_threshold},
                        {"reference_interpolation",
                         "piecewise linear through mid-frame knots (0 at injection), area-preserving per frame"}};
  prov.configuration = {{"srtm", cfg}};
  nlohmann::json summary = {{"MaskVoxels", r.mask_voxels},           {"FittedVoxels", r.fitted_voxels},
                            {"SkippedNonFiniteVoxels", r.skipped_nonfinite}, {"SkippedZeroVoxels", r.skipped_zero},
                            {"NonFiniteVoxelsOutsideMask", r.nonfinite_outside_mask},
                            {"NegativeBPNDVoxels", r.negative_bpnd},   {"GridEdgeVoxels", r.grid_edge_voxels},
                            {"FitSeconds", r.fit_seconds}};
  struct Out {
    std::string meas;
    const Image3D* image;
    std::string units, description;
  };
  const std::vector<Out> outs{
      {"BPND", &r.bpnd, "unitless", "non-displaceable binding potential, k2/k2a - 1"},
      {"R1", &r.r1, "unitless", "relative delivery K1/K1'"},
      {"k2", &r.k2, "1/min", "tissue efflux rate constant"},
      {"k2a", &r.k2a, "1/min", "apparent efflux rate constant k2/(1+BPND)"},
      {"RSS", &r.rss, "(kBq/mL)^2", "weighted residual sum of squares (weights normalised to mean 1)"},
      {"theta3index", &r.theta3_index, "index", "0-based index of the best theta3 grid basis"}};
  const std::string policy =
      "0 outside the fit mask; NaN where a frame is NaN/inf (anywhere) or a mask voxel's TAC is all zero; "
      "negative BPND kept";

  fs::create_directories(out_dir);
  auto sidecar = [&](const std::string& what, const std::string& units, const std::string& desc) {
    nlohmann::json j = prov.to_json();
    j["Measure"] = what;
    j["Units"] = units;
    j["Description"] = desc;
    j["VoxelPolicy"] = policy;
    j["Summary"] = summary;
    return j;
  };
  for (const auto& out : outs) {
    const fs::path p = files.map(out.meas);
    write_image(p, *out.image);
    write_json(sidecar_path(p), sidecar(out.meas, out.units, out.description));
  }
  write_mask(edge_path, r.grid_edge);
  write_json(sidecar_path(edge_path), sidecar("gridedge", "boolean", "1 where the best theta3 is the first or last grid value"));
  write_mask(fitmask_path, mask);
  write_json(sidecar_path(fitmask_path), sidecar("fitmask", "boolean", "voxels fitted"));
  Table t;
  t.columns = {"frame_start", "frame_end", "reference"};
  for (std::size_t f = 0; f < frames.size(); ++f)
    t.add_row({format_number(frames.start_s[f]), format_number(frames.end_s(f)), format_number(ref[f])});
  write_tsv(tac_path, t);
  log::info("wrote ", all.size(), " outputs to ", out_dir.string());
}

}  // namespace petpipe::pipeline

namespace petpipe::cli {

Command srtm_command() {
  Command c;
  c.name = "srtm";
  c.synopsis = "voxelwise SRTM (basis-function method): BPND, R1, k2, k2a and RSS maps";
  c.description =
      "Fits the simplified reference tissue model to every voxel of a dynamic PET image with the "
      "basis-function method: for each of --basis values of theta3, log-spaced between --theta3-min and "
      "--theta3-max, the basis function is the frame average of the reference TAC convolved with "
      "exp(-theta3 t), computed exactly for a piecewise-linear reference curve through the frame mid-times "
      "that preserves every frame's average; each voxel gets the weighted least-squares fit of the best "
      "basis, refined between grid points by a parabola (--no-refine: the classic grid BFM). All voxels of "
      "a block are fitted against all bases in one matrix product, on all cores (--threads).\n\n"
      "Reference: --ref-mask (a mask on the PET grid; its per-frame mean) or --ref-tac (TSV with "
      "frame_start and frame_end in seconds matching the PET frames, and one value column in kBq/mL, "
      "with the same decay state as the image). The reference TAC must be positive in the late frames "
      "(the second half of the scan).\n\n"
      "theta3 convention: the range includes the decay constant lambda, as in Magia, which fits "
      "decay-uncorrected data (the presets in tracers/ give each tracer's range). petpipe fits the data in "
      "the state the sidecar declares: decay-corrected data with exponents theta3 - lambda, uncorrected "
      "data with theta3; k2a = theta3 - lambda either way, so both give the same maps.\n\n"
      "Weights: counts (w = duration / decay-uncorrected mean brain activity, i.e. inverse "
      "Poisson variance, converted to the data's decay state), duration, or uniform.\n\n"
      "Voxels: the fit mask is --mask or the voxels whose duration-weighted mean is at least "
      "--mask-threshold times the 99th percentile of the positive mean values. Outside it maps are 0; "
      "voxels with NaN/inf in any frame (anywhere) or an all-zero TAC (in the mask) are NaN and counted; negative BPND is kept and "
      "counted; voxels whose best theta3 is the first or last grid value are flagged in the "
      "desc-gridedge mask. Outputs (with JSON sidecars carrying provenance, options and counts): "
      "*_model-SRTM_meas-{BPND,R1,k2,k2a,RSS,theta3index}_mimap.nii.gz, *_model-SRTM_desc-gridedge_mask, "
      "*_model-SRTM_desc-fit_mask and *_desc-reference_tacs.tsv. Nothing is written when an input is "
      "rejected.";
  c.examples = {
      {"petpipe srtm --pet sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz --ref-mask occipital.nii.gz --out deriv/sub-01",
       "Carfentanil preset (from the sidecar's TracerName), counts weights, brain mask from the mean image."},
      {"petpipe srtm --pet sub-01_trc-madam_pet.nii.gz --ref-tac cerebellum_tacs.tsv --out out --weights duration "
       "--mask brain.nii.gz",
       "MADAM with a reference TAC from a TSV, duration weights and a given mask."},
      {"petpipe srtm --pet pet.nii.gz --ref-mask ref.nii.gz --out out --theta3-min 0.05 --theta3-max 1 --basis 100",
       "Any tracer with an explicit theta3 range (including lambda)."}};
  c.references = {
      "Gunn RN, Lammertsma AA, Hume SP, Cunningham VJ. Parametric imaging of ligand-receptor binding in PET "
      "using a simplified reference region model. NeuroImage 1997;6:279-287.",
      "Lammertsma AA, Hume SP. Simplified reference tissue model for PET receptor studies. NeuroImage "
      "1996;4:153-158.",
      "Karjalainen T et al. Magia: robust automated image processing and kinetic modeling toolbox for PET "
      "neuroinformatics. Front Neuroinform 2020;14:3."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("pet", po::value<std::string>(), "dynamic PET image (its _pet.json beside it)")
        ("ref-mask", po::value<std::string>(), "reference-region mask on the PET grid")
        ("ref-tac", po::value<std::string>(), "reference TAC TSV (frame_start, frame_end, one value column)")
        ("out,o", po::value<std::string>(), "output directory")
        ("tracer", po::value<std::string>(),
         "tracer whose preset gives the theta3 range when --theta3-min/--theta3-max are not given "
         "(default: the sidecar's TracerName)")
        ("mask", po::value<std::string>(), "fit mask on the PET grid (default: from the mean image)");
    pipeline::srtm_table().add_options(d);
  };
  c.run = [](const po::variables_map& vm) {
    pipeline::run_srtm(request_from(vm));
    return 0;
  };
  return c;
}

PETPIPE_REGISTER_COMMAND(srtm_command, 40)

}  // namespace petpipe::cli
