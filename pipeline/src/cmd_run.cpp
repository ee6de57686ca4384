// petpipe run: the whole per-subject pipeline on a PET-BIDS dataset.
#include <iostream>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/runner.hpp"

namespace petpipe::cli {

namespace {

int run_run(const po::variables_map& vm) {
  if (vm.count("print-config")) {
    nlohmann::json user;
    std::string source = "defaults";
    if (vm.count("config")) {
      source = vm["config"].as<std::string>();
      user = pipeline::read_config(source);
    }
    std::cout << pipeline::effective_config(vm["print-config"].as<std::string>(), user, source).dump(2) << "\n";
    return 0;
  }
  if (!vm.count("bids")) throw Error("--bids DIR is required (a PET-BIDS dataset)");
  if (!vm.count("out")) throw Error("--out DIR is required (the derivatives folder)");
  pipeline::RunOptions o;
  o.bids = vm["bids"].as<std::string>();
  o.out = vm["out"].as<std::string>();
  if (vm.count("config")) {
    const std::string path = vm["config"].as<std::string>();
    o.user_config = pipeline::read_config(path);
    o.config_source = path;
    // Validate the keys now, before any subject runs.
    pipeline::merge_config(pipeline::default_config(), o.user_config, path);
  }
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
      "The configuration (--config, JSON) has one section per stage; unknown keys are errors. Without it "
      "the tracer presets apply (examples/carfentanil.json and examples/madam.json show every key). The "
      "effective configuration is written beside each subject's outputs.";
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
  };
  c.run = run_run;
  return c;
}

PETPIPE_REGISTER_COMMAND(run_command, 80)

}  // namespace petpipe::cli
