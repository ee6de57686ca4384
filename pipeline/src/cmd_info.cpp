// petpipe info: summary of an image, a PET file with its sidecar, or a PET-BIDS dataset.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"

namespace petpipe::cli {

namespace {

std::string fmt(double v, int prec = 4) {
  if (v == 0.0) v = 0.0;  // no "-0"
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", prec, v);
  return b;
}

nlohmann::json image_json(const ImageInfo& info) {
  nlohmann::json j;
  j["path"] = info.path;
  j["dimension"] = info.dimension;
  j["size"] = std::vector<std::size_t>(info.size.begin(), info.size.begin() + std::max(3u, info.dimension));
  j["spacing_mm"] = std::vector<double>(info.geom.spacing.begin(), info.geom.spacing.end());
  j["origin_lps_mm"] = std::vector<double>(info.geom.origin.begin(), info.geom.origin.end());
  j["direction"] = std::vector<double>(info.geom.direction.begin(), info.geom.direction.end());
  j["orientation"] = info.geom.orientation_code();
  j["oblique"] = info.geom.is_oblique();
  j["datatype"] = info.component_type;
  j["voxel_volume_mm3"] = info.geom.voxel_volume_mm3();
  return j;
}

nlohmann::json frames_json(const FrameTable& t) {
  nlohmann::json j;
  j["count"] = t.size();
  j["start_s"] = t.start_s;
  j["duration_s"] = t.duration_s;
  j["total_duration_s"] = t.size() ? t.end_s(t.size() - 1) : 0.0;
  j["tracer"] = t.tracer;
  j["radionuclide"] = t.radionuclide;
  j["half_life_s"] = t.half_life_s;
  j["decay_corrected"] = t.decay_corrected;
  j["decay_reference_s"] = t.decay_reference_s;
  return j;
}

void print_image(std::ostream& os, const nlohmann::json& j, const std::string& indent = "") {
  const auto& size = j["size"];
  std::string dims;
  for (std::size_t i = 0; i < size.size(); ++i) dims += (i ? " x " : "") + std::to_string(size[i].get<std::size_t>());
  const auto& sp = j["spacing_mm"];
  const auto& o = j["origin_lps_mm"];
  const auto& d = j["direction"];
  os << indent << "image:        " << j["path"].get<std::string>() << "\n"
     << indent << "dimensions:   " << dims << "\n"
     << indent << "voxel size:   " << fmt(sp[0]) << " x " << fmt(sp[1]) << " x " << fmt(sp[2]) << " mm ("
     << fmt(j["voxel_volume_mm3"].get<double>()) << " mm^3)\n"
     << indent << "datatype:     " << j["datatype"].get<std::string>() << "\n"
     << indent << "orientation:  " << j["orientation"].get<std::string>()
     << (j["oblique"].get<bool>() ? " (oblique)" : "") << "  [axis directions, RAS convention]\n"
     << indent << "origin:       " << fmt(o[0], 6) << " " << fmt(o[1], 6) << " " << fmt(o[2], 6)
     << " mm (LPS; RAS " << fmt(-o[0].get<double>(), 6) << " " << fmt(-o[1].get<double>(), 6) << " "
     << fmt(o[2].get<double>(), 6) << ")\n"
     << indent << "direction:    ";
  for (int r = 0; r < 3; ++r)
    os << (r ? indent + "              " : "") << fmt(d[3 * r], 6) << " " << fmt(d[3 * r + 1], 6) << " "
       << fmt(d[3 * r + 2], 6) << (r == 2 ? "  (LPS)\n" : "\n");
}

void print_frames(std::ostream& os, const FrameTable& t, const std::string& indent = "") {
  os << indent << "tracer:       " << (t.tracer.empty() ? "n/a" : t.tracer) << "\n"
     << indent << "radionuclide: " << (t.radionuclide.empty() ? "n/a" : t.radionuclide);
  if (t.half_life_s > 0) os << " (half-life " << fmt(t.half_life_s / 60.0, 5) << " min)";
  os << "\n"
     << indent << "units:        kBq/mL (internal)\n"
     << indent << "decay:        " << (t.decay_corrected ? "corrected to " : "not corrected")
     << (t.decay_corrected ? fmt(t.decay_reference_s) + " s after injection" : "") << "\n"
     << indent << "frames:       " << t.size() << ", " << fmt(t.end_s(t.size() - 1) / 60.0, 5)
     << " min in all\n"
     << indent << "  frame   start (s)   duration (s)   mid (min)\n";
  for (std::size_t f = 0; f < t.size(); ++f) {
    char b[128];
    std::snprintf(b, sizeof b, "  %5zu   %9.1f   %12.1f   %9.3f\n", f + 1, t.start_s[f], t.duration_s[f],
                  t.mid_s(f) / 60.0);
    os << indent << b;
  }
}

int run_info(const po::variables_map& vm) {
  if (!vm.count("path")) throw Error("no PATH given (an image, a PET file or a BIDS dataset)");
  const fs::path path = vm["path"].as<std::string>();
  const bool as_json = vm.count("json") > 0;
  const bool brief = vm.count("brief") > 0;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw make_error(path.string(), ": not found");

  nlohmann::json out;
  std::ostringstream text;
  if (fs::is_directory(path, ec)) {
    const auto ds = bids::scan_dataset(path);
    out["dataset"] = ds.root.string();
    out["name"] = ds.name;
    out["subjects"] = ds.subjects;
    text << "dataset:      " << ds.root.string() << (ds.name.empty() ? "" : " (" + ds.name + ")") << "\n"
         << "subjects:     " << ds.subjects.size() << "\n";
    if (ds.participants) {
      const auto p = read_participants(*ds.participants);
      out["participants_columns"] = p.column_order;
      text << "participants: " << p.size() << " rows; columns:";
      for (const auto& c : p.column_order) text << " " << c << (p.column(c).numeric ? " (numeric)" : "");
      text << "\n";
    }
    text << "PET scans:    " << ds.pet.size() << "\n";
    out["pet"] = nlohmann::json::array();
    for (const auto& scan : ds.pet) {
      const auto info = read_image_info(scan.image);
      const auto frames = read_pet_sidecar(scan.sidecar, info.dimension == 4 ? info.size[3] : 1, nullptr);
      if (info.dimension != 4)
        throw make_error(scan.image.string(), ": is a ", info.dimension, "D image; PET must be 4D");
      nlohmann::json s = image_json(info);
      s["subject"] = scan.subject;
      s["session"] = scan.session;
      s["tracer"] = scan.tracer;
      s["frames"] = frames_json(frames);
      std::vector<std::string> t1;
      for (const auto& t : scan.t1w) t1.push_back(t.string());
      s["T1w"] = t1;
      out["pet"].push_back(s);
      text << "\n-- sub-" << scan.subject << (scan.session.empty() ? "" : " ses-" + scan.session)
           << "  tracer " << (scan.tracer.empty() ? "n/a" : scan.tracer) << "  T1w: "
           << (scan.t1w.empty() ? "none" : scan.t1w.front().filename().string()) << "\n";
      print_image(text, s, "   ");
      if (!brief) print_frames(text, frames, "   ");
    }
  } else {
    const auto info = read_image_info(path);
    out = image_json(info);
    print_image(text, out);
    const fs::path json = sidecar_path(path);
    if (info.dimension == 4 && fs::exists(json, ec)) {
      const auto frames = read_pet_sidecar(json, info.size[3], nullptr);
      out["frames"] = frames_json(frames);
      text << "sidecar:      " << json.string() << "\n";
      print_frames(text, frames);
    } else if (info.dimension == 4) {
      text << "sidecar:      none (" << json.filename().string() << " not found; frame timing unknown)\n";
    }
  }
  std::cout << (as_json ? out.dump(2) + "\n" : text.str());
  return 0;
}

}  // namespace

Command info_command() {
  Command c;
  c.name = "info";
  c.synopsis = "summarise an image, a PET file with its sidecar, or a PET-BIDS dataset";
  c.description =
      "Prints the header of an image (dimensions, voxel size, data type, orientation, origin and "
      "direction), and for a 4D PET image with a PET-BIDS sidecar also the tracer, radionuclide, decay "
      "state and the frame table. Given a directory, scans it as a PET-BIDS dataset and summarises every "
      "subject's PET scans. Only headers and sidecars are read, so it is fast on large data. Sidecars are "
      "validated as the processing commands validate them, so info is a quick check of a dataset before a "
      "run.\n\n"
      "Orientation is given as the anatomical direction (RAS convention, as nibabel's aff2axcodes and "
      "FSL/SPM displays) towards which each voxel axis increases; origin and direction are also given in "
      "ITK's LPS convention.";
  c.examples = {
      {"petpipe info /usr/share/mricron/templates/aal.nii.gz", "Header of the AAL atlas."},
      {"petpipe info sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz",
       "A dynamic PET scan with its frame table (from sub-01_trc-carfentanil_pet.json)."},
      {"petpipe info bids/ --brief", "Every PET scan of a dataset, without frame tables."},
      {"petpipe info bids/ --json > dataset.json", "The same as JSON for scripts."}};
  c.references = {
      "Knudsen GM et al. Guidelines for the content and format of PET brain data in publications and "
      "archives: a consensus paper. J Cereb Blood Flow Metab 2020;40:1576-1585 (PET-BIDS).",
      "Norgaard M et al. PET-BIDS, an extension to the brain imaging data structure for positron emission "
      "tomography. Sci Data 2022;9:65."};
  c.add_options = [](po::options_description& d, po::positional_options_description& p) {
    d.add_options()("path", po::value<std::string>(), "image, PET file or BIDS dataset directory")
        ("json", "print JSON instead of text")
        ("brief", "datasets: omit the frame tables");
    p.add("path", 1);
  };
  c.run = run_info;
  return c;
}

PETPIPE_REGISTER_COMMAND(info_command, 10)

}  // namespace petpipe::cli
