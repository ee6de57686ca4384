#include "petpipe/phantom/cohort.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "petpipe/core/error.hpp"
#include "petpipe/phantom/random.hpp"

namespace petpipe::phantom {

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

int CohortSpec::total_size() const {
  int n = 0;
  for (const auto& g : groups) n += g.size;
  return n;
}

void validate(const CohortSpec& c) {
  if (c.groups.empty()) throw Error("cohort: no groups");
  std::set<std::string> names;
  for (const auto& g : c.groups) {
    if (g.name.empty()) throw Error("cohort: a group has no name");
    if (!names.insert(g.name).second) throw make_error("cohort: group \"", g.name, "\" given twice");
    if (g.size < 0) throw make_error("cohort: group \"", g.name, "\" has a negative size (", g.size, ")");
    if (!(g.age.sd >= 0) || !(g.age.min <= g.age.max) || !(g.age.mean >= g.age.min && g.age.mean <= g.age.max))
      throw make_error("cohort: group \"", g.name, "\" has a bad age distribution (mean ", g.age.mean, ", sd ",
                       g.age.sd, ", range ", g.age.min, "-", g.age.max, ")");
    if (!(g.female_fraction >= 0 && g.female_fraction <= 1))
      throw make_error("cohort: group \"", g.name, "\" female_fraction must be in [0, 1]");
    for (const auto& [r, e] : g.effects_percent)
      if (!(e > -100) || !std::isfinite(e))
        throw make_error("cohort: group \"", g.name, "\" effect on ", r, " must be > -100 % (got ", e, ")");
  }
  if (c.total_size() < 1) throw Error("cohort: no subjects (group sizes add up to 0)");
  if (c.total_size() > 9999) throw Error("cohort: more than 9999 subjects");
  if (!(c.between_subject_sd_percent >= 0) || !std::isfinite(c.between_subject_sd_percent))
    throw Error("cohort: between_subject_sd_percent must be >= 0");
  if (!(c.between_subject_correlation >= 0 && c.between_subject_correlation <= 1))
    throw Error("cohort: between_subject_correlation must be in [0, 1]");
  if (!(c.dose_sd_percent >= 0) || !std::isfinite(c.dose_sd_percent)) throw Error("cohort: dose_sd_percent must be >= 0");
}

std::vector<Participant> draw_participants(const CohortSpec& c) {
  validate(c);
  const int total = c.total_size();
  const int width = std::max(2, static_cast<int>(std::to_string(total).size()));
  Rng rng(derive_seed(c.seed, 0));
  std::vector<Participant> out;
  for (const auto& g : c.groups)
    for (int i = 0; i < g.size; ++i) {
      Participant p;
      p.index = out.size();
      std::string id = std::to_string(p.index + 1);
      p.id = std::string(static_cast<std::size_t>(width) - id.size(), '0') + id;
      p.group = g.name;
      p.age = std::round(rng.truncated_normal(g.age.mean, g.age.sd, g.age.min, g.age.max) * 10.0) / 10.0;
      p.sex = std::string(1, rng.uniform() < g.female_fraction ? 'F' : 'M');
      p.seed = derive_seed(c.seed, p.index + 1);
      out.push_back(p);
    }
  return out;
}

std::vector<int> resolve_region(const std::string& name, const roi::Atlas& atlas,
                                const std::map<int, std::string>& classes) {
  const std::string n = lower(name);
  std::vector<int> out;
  if (n == "all" || n == "*") {
    for (const auto& [l, cn] : classes) out.push_back(l);
    return out;
  }
  for (const auto& [l, cn] : classes)
    if (lower(cn) == n || lower(label_base_name(cn)) == n) out.push_back(l);
  if (!out.empty()) return out;
  for (const auto& r : atlas.regions) {
    if (lower(r.name) != n) continue;
    if (!r.limits.empty())
      throw make_error("region \"", name, "\" is cut by coordinate limits; effects apply to whole AAL labels "
                       "(use e.g. \"Caudate\" or \"Putamen\")");
    for (int l : r.label_values)
      if (classes.count(l)) out.push_back(l);
    return out;
  }
  throw make_error("unknown region \"", name, "\" (use AAL label names such as Hippocampus or Hippocampus_L, "
                   "atlas ROIs such as ofc or frontal, white_matter, csf, other_brain or all)");
}

std::vector<int> reference_labels(const TracerPreset& preset, const roi::Atlas& atlas) {
  const auto& ref = atlas.reference(preset.reference_region);
  return ref.region.label_values;
}

std::map<int, Kinetics> preset_kinetics(const TracerPreset& preset, const std::map<int, std::string>& classes,
                                        const std::vector<int>& ref) {
  std::map<int, Kinetics> k;
  for (const auto& [l, name] : classes) {
    if (std::find(ref.begin(), ref.end(), l) != ref.end())
      k[l] = Kinetics{0.0, 1.0};
    else if (l == kWhiteMatter)
      k[l] = preset.white_matter;
    else if (l == kCsf)
      k[l] = preset.csf;
    else if (l == kOtherBrain)
      k[l] = preset.other_brain;
    else {
      const auto it = preset.labels.find(label_base_name(name));
      k[l] = it != preset.labels.end() ? it->second : preset.other_cortex;
    }
  }
  return k;
}

SubjectParameters subject_parameters(const CohortSpec& c, const Participant& p, const TracerPreset& preset,
                                     const roi::Atlas& atlas, const std::map<int, std::string>& classes,
                                     const std::vector<int>& ref) {
  SubjectParameters s;
  s.seed = p.seed;
  s.kinetics = preset_kinetics(preset, classes, ref);
  const GroupSpec* group = nullptr;
  for (const auto& g : c.groups)
    if (g.name == p.group) group = &g;
  if (!group) throw make_error("participant ", p.id, ": unknown group ", p.group);
  std::map<int, double> factor;
  for (const auto& [l, k] : s.kinetics) factor[l] = 1.0;
  for (const auto& [region, pct] : group->effects_percent)
    for (int l : resolve_region(region, atlas, classes)) factor[l] *= 1.0 + pct / 100.0;
  for (const auto& [region, pct] : c.age_effect_percent_per_decade)
    for (int l : resolve_region(region, atlas, classes))
      factor[l] *= std::max(0.0, 1.0 + pct / 100.0 * (p.age - c.reference_age) / 10.0);
  Rng rng(derive_seed(p.seed, 4));
  const double dose_z = rng.normal();
  s.dose_scale = std::max(0.3, 1.0 + c.dose_sd_percent / 100.0 * dose_z);
  const double zg = rng.normal();
  const double rho = c.between_subject_correlation;
  for (auto& [l, k] : s.kinetics) {  // std::map: label order, deterministic
    const double z = std::sqrt(rho) * zg + std::sqrt(1.0 - rho) * rng.normal();
    const bool is_ref = std::find(ref.begin(), ref.end(), l) != ref.end();
    if (is_ref) continue;
    const double bsv = std::max(0.0, 1.0 + c.between_subject_sd_percent / 100.0 * z);
    k.bpnd *= factor[l] * bsv;
  }
  return s;
}

}  // namespace petpipe::phantom
