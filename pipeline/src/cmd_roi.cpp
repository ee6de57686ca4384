// petpipe roi: regional statistics of 3D maps, regional TACs of 4D PET, and the group long table.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

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
#include "petpipe/roi/extract.hpp"

namespace petpipe::cli {

namespace {

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

std::vector<std::string> split_names(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::stringstream ss(a);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

nlohmann::json regions_json(const roi::Atlas& atlas, const roi::RoiSet& rois) {
  nlohmann::json a = nlohmann::json::array();
  for (std::size_t r = 0; r < rois.size(); ++r) {
    const roi::Region& reg = atlas.region(rois.names[r]);
    nlohmann::json j{{"Name", reg.name}, {"Labels", reg.label_names}, {"GridVoxels", rois.voxels[r].size()}};
    if (r < rois.weights.size() && !rois.weights[r].empty()) {
      double w = 0.0;
      for (float x : rois.weights[r]) w += x;
      j["WeightedVoxels"] = w;  // sum of the partial-volume weights
    }
    if (!reg.description.empty()) j["Description"] = reg.description;
    if (!rois.notes[r].empty()) j["Note"] = rois.notes[r];
    a.push_back(j);
  }
  return a;
}

pipeline::RoiRequest request_from(const po::variables_map& vm) {
  if (!vm.count("in")) throw Error("no --in FILE given (a 3D map, a 4D PET image, or several maps)");
  if (!vm.count("out")) throw Error("no --out FILE.tsv given");
  pipeline::RoiRequest r;
  for (const auto& i : vm["in"].as<std::vector<std::string>>()) r.in.emplace_back(i);
  r.out = vm["out"].as<std::string>();
  r.force = vm.count("force") > 0;
  r.stat = vm["stat"].as<std::string>();
  if (vm.count("participants")) r.participants = vm["participants"].as<std::string>();
  r.group = vm.count("group") > 0;
  if (vm.count("labels")) r.labels = vm["labels"].as<std::string>();
  r.fractional = vm.count("fractional") > 0;
  r.params = pipeline::roi_table().from_vm(vm);
  return r;
}

}  // namespace
}  // namespace petpipe::cli

namespace petpipe::pipeline {

std::vector<std::string> request_args(const RoiRequest& r) {
  std::vector<std::string> a{"roi", "--in"};
  for (const auto& i : r.in) a.push_back(i.string());
  a.insert(a.end(), {"--out", r.out.string()});
  if (!r.labels.empty()) a.insert(a.end(), {"--labels", r.labels.string()});
  if (r.fractional) a.push_back("--fractional");
  if (!r.participants.empty()) a.insert(a.end(), {"--participants", r.participants.string()});
  if (r.group) a.push_back("--group");
  if (r.stat != "mean") a.insert(a.end(), {"--stat", r.stat});
  if (r.force) a.push_back("--force");
  const auto t = roi_table().to_args(r.params);
  a.insert(a.end(), t.begin(), t.end());
  return a;
}

void run_roi(const RoiRequest& request) {
  using namespace petpipe::cli;
  const std::vector<fs::path>& inputs = request.in;
  if (inputs.empty()) throw Error("no --in FILE given (a 3D map, a 4D PET image, or several maps)");
  const fs::path& out = request.out;
  const bool force = request.force;
  RoiParams params = request.params;
  params.regions = split_names(params.regions);
  const std::string atlas_name = params.atlas;
  const std::string& stat_name = request.stat;
  if (stat_name != "mean" && stat_name != "median")
    throw make_error("--stat ", stat_name, ": expected mean or median");
  const roi::Statistic statistic = stat_name == "mean" ? roi::Statistic::mean : roi::Statistic::median;
  std::optional<fs::path> participants_path;
  if (!request.participants.empty()) participants_path = request.participants;
  const bool group = inputs.size() > 1 || participants_path || request.group;

  if (!ends_with(out.filename().string(), ".tsv")) throw make_error(out.string(), ": --out must be a .tsv file");
  const fs::path out_json = layout::table_sidecar(out);
  std::error_code ec;
  for (const auto& p : {out, out_json})
    if (fs::exists(p, ec) && !force) throw make_error(p.string(), ": exists (use --force to overwrite)");
  for (const auto& in : inputs)
    if (!fs::exists(in, ec)) throw make_error(in.string(), ": input image not found");

  roi::RoiOptions options;
  options.regions = params.regions;
  const roi::Atlas atlas = roi::load_atlas(atlas_name);
  fs::path labels_path = atlas.labels_image;
  if (!request.labels.empty()) {
    labels_path = request.labels;
    options.space = roi::LabelSpace::native;
  }
  options.fractional = request.fractional;
  const LabelImage labels = with_context(labels_path.string(), [&] { return read_labels(labels_path); });
  const std::string space_name = options.space == roi::LabelSpace::atlas ? atlas.space : "native (" + labels_path.string() + ")";
  const std::string resampling =
      options.fractional ? "fractional: each image voxel weighted by the volume fraction its label voxels cover"
                         : "nearest neighbour on physical coordinates";

  std::optional<Participants> participants;
  if (participants_path) participants = read_participants(*participants_path);

  Provenance prov;
  prov.inputs = inputs;
  prov.inputs.push_back(labels_path);
  prov.inputs.push_back(atlas.definition_file);
  if (participants_path) prov.inputs.push_back(*participants_path);
  prov.configuration = {{"roi",
                         {{"atlas", atlas.name},
                          {"label_space", options.space == roi::LabelSpace::atlas ? "atlas" : "native"},
                          {"label_resampling", resampling},
                          {"regions", options.regions},
                          {"statistic", stat_name}}}};
  nlohmann::json sidecar = nlohmann::json::object();
  sidecar["Atlas"] = atlas.name;
  sidecar["Space"] = space_name;
  sidecar["LabelResampling"] = resampling;

  auto rois_for = [&](const fs::path& in, const Geometry& g, std::optional<roi::RoiSet>& cache) -> const roi::RoiSet& {
    if (!cache || !cache->geom.same_grid(g))
      cache = with_context(in.string() + " with labels " + labels_path.string(),
                           [&] { return roi::make_rois(atlas, labels, g, options); });
    return *cache;
  };
  std::optional<roi::RoiSet> cache;

  if (!group) {
    const fs::path& in = inputs.front();
    const ImageInfo info = read_image_info(in);
    if (info.dimension == 4 && info.size[3] > 1) {
      const DynamicImage pet = read_dynamic(in, ReadDynamicOptions{{}, true});
      const roi::RoiSet& rois = rois_for(in, pet.geom, cache);
      const roi::RegionalTacs tacs = roi::regional_tacs(pet, rois);
      if (!ends_with(out.filename().string(), "_tacs.tsv"))
        log::warn(out.filename().string(), ": regional TACs are conventionally named *_tacs.tsv");
      nlohmann::json cols{{"frame_start", {{"Description", "frame start after injection"}, {"Units", "s"}}},
                          {"frame_end", {{"Description", "frame end after injection"}, {"Units", "s"}}}};
      for (std::size_t r = 0; r < rois.size(); ++r)
        cols[rois.names[r]] = {{"Description", options.fractional ? "mean activity of the finite ROI voxels, "
                                                                    "weighted by their volume fractions"
                                                                  : "mean activity of the finite ROI voxels"},
                               {"Units", pet.frames.units},
                               {"Voxels", tacs.voxels[r]},
                               {"NaNVoxelFrames", tacs.nan_voxels[r]}};
      sidecar["Columns"] = cols;
      sidecar["Regions"] = regions_json(atlas, rois);
      sidecar["TracerName"] = pet.frames.tracer;
      prov.inputs.push_back(sidecar_path(in));
      write_tsv(out, roi::tacs_table(tacs));
      log::info("wrote regional TACs of ", rois.size(), " ROIs x ", pet.frame_count(), " frames to ", out.string());
    } else {
      const Image3D map = read_image(in);
      const roi::RoiSet& rois = rois_for(in, map.geom, cache);
      const auto stats = roi::region_statistics(map, rois);
      std::size_t nan_total = 0;
      for (const auto& s : stats) nan_total += s.nan_voxels;
      if (nan_total) log::info(in.filename().string(), ": ", nan_total, " NaN ROI voxels excluded (column nan_voxels)");
      sidecar["Columns"] = {
          {"roi", "region name (atlases/" + atlas.name + ".json)"},
          {"voxels", "finite map voxels in the ROI (those the statistics use)"},
          {"nan_voxels", "ROI voxels excluded because the map is NaN there"},
          {"volume_mm3", {{"Description", options.fractional ? "sum of the voxel weights x voxel volume"
                                                             : "voxels x voxel volume"}, {"Units", "mm3"}}},
          {"volume_ml", {{"Description", options.fractional ? "sum of the voxel weights x voxel volume"
                                                            : "voxels x voxel volume"}, {"Units", "mL"}}},
          {"mean", options.fractional ? "weighted mean of the map over the ROI (units of the map)"
                                      : "mean of the map over the ROI (units of the map)"},
          {"median", options.fractional ? "weighted median of the map over the ROI" : "median of the map over the ROI"},
          {"sd", options.fractional ? "standard deviation with reliability weights of the map over the ROI"
                                    : "sample standard deviation (n - 1) of the map over the ROI"}};
      sidecar["Regions"] = regions_json(atlas, rois);
      write_tsv(out, roi::statistics_table(stats));
      log::info("wrote statistics of ", rois.size(), " ROIs to ", out.string());
    }
  } else {
    std::vector<roi::SubjectStats> subjects;
    for (const auto& in : inputs) {
      const auto name = bids::parse_name(in.filename().string());
      const auto sub = name ? name->get("sub") : std::nullopt;
      if (!sub)
        throw make_error(in.string(), ": no sub-<label> in the file name; the group table takes the "
                                      "participant from it");
      const ImageInfo info = read_image_info(in);
      if (info.dimension == 4 && info.size[3] > 1)
        throw make_error(in.string(), ": a 4D image; the group table takes 3D maps");
      const Image3D map = read_image(in);
      const roi::RoiSet& rois = rois_for(in, map.geom, cache);
      subjects.push_back({"sub-" + *sub, roi::region_statistics(map, rois)});
    }
    sidecar["Columns"] = {{"participant_id", "participant, from the sub- entity of the map's file name"},
                          {"roi", "region name (atlases/" + atlas.name + ".json)"},
                          {"value", stat_name + " of the map over the ROI's finite voxels (n/a when none)"},
                          {"voxels", "finite map voxels in the ROI"},
                          {"nan_voxels", "ROI voxels excluded because the map is NaN there"}};
    if (participants) sidecar["ParticipantColumns"] = participants->column_order;
    if (cache) sidecar["Regions"] = regions_json(atlas, *cache);
    write_tsv(out, roi::group_long_table(subjects, statistic, participants ? &*participants : nullptr));
    log::info("wrote the long table of ", subjects.size(), " maps to ", out.string());
  }
  sidecar.update(prov.to_json());
  write_json(out_json, sidecar);
}

}  // namespace petpipe::pipeline

namespace petpipe::cli {


Command roi_command() {
  Command c;
  c.name = "roi";
  c.synopsis = "ROI statistics of maps, regional TACs of PET, and the group long table (AAL)";
  c.description =
      "Extracts atlas ROIs (atlases/<atlas>.json over the AAL labels) from images.\n\n"
      "One 3D map (BPND, R1, k2, ...) gives a table with one row per ROI: roi, voxels, nan_voxels, "
      "volume_mm3, volume_ml, mean, median, sd (sample SD). One 4D PET image (with its _pet.json) gives "
      "regional time-activity curves: frame_start, frame_end (s) and one column per ROI (mean of the ROI "
      "voxels per frame, kBq/mL); name the output *_tacs.tsv. Several maps, or --participants, or --group "
      "give the group long table: participant_id (from the sub- entity of each file name), roi, value "
      "(--stat mean or median), voxels, nan_voxels, then every column of participants.tsv (group, age, "
      "sex, ...), ready for petpipe glm --roi-table.\n\n"
      "Space: by default the image is in the atlas' MNI space and the AAL labels (1 mm) are brought onto "
      "the image grid by nearest neighbour on physical coordinates (on the MNI 2 mm grid every voxel "
      "centre is an AAL voxel centre, so this is exact sampling). With --labels FILE the labels are a "
      "native-space label image with AAL values (e.g. from petpipe normalize), resampled the same way "
      "when its grid differs; ROIs cut by MNI coordinate limits (ventral_striatum, dorsal_caudate) cannot "
      "be formed there and are n/a. An image that does not overlap the labels is an error.\n\n"
      "--fractional takes labels on a grid finer than the image (e.g. the _desc-subvoxel_dseg of petpipe "
      "normalize, the PET grid divided 2 or 3 times per axis) and weights every image voxel by the volume "
      "fraction of it covered by the ROI's labels: means become weighted means, volumes the sum of the "
      "weights. Binary ROIs change by whole voxels when the head sits differently on the grid (another "
      "realignment reference pose); fractional ones change smoothly.\n\n"
      "NaN voxels of the map are excluded and counted (nan_voxels). An ROI with no usable voxel is "
      "written n/a with a warning, never 0. Every table gets a JSON sidecar with the provenance, the "
      "column descriptions and the regions' labels and voxel counts.";
  c.examples = {
      {"petpipe roi --in sub-01_space-MNI_desc-sm8_meas-BPND_mimap.nii.gz --out sub-01_seg-AAL_roistats.tsv",
       "Mean, median, SD and volume of every AAL ROI of a BPND map in MNI space."},
      {"petpipe roi --in sub-01_pet.nii.gz --labels sub-01_space-pet_seg-AAL_dseg.nii.gz "
       "--rois amygdala thalamus occipital --out sub-01_seg-AAL_tacs.tsv",
       "Regional TACs in native PET space from labels brought in by petpipe normalize."},
      {"petpipe roi --in sub-01_desc-mc_pet.nii.gz --labels sub-01_seg-AAL_desc-subvoxel_dseg.nii.gz "
       "--fractional --out sub-01_seg-AAL_tacs.tsv",
       "The same with partial-volume (fractional) ROI weights from the sub-voxel labels."},
      {"petpipe roi --in derivatives/sub-*/sub-*_desc-sm8_meas-BPND_mimap.nii.gz --participants "
       "participants.tsv --rois amygdala,caudate,putamen --out group_roi_long.tsv",
       "The group long table with group and covariates, for petpipe glm --roi-table."}};
  c.references = {
      "Tzourio-Mazoyer N et al. Automated anatomical labeling of activations in SPM using a macroscopic "
      "anatomical parcellation of the MNI MRI single-subject brain. NeuroImage 2002;15:273-289."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("in,i", po::value<std::vector<std::string>>()->multitoken(),
                    "input image(s): a 3D map, a 4D PET image, or several 3D maps")
        ("out,o", po::value<std::string>(), "output table (.tsv); a .json sidecar is written beside it")
        ("labels", po::value<std::string>(), "native-space label image (atlas label values) in the image's space")
        ("fractional", "weight image voxels by the volume fraction their (finer) labels cover")
        ("participants", po::value<std::string>(), "participants.tsv: adds its columns to the group long table")
        ("group", "write the group long table even for a single map")
        ("stat", po::value<std::string>()->default_value("mean"), "value of the long table: mean or median");
    pipeline::roi_table().add_options(d);
  };
  c.run = [](const po::variables_map& vm) {
    pipeline::run_roi(request_from(vm));
    return 0;
  };
  return c;
}

PETPIPE_REGISTER_COMMAND(roi_command, 70)

}  // namespace petpipe::cli
