#pragma once
// Frame timing and decay state of a dynamic PET scan, and radionuclide / unit tables.
#include <optional>
#include <string>
#include <vector>

namespace petpipe {

struct FrameTable {
  std::vector<double> start_s;     // frame start, seconds relative to TimeZero (usually injection)
  std::vector<double> duration_s;  // frame duration, seconds
  bool decay_corrected = true;     // image values are decay corrected
  double decay_reference_s = 0.0;  // time the decay correction refers to (s, relative to TimeZero)
  std::string radionuclide;        // canonical name, e.g. "C11"
  double half_life_s = 0.0;        // radionuclide half-life, seconds
  std::string tracer;              // TracerName, e.g. "carfentanil"
  std::string units = "kBq/mL";    // units of the in-memory values
  std::string time_zero;           // TimeZero (hh:mm:ss) when known
  double injection_start_s = 0.0;  // InjectionStart of the sidecar (frame times are shifted by it)
  std::vector<double> decay_correction_factor;  // DecayCorrectionFactor per frame, when given

  std::size_t size() const { return start_s.size(); }
  double end_s(std::size_t f) const { return start_s[f] + duration_s[f]; }
  double mid_s(std::size_t f) const { return start_s[f] + 0.5 * duration_s[f]; }
  std::vector<double> mid_times_s() const;
  double decay_constant_per_s() const;  // ln 2 / half-life; 0 when half-life unknown

  // Throws petpipe::Error on empty table, non-finite values, zero/negative durations,
  // non-increasing starts or overlapping frames. `source` names the file in the message.
  void validate(const std::string& source) const;

  // Frame-average decay factor relative to the decay reference time: the mean over the frame of
  // exp(-lambda (t - t_ref)). Multiplying decay-corrected values by it gives uncorrected values.
  double decay_factor(std::size_t f) const;
};

// Half-life in seconds of a radionuclide given in any common spelling ("C11", "11C", "C-11",
// "^11^C", "carbon-11", "F18", "18F", ...). Returns nullopt when unknown.
std::optional<double> half_life_seconds(const std::string& radionuclide);
// Canonical form ("C11") of a radionuclide spelling; nullopt when unknown.
std::optional<std::string> canonical_radionuclide(const std::string& radionuclide);

// Factor that converts values in `units` into kBq/mL (kBq/cc, Bq/mL, MBq/mL, nCi/mL, uCi/mL, ...).
// Returns nullopt for unknown units.
std::optional<double> activity_to_kbq_per_ml(const std::string& units);

}  // namespace petpipe
