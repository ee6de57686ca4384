// petpipe run: the whole per-subject pipeline on a PET-BIDS dataset.
#include <iostream>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/runner.hpp"
#include "petpipe/pipeline/stage_params.hpp"

namespace petpipe::cli {

namespace {

// The configuration file (if any) with the run-level options of the command line on top.
nlohmann::json user_configuration(const po::variables_map& vm, std::string& source) {
  nlohmann::json user;
  source = "defaults";
  if (vm.count("config")) {
    source = vm["config"].as<std::string>();
    user = pipeline::read_config(source);
  }
  for (const params::Table* t : {static_cast<const params::Table*>(&pipeline::regional_table()),
                                 static_cast<const params::Table*>(&pipeline::report_table()),
                                 static_cast<const params::Table*>(&pipeline::reference_source_table())}) {
    const nlohmann::json given = t->overrides(vm);
    if (given.empty()) continue;
    if (user.is_null()) user = nlohmann::json::object();
    user[t->section()].update(given);
    if (source == "defaults") source = "command line";
  }
  return user;
}

int run_run(const po::variables_map& vm) {
  std::string source;
  const nlohmann::json user = user_configuration(vm, source);
  if (vm.count("print-config")) {
    std::cout << pipeline::effective_config(vm["print-config"].as<std::string>(), user, source).dump(2) << "\n";
    return 0;
  }
  if (!vm.count("bids")) throw Error("--bids DIR is required (a PET-BIDS dataset)");
  if (!vm.count("out")) throw Error("--out DIR is required (the derivatives folder)");
  pipeline::RunOptions o;
  o.bids = vm["bids"].as<std::string>();
  o.out = vm["out"].as<std::string>();
  o.user_config = user;
  o.config_source = source;
  if (vm.count("participant-label")) o.participants = vm["participant-label"].as<std::vector<std::string>>();
  o.force = vm.count("force") > 0;
  std::error_code ec;
  if (std::filesystem::exists(o.out, ec) && !std::filesystem::is_directory(o.out, ec))
    throw make_error(o.out.string(), ": --out must be a directory");
  const std::size_t failed = pipeline::run_cohort(o);
  log::info("run summary: ", (o.out / "run_summary.tsv").string());
  if (failed) {
    log::error(failed, " scan(s) failed; see ", (o.out / "run_summary.tsv").string());
    return 1;
  }
  return 0;
}

}  // namespace

Command run_command() {
  Command c;
  c.name = "run";
  c.synopsis = "the whole per-subject pipeline on a PET-BIDS dataset (resumable)";
  c.description =
      "Finds every PET scan of the dataset (tracer from the trc- entity or the sidecar's TracerName) and "
      "runs, per scan: frame realignment (petpipe realign), PET->T1 coregistration and T1->MNI "
      "normalisation with the reference region placed in PET space (petpipe normalize), the reference TAC "
      "and voxelwise SRTM by the basis-function method (petpipe srtm), warping of BPND to MNI space "
      "(petpipe normalize --apply), Gaussian smoothing (petpipe smooth), AAL ROI statistics and regional "
      "TACs (petpipe roi), regional SRTM fits, the subject HDF5 file and the QC report.\n\n"
      "Every stage is a petpipe subcommand run in-process; its command line, the SHA-256 of its inputs and "
      "outputs and its parameters are recorded under sub-XX/.petpipe/. A rerun skips stages whose inputs, "
      "parameters and outputs are unchanged and redoes the rest, so an interrupted run (even by SIGKILL) "
      "resumes where it stopped; --force redoes everything. A failing subject is recorded in its "
      "_status.json and in run_summary.tsv and never stops the others; the exit status is 1 when any "
      "scan failed.\n\n"
      "The configuration (--config, JSON) has one section per stage, whose keys are the options of the "
      "stage's command (`petpipe run --print-config TRACER` prints every key with its value; each "
      "command's --help names the key of each option). The effective configuration of a scan is the "
      "defaults, then the tracer's preset (tracers/<name>.json: reference region, theta3 range, regions), "
      "then --config, then the options below. A tracer without a preset runs when the configuration gives "
      "the reference region (reference.region, reference.mni_mask or reference.subject_mask) and "
      "srtm.theta3_min_per_min and srtm.theta3_max_per_min. The configuration of every selected scan is "
      "checked (unknown key, type, range, choice) before any scan is processed. The effective "
      "configuration is written beside each subject's outputs.";
  c.examples = {
      {"petpipe run --bids /data/bids --out /data/derivatives/petpipe",
       "Every subject with the tracer presets."},
      {"petpipe run --bids bids --out deriv --config examples/carfentanil.json --participant-label 01 02",
       "Two subjects with an explicit configuration."},
      {"petpipe run --print-config madam > my_madam.json",
       "Every key of the configuration with its default for a tracer, as a starting point."}};
  c.references = {
      "Gunn RN, Lammertsma AA, Hume SP, Cunningham VJ. Parametric imaging of ligand-receptor binding in PET "
      "using a simplified reference region model. NeuroImage 1997;6:279-287.",
      "Turtonen O et al. Adult attachment system links with brain mu opioid receptor availability in vivo. "
      "Biol Psychiatry Cogn Neurosci Neuroimaging 2021;6:360-369.",
      "Karjalainen T et al. Magia: robust automated image processing and kinetic modeling toolbox for PET "
      "neuroinformatics. Front Neuroinform 2020;14:3."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("bids", po::value<std::string>(), "PET-BIDS dataset directory")
        ("out", po::value<std::string>(), "derivatives directory")
        ("config", po::value<std::string>(), "configuration JSON (default: tracer presets)")
        ("participant-label", po::value<std::vector<std::string>>()->multitoken(),
         "subjects to run (01 or sub-01); default all")
        ("print-config", po::value<std::string>(), "print the effective configuration for a tracer and exit");
    pipeline::regional_table().add_options(d);
    pipeline::report_table().add_options(d);
    pipeline::reference_source_table().add_options(d);
  };
  c.run = run_run;
  return c;
}

PETPIPE_REGISTER_COMMAND(run_command, 80)

}  // namespace petpipe::cli
