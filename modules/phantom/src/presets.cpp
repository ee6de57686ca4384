#include "petpipe/phantom/presets.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "petpipe/core/error.hpp"

namespace petpipe::phantom {

namespace {

void set(TracerPreset& p, std::initializer_list<const char*> names, double bpnd, double r1 = 1.0) {
  for (const char* n : names) p.labels[n] = Kinetics{bpnd, r1};
}

const char* const kOccipital[] = {"Calcarine", "Cuneus", "Lingual", "Occipital_Sup", "Occipital_Mid",
                                  "Occipital_Inf"};
const char* const kOrbitofrontal[] = {"Frontal_Sup_Orb", "Frontal_Mid_Orb", "Frontal_Inf_Orb",
                                      "Frontal_Med_Orb", "Rectus", "Olfactory"};
const char* const kFrontal[] = {"Frontal_Sup", "Frontal_Mid", "Frontal_Inf_Oper", "Frontal_Inf_Tri",
                                "Frontal_Sup_Medial"};
const char* const kTemporal[] = {"Temporal_Sup", "Temporal_Mid", "Temporal_Inf"};
const char* const kParietal[] = {"Parietal_Sup", "Parietal_Inf", "SupraMarginal", "Angular", "Precuneus"};
const char* const kCerebellumRef[] = {"Cerebelum_Crus1", "Cerebelum_Crus2", "Cerebelum_6",
                                      "Cerebelum_7b",    "Cerebelum_8",     "Cerebelum_9"};
const char* const kCerebellumOther[] = {"Cerebelum_3", "Cerebelum_4_5", "Cerebelum_10", "Vermis_1_2",
                                        "Vermis_3",    "Vermis_4_5",    "Vermis_6",     "Vermis_7",
                                        "Vermis_8",    "Vermis_9",      "Vermis_10"};

template <std::size_t N>
void set_all(TracerPreset& p, const char* const (&names)[N], double bpnd, double r1 = 1.0) {
  for (const char* n : names) p.labels[n] = Kinetics{bpnd, r1};
}

// [11C]carfentanil (mu-opioid receptor), occipital reference; regional BPND after the seed study's
// ranges (thalamus/amygdala 2.5-3, striatum 2-2.5, insula ~2, ACC/OFC ~1.8, PCC ~1.5, frontal ~1.3,
// hippocampus ~1.1, white matter ~0.3).
TracerPreset make_carfentanil() {
  TracerPreset p;
  p.name = "carfentanil";
  p.reference_region = "occipital";
  p.k2_reference_per_min = 0.15;
  set(p, {"Thalamus"}, 2.8, 1.1);
  set(p, {"Amygdala"}, 2.7, 1.0);
  set(p, {"Caudate"}, 2.2, 1.0);
  set(p, {"Putamen"}, 2.3, 1.1);
  set(p, {"Pallidum"}, 1.4, 1.0);
  set(p, {"Insula"}, 2.0, 1.0);
  set(p, {"Cingulum_Ant"}, 1.8, 1.0);
  set_all(p, kOrbitofrontal, 1.8);
  set(p, {"Cingulum_Mid"}, 1.4, 1.0);
  set(p, {"Cingulum_Post"}, 1.5, 1.0);
  set_all(p, kFrontal, 1.3);
  set(p, {"Hippocampus"}, 1.1, 0.95);
  set(p, {"ParaHippocampal"}, 1.3, 0.95);
  set(p, {"Temporal_Pole_Sup", "Temporal_Pole_Mid"}, 1.6);
  set_all(p, kTemporal, 1.2);
  set_all(p, kParietal, 1.0);
  set_all(p, kOccipital, 0.0, 1.0);
  set_all(p, kCerebellumRef, 0.15, 1.05);
  set_all(p, kCerebellumOther, 0.15, 1.05);
  p.other_cortex = {1.0, 1.0};
  p.white_matter = {0.3, 0.65};
  p.csf = {0.0, 0.05};
  p.other_brain = {0.6, 0.8};
  p.reference_curve = {9.0, 0.6, 5.0, 0.12, 2.5, 0.012};
  p.frame_durations_s = {60, 60, 60, 180, 180, 180, 180};
  for (int i = 0; i < 9; ++i) p.frame_durations_s.push_back(360);
  p.injected_mbq = 250.0;
  p.injected_mass_ug = 0.4;
  p.molar_activity_gbq_per_umol = 250.0;
  return p;
}

// [11C]MADAM (serotonin transporter), cerebellar grey-matter reference.
TracerPreset make_madam() {
  TracerPreset p;
  p.name = "madam";
  p.reference_region = "cerebellum_gm";
  p.k2_reference_per_min = 0.12;
  set(p, {"Thalamus"}, 1.4, 1.1);
  set(p, {"Putamen"}, 1.0, 1.1);
  set(p, {"Caudate"}, 0.9, 1.0);
  set(p, {"Amygdala"}, 1.0, 1.0);
  set(p, {"Pallidum"}, 0.8, 1.0);
  set(p, {"Hippocampus"}, 0.5, 0.95);
  set(p, {"ParaHippocampal"}, 0.5, 0.95);
  set(p, {"Insula"}, 0.5, 1.0);
  set(p, {"Cingulum_Ant"}, 0.5, 1.0);
  set(p, {"Cingulum_Mid", "Cingulum_Post"}, 0.35, 1.0);
  set_all(p, kOrbitofrontal, 0.4);
  set_all(p, kFrontal, 0.3);
  set_all(p, kTemporal, 0.3);
  set_all(p, kParietal, 0.25);
  set_all(p, kOccipital, 0.25);
  set_all(p, kCerebellumRef, 0.0, 1.0);
  set_all(p, kCerebellumOther, 0.1, 1.0);
  p.other_cortex = {0.3, 1.0};
  p.white_matter = {0.1, 0.65};
  p.csf = {0.0, 0.05};
  p.other_brain = {0.6, 0.85};
  p.reference_curve = {5.0, 0.45, 4.0, 0.07, 3.0, 0.01};
  p.frame_durations_s = {60, 60, 60, 180, 180, 180, 180};
  for (int i = 0; i < 10; ++i) p.frame_durations_s.push_back(360);
  p.injected_mbq = 300.0;
  p.injected_mass_ug = 1.0;
  p.molar_activity_gbq_per_umol = 150.0;
  return p;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const TracerPreset& tracer_preset(const std::string& name) {
  static const TracerPreset carfentanil = make_carfentanil();
  static const TracerPreset madam = make_madam();
  const std::string n = lower(name);
  if (n == "carfentanil") return carfentanil;
  if (n == "madam") return madam;
  throw make_error("unknown tracer \"", name, "\" (known: carfentanil, madam)");
}

std::vector<std::string> tracer_names() { return {"carfentanil", "madam"}; }

std::string label_base_name(const std::string& n) {
  if (n.size() > 2 && (n.ends_with("_L") || n.ends_with("_R"))) return n.substr(0, n.size() - 2);
  return n;
}

std::vector<double> parse_frame_schedule(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto x = item.find_first_of("xX*");
    try {
      std::size_t used = 0;
      int count = 1;
      double dur = 0;
      if (x == std::string::npos) {
        dur = std::stod(item, &used);
        if (used != item.size()) throw std::invalid_argument("trailing");
      } else {
        count = std::stoi(item.substr(0, x), &used);
        if (used != x) throw std::invalid_argument("count");
        const std::string d = item.substr(x + 1);
        dur = std::stod(d, &used);
        if (used != d.size()) throw std::invalid_argument("trailing");
      }
      if (count < 1 || !(dur > 0) || !std::isfinite(dur)) throw std::invalid_argument("range");
      for (int i = 0; i < count; ++i) out.push_back(dur);
    } catch (const std::exception&) {
      throw make_error("frame schedule \"", text, "\": cannot read \"", item,
                       "\" (expected COUNTxSECONDS items, e.g. 3x60,4x180,9x360)");
    }
  }
  if (out.empty()) throw make_error("frame schedule \"", text, "\" is empty");
  return out;
}

}  // namespace petpipe::phantom
