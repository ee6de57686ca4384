#pragma once
// Self-contained HTML QC reports (one file, images embedded as PNG data URIs, plots as inline SVG, no
// scripts, no external resources): one per subject and one for the group.
//
// Inputs are in-memory data; every member is optional. What is missing is shown on the page as "not
// available" with the reason given in `missing` (keyed by the item names below) or "not provided".
// A failed subject's report states its status, failed stage and error at the top.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/qc/checks.hpp"
#include "petpipe/qc/slices.hpp"

namespace petpipe::qc {

struct ReportOptions {
  QcThresholds thresholds;
  Convention convention = Convention::radiological;
  std::string title;                 // default: "sub-XX trc-T QC report" / "Group QC report"
  std::string generator = "petpipe"; // shown in the footer (e.g. "petpipe 0.1.0 (git abc123)")
  std::size_t max_tac_regions = 6;   // ROI TACs plotted besides the reference (the most and least bound)
  double bpnd_max = 0.0;             // top of the BPND colour scale; 0 = 99.5th percentile of the positive values
  int view_px = 230;                 // displayed size of the longest side of a slice view, px
};

// Item names used in SubjectReportInputs::missing / sources.
namespace item {
inline constexpr const char* status = "status";
inline constexpr const char* motion = "motion";
inline constexpr const char* tacs = "tacs";
inline constexpr const char* fitted_tacs = "fitted_tacs";
inline constexpr const char* roistats = "roistats";
inline constexpr const char* fits = "fits";
inline constexpr const char* theta3 = "theta3";
inline constexpr const char* bpnd_native = "bpnd_native";
inline constexpr const char* bpnd_mni = "bpnd_mni";
inline constexpr const char* atlas_native = "atlas_native";
inline constexpr const char* atlas_mni = "atlas_mni";
inline constexpr const char* mean_pet = "mean_pet";
inline constexpr const char* reference_mask = "reference_mask";
inline constexpr const char* t1 = "t1";
inline constexpr const char* t1_mni = "t1_mni";
inline constexpr const char* template_t1 = "template";
}  // namespace item

struct SubjectReportInputs {
  std::string subject;  // without "sub-"
  std::string session;
  std::string tracer;
  // Run status (status.json of the runner): "complete", "failed", or empty when unknown.
  std::string status;
  std::string error;
  std::string failed_stage;
  std::optional<double> duration_s;
  std::vector<std::pair<std::string, std::string>> stages;  // stage -> state, in order

  std::optional<Table> motion;       // frame, frame_start, frame_end, tx..rz, fd, excluded
  std::optional<Table> tacs;         // frame_start, frame_end, one column per ROI, reference
  std::optional<Table> fitted_tacs;  // same columns, model fits (a column of n/a = failed fit)
  std::optional<Table> roistats;     // roi, mean, median, sd, n_voxels, volume_ml
  std::vector<RegionFit> fits;       // regional fit outcomes when known
  std::optional<double> theta3_edge_fraction;  // of fitted voxels (0..1)

  std::optional<Image3D> bpnd_native, bpnd_mni;
  std::optional<LabelImage> atlas_native, atlas_mni;
  std::optional<Image3D> mean_pet;
  std::optional<Mask> reference_mask;
  std::optional<Image3D> t1;           // T1 in the PET's physical space (coregistration check)
  std::optional<Image3D> t1_mni;       // T1 warped to the template
  std::optional<Image3D> template_t1;  // the template (normalization check)

  std::map<std::string, std::string> missing;  // item -> why it is not available
  std::map<std::string, std::string> sources;  // item -> file it came from
  std::vector<std::string> notes;              // further lines shown under the summary
};

struct SubjectReport {
  std::string html;
  std::vector<QcWarning> warnings;
  std::optional<MotionSummary> motion;
};

// Builds the report. Never throws for missing or inconsistent inputs: a part that cannot be drawn is
// replaced by a "not available" note with the reason, and an input problem becomes an "input" warning.
SubjectReport subject_report(const SubjectReportInputs& inputs, const ReportOptions& options = {});

// All warnings of a subject (status, motion, theta3, fits, reference TAC) without rendering.
std::vector<QcWarning> subject_warnings(const SubjectReportInputs& inputs, const QcThresholds& thresholds);

struct StatMapInput {
  std::string name;             // e.g. "patients > controls"
  Image3D map;                  // MNI grid; NaN outside the analysis mask
  std::string statistic = "t";  // "t", "F", "z"
  double threshold = 0.0;       // |value| >= threshold is shown
  std::string threshold_note;   // e.g. "p < 0.001 uncorrected"
  std::string source;
};

struct GroupReportInputs {
  std::optional<Table> design;    // participants / design table
  std::optional<Table> subjects;  // run summary: subject, tracer, status, duration_s, error
  std::vector<StatMapInput> stat_maps;
  std::optional<Image3D> underlay;      // template for the slices
  std::optional<LabelImage> atlas;      // atlas contours on the slices
  std::vector<std::pair<std::string, Table>> cluster_tables;  // (name, table) as written by the group analysis
  std::vector<RoiValue> roi_values;     // subject x region values (e.g. mean BPND) with group labels
  std::vector<std::string> region_order;  // order of the box plots; default: order of appearance
  std::string value_name = "BPND";
  std::map<std::string, std::string> missing;  // "design", "subjects", "stat_maps", "clusters", "roi_values"
  std::map<std::string, std::string> sources;
  std::vector<std::string> notes;
};

struct GroupReport {
  std::string html;
  std::vector<OutlierFlag> outliers;
};

GroupReport group_report(const GroupReportInputs& inputs, const ReportOptions& options = {});

}  // namespace petpipe::qc
