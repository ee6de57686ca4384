#pragma once
// Tracer presets: regional SRTM parameters over AAL labels, the reference curve and the frame schedule
// of the seed study (Turtonen et al.). Parameters are per AAL label name without the hemisphere
// suffix ("Thalamus" covers Thalamus_L and Thalamus_R); labels not listed get `other_cortex`.
#include <map>
#include <string>
#include <vector>

#include "petpipe/phantom/curves.hpp"

namespace petpipe::phantom {

struct Kinetics {
  double bpnd = 0.0;  // binding potential (unitless)
  double r1 = 1.0;    // K1/K1' (unitless)
};

struct TracerPreset {
  std::string name;              // "carfentanil", "madam"
  std::string radionuclide = "C11";
  std::string reference_region;  // atlas reference region name ("occipital", "cerebellum_gm")
  double k2_reference_per_min = 0.15;  // k2' of the reference region; k2 = R1 k2' (SRTM assumption)
  std::map<std::string, Kinetics> labels;  // AAL base label name -> kinetics
  Kinetics other_cortex;  // AAL labels not listed
  Kinetics white_matter;
  Kinetics csf;
  Kinetics other_brain;   // brain voxels outside AAL that are neither white matter nor CSF
  ReferenceCurveParams reference_curve;
  std::vector<double> frame_durations_s;  // seed-study schedule, contiguous from injection
  double injected_mbq = 250.0;
  double injected_mass_ug = 0.5;
  double molar_activity_gbq_per_umol = 50.0;
};

// Throws petpipe::Error naming the known tracers for an unknown name (case-insensitive).
const TracerPreset& tracer_preset(const std::string& name);
std::vector<std::string> tracer_names();

// "Thalamus_L" -> "Thalamus"; names without a hemisphere suffix are returned unchanged.
std::string label_base_name(const std::string& label_name);

// Parses "3x60,4x180,9x360" (count x seconds) into contiguous frames starting at 0 s.
std::vector<double> parse_frame_schedule(const std::string& text);

}  // namespace petpipe::phantom
