#pragma once
// File-level wrapper around the reports (not an algorithm header): finds a scan's inputs in a
// derivatives folder by the names `petpipe run` writes, reads them into SubjectReportInputs (recording
// each file, or the reason it is missing or unreadable), does the same for the group, and writes the
// HTML atomically. Nothing here throws for a missing or unreadable input; only the report writer throws.
#include <filesystem>
#include <string>
#include <vector>

#include "petpipe/qc/report.hpp"

namespace petpipe::qc {

namespace fs = std::filesystem;

// Template and atlas files (empty path = not available; `reason` says why).
struct TemplateFiles {
  fs::path template_t1;   // the normalization target (Colin27 T1)
  fs::path atlas_labels;  // atlas labels in template space (AAL)
  std::string reason;     // why they are empty (e.g. the atlas could not be loaded)
};

// Scan stems ("sub-01_trc-carfentanil", "sub-01_ses-a_trc-x") of the files below OUT/sub-XX.
std::vector<std::string> scan_stems(const fs::path& subject_dir);

// Reads one input file into the member named by `item` (see qc::item) and records its source, or
// records why it is missing / unreadable. Images are read as images, labels as labels, masks as masks,
// TSVs as tables; item::status reads a status JSON; item::theta3 reads a grid-edge mask (fraction of
// fitted voxels, those with a finite non-zero BPND or on the edge) or a JSON sidecar with
// Theta3GridEdgeFraction.
void load_input(SubjectReportInputs& in, const std::string& item, const fs::path& path);

// Every input of one scan below subject_dir (= OUT/sub-XX): the names of the runner contract
// (docs/OUTPUTS.md) with `stem` as prefix, found at any depth (pet/, anat/, ses-*/).
SubjectReportInputs load_subject_inputs(const fs::path& subject_dir, const std::string& stem,
                                        const TemplateFiles& templates);

struct GroupLoadOptions {
  fs::path participants;             // empty: OUT/group/participants.tsv, then OUT/participants.tsv
  std::string group_column = "group";
  std::string tracer;                // empty: the first tracer found (a note says so when there are several)
  double default_threshold = 3.0;    // |statistic| shown when no sidecar gives a threshold
  TemplateFiles templates;
};
// Run summary, participants, every subject's regional means (*_seg-AAL_desc-sm*_roistats.tsv, column
// `mean`), primary statistic maps under OUT/group (*_stat-{t,F,z}_statmap.nii.gz without desc-; the
// threshold from the map's sidecar Threshold, else the ClusterFormingThreshold of the matching
// desc-clusterFWE map, else default_threshold) and cluster tables (*_clusters.tsv).
GroupReportInputs load_group_inputs(const fs::path& derivatives, const GroupLoadOptions& options);

// Atomic write of a report (creates the parent directory).
void write_report(const fs::path& path, const std::string& html);

}  // namespace petpipe::qc
