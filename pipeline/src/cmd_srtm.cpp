// petpipe srtm: voxelwise SRTM by the basis-function method; BPND, R1, k2, k2a, RSS maps.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/kinetics/reference.hpp"
#include "petpipe/kinetics/srtm_bfm.hpp"
#include "petpipe/pipeline/command.hpp"

namespace petpipe::cli {

namespace {

struct Preset {
  double theta3_min, theta3_max;
};

// Magia's theta3 ranges; they include the decay constant (Magia fits decay-uncorrected data).
bool tracer_preset(const std::string& tracer, Preset& p) {
  std::string t;
  for (char c : tracer) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t.find("carfentanil") != std::string::npos) {
    p = {0.06, 0.6};
    return true;
  }
  if (t.find("madam") != std::string::npos) {
    p = {0.045, 0.6};
    return true;
  }
  return false;
}

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

int run_srtm(const po::variables_map& vm) {
  using namespace kinetics;
  if (!vm.count("pet")) throw Error("no --pet FILE given (dynamic PET with its _pet.json)");
  if (!vm.count("out")) throw Error("no --out DIR given");
  if (vm.count("ref-mask") == vm.count("ref-tac"))
    throw Error("give exactly one of --ref-mask FILE and --ref-tac TSV");
  const fs::path pet_path = vm["pet"].as<std::string>();
  const fs::path out_dir = vm["out"].as<std::string>();
  const bool force = vm.count("force") > 0;
  std::error_code ec;
  if (!fs::exists(pet_path, ec)) throw make_error(pet_path.string(), ": PET image not found");
  const fs::path ref_path = vm.count("ref-mask") ? vm["ref-mask"].as<std::string>() : vm["ref-tac"].as<std::string>();
  if (!fs::exists(ref_path, ec)) throw make_error(ref_path.string(), ": not found");
  fs::path mask_path;
  if (vm.count("mask")) {
    mask_path = vm["mask"].as<std::string>();
    if (!fs::exists(mask_path, ec)) throw make_error(mask_path.string(), ": mask not found");
  }
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw make_error(out_dir.string(), ": --out exists and is not a directory");
  const WeightScheme scheme = parse_weight_scheme(vm["weights"].as<std::string>());
  const std::size_t n_basis = vm["basis"].as<std::size_t>();
  if (n_basis < 2 || n_basis > 100000) throw make_error("--basis ", n_basis, ": must be 2..100000");
  const double mask_threshold = vm["mask-threshold"].as<double>();
  if (!(mask_threshold > 0.0 && mask_threshold < 1.0))
    throw make_error("--mask-threshold ", mask_threshold, ": must be in (0, 1)");

  // PET and its frame table.
  DynamicImage pet = read_dynamic(pet_path);
  const FrameTable& frames = pet.frames;

  // theta3 grid: tracer preset (from --tracer or the sidecar's TracerName) unless both limits are given.
  std::string tracer = vm.count("tracer") ? vm["tracer"].as<std::string>() : frames.tracer;
  Preset preset{0, 0};
  const bool have_preset = tracer_preset(tracer, preset);
  if (vm.count("tracer") && !have_preset)
    throw make_error("--tracer ", tracer, ": no preset (carfentanil, madam); give --theta3-min and --theta3-max");
  double th_min = vm.count("theta3-min") ? vm["theta3-min"].as<double>() : preset.theta3_min;
  double th_max = vm.count("theta3-max") ? vm["theta3-max"].as<double>() : preset.theta3_max;
  if (!have_preset && (!vm.count("theta3-min") || !vm.count("theta3-max")))
    throw make_error(pet_path.string(), ": tracer \"", tracer,
                     "\" has no preset; give --tracer carfentanil|madam or --theta3-min and --theta3-max");
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
  if (vm.count("ref-mask")) {
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
  o.subgrid_refinement = vm.count("no-refine") == 0;
  o.theta3 = grid;
  if (frames.decay_corrected) {
    for (double& x : o.theta3) x -= lambda;
    o.decay_constant_per_min = 0.0;
  } else {
    o.decay_constant_per_min = lambda;
  }

  // Output names, refused before any work is written.
  bids::Name src;
  std::string prefix;
  if (auto n = bids::parse_name(pet_path.filename().string())) {
    src = *n;
    if (!src.get("trc") && have_preset) src.set("trc", vm.count("tracer") ? tracer : frames.tracer);
  } else {
    prefix = strip_image_extension(pet_path.filename().string()) + "_";
    log::warn(pet_path.filename().string(), ": not a BIDS name; outputs are prefixed with ", prefix);
  }
  auto name = [&](const std::vector<std::pair<std::string, std::string>>& e, const std::string& suffix,
                  const std::string& ext) { return out_dir / (prefix + bids::derivative_name(src, e, suffix, ext)); };
  struct Out {
    std::string meas;
    const Image3D* image;
    std::string units, description;
  };
  const fs::path edge_path = name({{"model", "SRTM"}, {"desc", "gridedge"}}, "mask", ".nii.gz");
  const fs::path fitmask_path = name({{"model", "SRTM"}, {"desc", "fit"}}, "mask", ".nii.gz");
  const fs::path tac_path = name({{"desc", "reference"}}, "tacs", ".tsv");
  std::vector<fs::path> all{edge_path, fitmask_path, tac_path};
  for (const char* m : {"BPND", "R1", "k2", "k2a", "RSS", "theta3index"})
    all.push_back(name({{"model", "SRTM"}, {"meas", m}}, "mimap", ".nii.gz"));
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
                        {"theta3_spacing", "logarithmic"},
                        {"subgrid_refinement", o.subgrid_refinement},
                        {"weights", to_string(scheme)},
                        {"frame_weights", o.weights},
                        {"reference", vm.count("ref-mask") ? "mask" : "tsv"},
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
    const fs::path p = name({{"model", "SRTM"}, {"meas", out.meas}}, "mimap", ".nii.gz");
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
  return 0;
}

}  // namespace

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
      "decay-uncorrected data (carfentanil 0.06-0.6 /min, MADAM 0.045-0.6 /min). petpipe fits the data in "
      "the state the sidecar declares: decay-corrected data with exponents theta3 - lambda, uncorrected "
      "data with theta3; k2a = theta3 - lambda either way, so both give the same maps.\n\n"
      "Weights: counts (default; w = duration / decay-uncorrected mean brain activity, i.e. inverse "
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
        ("tracer", po::value<std::string>(), "theta3 preset: carfentanil or madam (default: the sidecar's TracerName)")
        ("mask", po::value<std::string>(), "fit mask on the PET grid (default: from the mean image)")
        ("mask-threshold", po::value<double>()->default_value(0.1, "0.1"),
         "brain mask threshold, fraction of the robust maximum of the mean image")
        ("weights", po::value<std::string>()->default_value("counts"), "frame weights: uniform, duration or counts")
        ("theta3-min", po::value<double>(), "smallest theta3, 1/min, including lambda")
        ("theta3-max", po::value<double>(), "largest theta3, 1/min, including lambda")
        ("basis", po::value<std::size_t>()->default_value(300), "number of basis functions")
        ("no-refine", "classic BFM: parameters of the best grid basis, no sub-grid refinement");
  };
  c.run = run_srtm;
  return c;
}

PETPIPE_REGISTER_COMMAND(srtm_command, 40)

}  // namespace petpipe::cli
