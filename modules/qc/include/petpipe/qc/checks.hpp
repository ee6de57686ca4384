#pragma once
// Quality checks behind the report's warnings block: head motion, the theta3 grid edge of the basis
// function fit, regional fits, reference-TAC anomalies, and per-subject outliers of ROI values.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/core/tsv.hpp"

namespace petpipe::qc {

// Thresholds of the warnings, with their units. The motion defaults follow common PET practice: with
// 2-4 mm PET resolution, motion of the order of half a resolution element (about 2 mm or 2 degrees at
// 50 mm radius ~ 1.7 mm) biases regional values, and a jump of more than 1 mm between consecutive
// frames (FD) marks a sudden movement that realignment should have seen.
struct QcThresholds {
  double max_fd_mm = 1.0;             // framewise displacement (Power et al., 50 mm sphere) between frames
  double max_translation_mm = 2.0;    // Euclidean norm of (tx, ty, tz) relative to the reference position
  double max_rotation_deg = 2.0;      // largest |rx|, |ry| or |rz|
  double theta3_edge_fraction = 0.10; // fraction of fitted voxels whose best basis is at the grid edge
  double late_start_fraction = 0.5;   // reference TAC: "late" frames start at or after this fraction of
                                      // the scan's end time
  double late_rise_fraction = 0.10;   // relative rise over the late frames (least-squares line, end minus
                                      // start divided by the late mean) that is flagged
  double outlier_z = 3.0;             // |robust z| of a subject's ROI value within its group
};

enum class Severity { info, warning, error };
std::string to_string(Severity severity);

struct QcWarning {
  std::string category;  // "status", "motion", "theta3", "fit", "reference", "input"
  Severity severity = Severity::warning;
  std::string message;
};

// One row of a motion table (the runner's _motion.tsv; realign's parameter convention).
struct MotionFrame {
  double start_s = 0, end_s = 0;  // frame timing (NaN when the table has none)
  double tx = 0, ty = 0, tz = 0;  // mm
  double rx = 0, ry = 0, rz = 0;  // degrees
  double fd = 0;                  // mm
  bool excluded = false;
};

// Reads columns tx ty tz (mm) rx ry rz (deg) and, when present, frame_start, frame_end, fd (or
// framewise_displacement) and excluded (or a status column as petpipe realign writes it, where
// "excluded", "before-start" and "near-empty" frames count as excluded). Without an FD column FD is
// computed (Power et al., 50 mm radius). Throws petpipe::Error naming
// `source` and the column when a required column is missing or not numeric.
std::vector<MotionFrame> motion_from_table(const Table& table, const std::string& source);

struct MotionSummary {
  std::size_t frames = 0;
  double max_fd_mm = 0;
  std::size_t max_fd_frame = 0;        // 0-based
  double max_translation_mm = 0;       // Euclidean norm
  std::size_t max_translation_frame = 0;
  double max_rotation_deg = 0;         // largest absolute angle
  std::size_t max_rotation_frame = 0;
  std::size_t excluded_frames = 0;
};
MotionSummary summarize_motion(const std::vector<MotionFrame>& frames);
std::vector<QcWarning> motion_warnings(const MotionSummary& summary, const QcThresholds& thresholds);

// Reference TAC checks: non-finite values (error), non-positive values after the first positive frame,
// and a rise over the late frames (see QcThresholds). Times in seconds, one value per frame.
std::vector<QcWarning> reference_tac_warnings(const std::vector<double>& start_s, const std::vector<double>& end_s,
                                              const std::vector<double>& tac, const QcThresholds& thresholds);
// Relative rise over the late frames (NaN with fewer than 3 late frames or a non-positive late mean).
double late_rise(const std::vector<double>& start_s, const std::vector<double>& end_s, const std::vector<double>& tac,
                 double late_start_fraction);

std::optional<QcWarning> theta3_warning(double edge_fraction, const QcThresholds& thresholds);

// Regional model fits as the runner reports them.
struct RegionFit {
  std::string region;
  bool failed = false;     // no estimate (exception, non-finite result)
  bool converged = true;
  bool at_bound = false;   // a parameter ends on a bound
  std::string note;
};
std::vector<QcWarning> fit_warnings(const std::vector<RegionFit>& fits);

// A subject's value of one ROI (e.g. the mean BPND) and its group.
struct RoiValue {
  std::string subject, group, region;
  double value = 0;
};
struct OutlierFlag {
  std::string subject, group, region;
  double value = 0;
  double z = 0;  // robust z
};
// Robust z within each (group, region): z = (x - median) / (1.4826 MAD), the MAD scaled to the SD of a
// normal sample; a robust scale is used because one outlier inflates the SD (with n subjects the
// ordinary |z| can never exceed (n-1)/sqrt(n), 2.85 for n = 10). When the MAD is 0 the mean absolute
// deviation x 1.2533 is used instead; cells with fewer than 4 finite values or no spread are not tested.
// Flags |z| > threshold, sorted by subject then region.
std::vector<OutlierFlag> flag_outliers(const std::vector<RoiValue>& values, double z_threshold);

}  // namespace petpipe::qc
