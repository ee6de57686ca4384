// petpipe group: group statistics over the subjects of a petpipe run.
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/group.hpp"
#include "petpipe/pipeline/stage_params.hpp"

namespace petpipe::cli {

namespace {
int run_group_command(const po::variables_map& vm) {
  if (!vm.count("derivatives")) throw Error("--derivatives DIR is required (the --out of petpipe run)");
  pipeline::GroupOptions o;
  o.derivatives = vm["derivatives"].as<std::string>();
  if (vm.count("participants")) o.participants = vm["participants"].as<std::string>();
  if (vm.count("config")) {
    o.config_source = vm["config"].as<std::string>();
    o.user_config = pipeline::read_config(o.config_source);
  }
  const nlohmann::json given = pipeline::group_table().overrides(vm);
  if (!given.empty()) {
    if (o.user_config.is_null()) o.user_config = nlohmann::json::object();
    o.user_config["group"].update(given);
    o.config_source += " and the command line";
  }
  if (vm.count("tracer")) o.tracer = vm["tracer"].as<std::string>();
  o.allow_missing = vm.count("allow-missing") > 0;
  const auto res = pipeline::run_group(o);
  log::info("group: ", res.included.size(), " subjects analysed; results in ", res.dir.string());
  return 0;
}
}  // namespace

Command group_command() {
  Command c;
  c.name = "group";
  c.synopsis = "group statistics (voxelwise GLM, ROI statistics) over a cohort processed by petpipe run";
  c.description =
      "Reads the status files of a petpipe run, stacks the smoothed MNI maps of the complete subjects and runs "
      "the voxelwise GLM with FDR and cluster inference (petpipe glm --maps-list), the group ROI table "
      "(petpipe roi) and the ROI statistics (petpipe glm --roi-table), with the design, contrasts and "
      "thresholds of the configuration's \"group\" section. Results go to DIR/group/, with "
      "group_summary.json listing the subjects used, those missing and the exact commands run.\n\n"
      "Participants listed in participants.tsv (by default the copy petpipe run made in DIR) whose scan is "
      "missing or failed stop the analysis with a list of them, unless --allow-missing is given.";
  c.examples = {{"petpipe group --derivatives deriv --config study.json",
                 "Group statistics with the study's design and contrasts."},
                {"petpipe group --derivatives deriv --config study.json --allow-missing",
                 "The same on the complete subjects when some failed."}};
  c.references = {
      "Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B 1995;57:289-300.",
      "Friston KJ et al. Statistical Parametric Mapping. Academic Press 2007."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("derivatives", po::value<std::string>(), "the --out directory of petpipe run")
        ("config", po::value<std::string>(), "configuration JSON (its \"group\" section)")
        ("participants", po::value<std::string>(), "participants table (default: DIR/participants.tsv)")
        ("tracer", po::value<std::string>(), "tracer to analyse when the run holds several")
        ("allow-missing", "analyse the complete subjects even when others are missing or failed");
    pipeline::group_table().add_options(d);
  };
  c.run = run_group_command;
  return c;
}

PETPIPE_REGISTER_COMMAND(group_command, 81)

}  // namespace petpipe::cli
