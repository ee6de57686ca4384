#pragma once
// Cohorts: participants (group, age, sex) and per-subject kinetic parameters with group effects, age
// effects and between-subject variability, all deterministic from one seed. Subject k (0-based, in
// participant order) draws from streams seeded by derive_seed(cohort seed, k + 1, purpose), so one
// subject can be regenerated alone.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "petpipe/phantom/anatomy.hpp"
#include "petpipe/phantom/presets.hpp"
#include "petpipe/phantom/simulate.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::phantom {

struct AgeDistribution {
  double mean = 40.0, sd = 10.0;  // years; truncated normal on [min, max]
  double min = 18.0, max = 75.0;
};

struct GroupSpec {
  std::string name = "control";
  int size = 1;
  AgeDistribution age;
  double female_fraction = 0.5;
  // Region -> BPND change in % relative to the preset (e.g. {"hippocampus": 12}). Regions: AAL label
  // names ("Hippocampus_L"), AAL names without hemisphere ("Hippocampus"), atlas ROI names without
  // coordinate limits ("ofc", "frontal"), "white_matter", "csf", "other_brain", or "all".
  std::map<std::string, double> effects_percent;
};

struct CohortSpec {
  std::string tracer = "carfentanil";
  std::uint64_t seed = 1;
  std::vector<GroupSpec> groups{GroupSpec{}};
  double between_subject_sd_percent = 0.0;   // SD of BPND between subjects, % of the mean
  double between_subject_correlation = 0.5;  // share of that variance common to all regions
  std::map<std::string, double> age_effect_percent_per_decade;  // region (as above) -> % per decade
  double reference_age = 40.0;               // age at which age effects are zero
  double dose_sd_percent = 0.0;              // SD of the reference-curve amplitude between subjects

  int total_size() const;
};

struct Participant {
  std::string id;  // "01" (zero padded to the cohort size, at least 2 digits)
  std::size_t index = 0;
  std::string group;
  double age = 0;
  std::string sex;  // "F" or "M"
  std::uint64_t seed = 0;
};

// Throws petpipe::Error for an empty cohort, negative sizes or bad distributions.
void validate(const CohortSpec& cohort);
std::vector<Participant> draw_participants(const CohortSpec& cohort);

// Class labels (of anatomy.class_names) a region name refers to; throws naming the region if unknown.
std::vector<int> resolve_region(const std::string& name, const roi::Atlas& atlas,
                                const std::map<int, std::string>& class_names);

// Labels of the tracer's reference region among the anatomy classes.
std::vector<int> reference_labels(const TracerPreset& preset, const roi::Atlas& atlas);

// The preset's kinetics for every anatomy class (reference labels: BPND 0, R1 1).
std::map<int, Kinetics> preset_kinetics(const TracerPreset& preset, const std::map<int, std::string>& class_names,
                                        const std::vector<int>& reference_labels);

// Kinetics of one participant: preset x (1 + group effect) x (1 + age effect) x (1 + variability).
SubjectParameters subject_parameters(const CohortSpec& cohort, const Participant& participant,
                                     const TracerPreset& preset, const roi::Atlas& atlas,
                                     const std::map<int, std::string>& class_names,
                                     const std::vector<int>& reference_labels);

}  // namespace petpipe::phantom
