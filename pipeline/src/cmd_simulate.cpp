// petpipe simulate: synthetic PET-BIDS cohorts with known truth (modules/phantom).
#include <chrono>
#include <set>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/progress.hpp"
#include "petpipe/phantom/dataset.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::cli {

namespace {

namespace ph = petpipe::phantom;

ph::SimulationConfig effective_config(const po::variables_map& vm) {
  ph::SimulationConfig c;
  if (vm.count("config")) c = ph::read_simulation_config(vm["config"].as<std::string>());
  auto& o = c.options;
  if (vm.count("tracer")) c.cohort.tracer = vm["tracer"].as<std::string>();
  if (vm.count("seed")) c.cohort.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("voxel-size")) o.voxel_mm = vm["voxel-size"].as<double>();
  if (vm.count("t1-voxel-size")) o.t1_voxel_mm = vm["t1-voxel-size"].as<double>();
  if (vm.count("psf-fwhm")) o.psf_fwhm_mm = vm["psf-fwhm"].as<double>();
  if (vm.count("noise")) o.noise = vm["noise"].as<double>();
  if (vm.count("partial-volume")) o.partial_volume = true;
  if (vm.count("motion")) o.motion = true;
  if (vm.count("max-translation")) o.motion_options.max_translation_mm = vm["max-translation"].as<double>();
  if (vm.count("max-rotation")) o.motion_options.max_rotation_deg = vm["max-rotation"].as<double>();
  if (vm.count("motion-file")) {
    if (vm.count("max-translation") || vm.count("max-rotation"))
      throw Error("--motion-file prescribes the motion; it cannot be combined with --max-translation or --max-rotation");
    c.motion_file = vm["motion-file"].as<std::string>();
    o.motion = true;
    o.motion_table = ph::read_motion_table(c.motion_file);
  }
  if (vm.count("warp")) o.warp = true;
  if (vm.count("no-decay-correction")) o.decay_corrected = false;
  if (vm.count("no-t1")) o.make_t1 = false;
  if (vm.count("frames")) c.frame_durations_s = ph::parse_frame_schedule(vm["frames"].as<std::string>());
  if (vm.count("subjects")) {
    const int n = vm["subjects"].as<int>();
    if (n < 1) throw make_error("--subjects must be at least 1 (got ", n, ")");
    if (c.cohort.groups.size() > 1)
      throw Error("--subjects cannot be combined with a --config that defines several groups");
    c.cohort.groups.front().size = n;
  }
  ph::validate(c.cohort);
  return c;
}

int run_simulate(const po::variables_map& vm) {
  if (!vm.count("out")) throw Error("no --out DIR given");
  const fs::path out = vm["out"].as<std::string>();
  const auto t_start = std::chrono::steady_clock::now();

  // Everything is checked before anything is written.
  ph::SimulationConfig cfg = effective_config(vm);
  const ph::TracerPreset& preset = ph::tracer_preset(cfg.cohort.tracer);
  cfg.cohort.tracer = preset.name;
  const FrameTable frames =
      ph::make_frame_table(preset, cfg.frame_durations_s.empty() ? preset.frame_durations_s : cfg.frame_durations_s);
  if (!cfg.motion_file.empty() && cfg.options.motion_table.size() != frames.size())
    throw make_error(cfg.motion_file.string(), ": motion table has ", cfg.options.motion_table.size(),
                     " rows but the frame schedule has ", frames.size(), " frames");
  ph::validate_options(cfg.options, frames);
  auto participants = ph::draw_participants(cfg.cohort);
  std::vector<ph::Participant> selected = participants;
  if (vm.count("participant-label")) {
    selected.clear();
    for (auto label : vm["participant-label"].as<std::vector<std::string>>()) {
      if (label.rfind("sub-", 0) == 0) label = label.substr(4);
      bool found = false;
      for (const auto& p : participants)
        if (p.id == label || (std::all_of(label.begin(), label.end(), ::isdigit) && !label.empty() &&
                              std::stoul(label) == p.index + 1)) {
          selected.push_back(p);
          found = true;
          break;
        }
      if (!found) throw make_error("--participant-label ", label, ": no such participant in a cohort of ",
                                   participants.size());
    }
  }
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) throw make_error(out.string(), ": exists and is not a directory");
    const bool empty = fs::directory_iterator(out, ec) == fs::directory_iterator();
    if (!empty && !vm.count("force") && !vm.count("participant-label"))
      throw make_error(out.string(), ": directory is not empty (use --force to write into it)");
  }

  const roi::Atlas atlas = roi::load_atlas("aal");
  const auto ref_labels = ph::reference_labels(preset, atlas);
  log::info("simulate: loading AAL and the Colin27 templates");
  const LabelImage aal = read_labels(atlas.labels_image);
  ph::Anatomy anatomy = ph::build_anatomy(aal, atlas.label_names, read_image(atlas.templates.at("T1_brain")),
                                          cfg.options.make_t1 ? read_image(atlas.templates.at("T1")) : Image3D{});
  std::vector<ph::SubjectParameters> params;
  for (const auto& p : selected)
    params.push_back(ph::subject_parameters(cfg.cohort, p, preset, atlas, anatomy.class_names, ref_labels));
  const Geometry mni = ph::mni_grid(cfg.options.voxel_mm, aal.geom);
  const LabelImage mni_classes =
      ph::sample_classes(anatomy.classes, mni, ph::Deformation{}, ph::class_subsamples(cfg.options.voxel_mm));

  fs::create_directories(out);
  ph::write_dataset_files(out, cfg, participants, anatomy.class_names);
  Progress progress("simulate", selected.size());
  for (std::size_t i = 0; i < selected.size(); ++i) {
    with_context("sub-" + selected[i].id, [&] {
      const auto sim = ph::simulate_subject(anatomy, mni_classes, preset, ref_labels, frames, params[i], cfg.options);
      ph::write_subject(out, selected[i], preset, sim, cfg);
    });
    log::debug("simulate: sub-", selected[i].id, " written");
    progress.advance();
  }
  progress.done();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  log::info("simulate: ", selected.size(), " subject(s) of ", preset.name, " at ", cfg.options.voxel_mm, " mm in ",
            secs, " s -> ", out.string());
  return 0;
}

}  // namespace

Command simulate_command() {
  Command c;
  c.name = "simulate";
  c.synopsis = "synthetic dynamic PET cohorts (PET-BIDS) with known BPND, motion and anatomy";
  c.description =
      "Simulates dynamic PET of a cohort in MNI (Colin27) anatomy: AAL grey-matter regions plus white "
      "matter and CSF from the template intensities, resampled to --voxel-size. Regional R1, k2 and BPND "
      "come from the tracer preset (carfentanil: occipital reference; madam: cerebellar grey-matter "
      "reference), modified per subject by group effects, age effects and between-subject variability "
      "from --config. Tissue curves follow the SRTM operational equation, computed exactly (closed-form "
      "convolution of a parametric reference curve) and integrated over each frame. Then, in order: "
      "per-frame rigid motion of the head (--motion, or a prescribed table with --motion-file; a moved frame "
      "samples the moved anatomy), "
      "Gaussian PSF (--psf-fwhm), decay (--no-decay-correction) and "
      "Gaussian noise whose variance follows the counts, decay and frame duration (--noise; 0 = "
      "noiseless).\n\n"
      "With --warp each subject's native anatomy is a known affine plus smooth nonlinear deformation of "
      "MNI space, applied to the PET and to a synthetic T1 (the Colin27 template with noise and intensity "
      "non-uniformity).\n\n"
      "Output: a PET-BIDS dataset in --out (dataset_description.json, participants.tsv/json, "
      "sub-XX/pet/sub-XX_trc-<tracer>_pet.nii.gz + .json, sub-XX/anat/sub-XX_T1w.nii.gz) and the truth "
      "in --out/derivatives/truth (BPND/R1/k2 maps in native and MNI space, class labels, reference "
      "mask, motion table, transforms, regional truth table, true TACs and the noiseless reference TAC). "
      "Results are identical for the same seed and options, whatever the thread count; "
      "--participant-label regenerates single subjects of a cohort.";
  c.examples = {
      {"petpipe simulate --out sim --tracer carfentanil --subjects 4 --voxel-size 4 --noise 0.3 --motion",
       "Four noisy carfentanil subjects with head motion at 4 mm."},
      {"petpipe simulate --out cohort --config examples/carfentanil_cohort.json",
       "A two-group cohort with regional group effects, age effects and between-subject variability."},
      {"petpipe simulate --out replay --voxel-size 3 --partial-volume --psf-fwhm 5 --motion-file "
       "derivs/sub-01/pet/sub-01_trc-carfentanil_motion.tsv",
       "Replay a measured motion table (one row per frame) on the phantom."},
      {"petpipe simulate --out sim --tracer madam --warp --seed 7",
       "One MADAM subject in a warped native anatomy with its T1."},
      {"petpipe simulate --out cohort --config examples/carfentanil_cohort.json --participant-label 07",
       "Regenerate only sub-07 of that cohort (identical to the full run)."}};
  c.references = {
      "Lammertsma AA, Hume SP. Simplified reference tissue model for PET receptor studies. NeuroImage "
      "1996;4:153-158.",
      "Tzourio-Mazoyer N et al. Automated anatomical labeling of activations in SPM using a macroscopic "
      "anatomical parcellation of the MNI MRI single-subject brain. NeuroImage 2002;15:273-289.",
      "Holmes CJ et al. Enhancement of MR images using registration for signal averaging. J Comput Assist "
      "Tomogr 1998;22:324-333 (Colin27).",
      "Norgaard M et al. PET-BIDS, an extension to the brain imaging data structure for positron emission "
      "tomography. Sci Data 2022;9:65."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("out", po::value<std::string>(), "output directory (PET-BIDS dataset)")
        ("tracer", po::value<std::string>(), "carfentanil (default) or madam")
        ("subjects", po::value<int>(), "number of subjects (one group; default 1)")
        ("voxel-size", po::value<double>(), "PET voxel size in mm (default 2)")
        ("seed", po::value<std::uint64_t>(), "random seed (default 1)")
        ("noise", po::value<double>(), "noise level, 0 = noiseless (default 0)")
        ("motion", "per-frame rigid head motion (drift and jumps)")
        ("max-translation", po::value<double>(), "motion: largest translation per axis, mm (default 4)")
        ("max-rotation", po::value<double>(), "motion: largest rotation per axis, degrees (default 3)")
        ("motion-file", po::value<std::string>(),
         "prescribed motion instead of random: a TSV with tx ty tz (mm) rx ry rz (degrees), one row per "
         "frame, for every subject (e.g. a truth or realign motion table)")
        ("warp", "native anatomy = known affine + nonlinear deformation of MNI space")
        ("config", po::value<std::string>(), "JSON cohort configuration (groups, effects, options)")
        ("psf-fwhm", po::value<double>(), "Gaussian PSF FWHM in mm, 0 = none (default 2.5)")
        ("partial-volume", "each PET voxel averages its sub-voxel anatomy (every 0.5 mm) instead of taking "
                           "its majority class")
        ("frames", po::value<std::string>(), "frame schedule COUNTxSECONDS,... (default: the tracer's)")
        ("no-decay-correction", "store values not corrected for decay")
        ("t1-voxel-size", po::value<double>(), "synthetic T1 voxel size in mm (default 1)")
        ("no-t1", "do not write T1w images")
        ("participant-label", po::value<std::vector<std::string>>()->multitoken(),
         "only these participants of the cohort (e.g. 01 07)");
  };
  c.run = run_simulate;
  return c;
}

PETPIPE_REGISTER_COMMAND(simulate_command, 20)

}  // namespace petpipe::cli
