// petpipe normalize: options, inputs and outputs of the subject normalisation (normalize::normalize_subject:
// PET -> T1 coregistration, T1 -> MNI normalisation, atlas labels and the reference region in PET space);
// the reference region's name comes from --reference or the tracer. --apply warps any image with saved
// transforms.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
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
#include "petpipe/normalize/normalize.hpp"
#include "petpipe/normalize/workflow.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/pipeline/stages.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::cli {

namespace {

namespace nz = petpipe::normalize;

// "80,50,30": 1 to max_levels non-negative iteration counts, coarse to fine.
std::vector<int> parse_counts(const std::string& spec, const std::string& option, std::size_t max_levels) {
  std::vector<int> its;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    long value = -1;
    if (!parse_integer(item, value) || value > std::numeric_limits<int>::max())
      throw make_error(option, " ", spec, ": expected comma-separated counts, e.g. 80,50,30");
    its.push_back(static_cast<int>(value));
  }
  if (its.empty() || its.size() > max_levels || std::any_of(its.begin(), its.end(), [](int i) { return i < 0; }))
    throw make_error(option, " ", spec, ": 1 to ", max_levels, " non-negative counts, coarse to fine");
  return its;
}

// Pyramid shrink factors for `levels` levels, coarse to fine: ..., 4, 2, 1.
std::vector<int> shrink_factors(std::size_t levels) {
  std::vector<int> f;
  for (std::size_t l = 0; l < levels; ++l) f.push_back(1 << (levels - 1 - l));
  return f;
}

bool is_nifti(const fs::path& p) {
  const std::string s = p.filename().string();
  auto ends = [&](const std::string& e) { return s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0; };
  return ends(".nii") || ends(".nii.gz");
}

void require_file(const fs::path& p, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(p, ec)) throw make_error(p.string(), ": ", what, " not found");
}


nlohmann::json geometry_json(const Geometry& g) {
  return {{"size", g.size}, {"spacing_mm", g.spacing}, {"origin_lps_mm", g.origin}, {"direction", g.direction}};
}

Geometry geometry_from_json(const nlohmann::json& j) {
  Geometry g;
  g.size = j.at("size").get<std::array<std::size_t, 3>>();
  g.spacing = j.at("spacing_mm").get<Vec3>();
  g.origin = j.at("origin_lps_mm").get<Vec3>();
  g.direction = j.at("direction").get<Mat3>();
  return g;
}

// ------------------------------------------------------------------------------------- options

struct NormalizeCliOptions {
  fs::path t1, pet, out;
  bool dynamic = false;      // --pet (frames) rather than --pet-mean
  bool force = false;
  std::string atlas;
  std::string template_choice;  // auto, head or brain
  std::string tracer;        // --tracer as given (empty: the sidecar's tracer name)
  std::string reference;     // --reference as given
  nz::WorkflowOptions workflow;
};

pipeline::ApplyRequest apply_request_from(const po::variables_map& vm) {
  pipeline::ApplyRequest a;
  if (!vm.count("in")) throw Error("--apply: no --in FILE given");
  if (!vm.count("transforms")) throw Error("--apply: no --transforms DIR given (the transforms/ folder of a normalize run)");
  if (!vm.count("out")) throw Error("--apply: no --out FILE given");
  a.in = vm["in"].as<std::string>();
  a.transforms = vm["transforms"].as<std::string>();
  a.out = vm["out"].as<std::string>();
  a.inverse = vm.count("inverse") > 0;
  a.labels = vm.count("labels") > 0;
  a.force = vm.count("force") > 0;
  if (vm.count("like")) a.like = vm["like"].as<std::string>();
  a.params = pipeline::mni_table().from_vm(vm);
  if (vm.count("bbox")) a.bbox = vm["bbox"].as<std::vector<double>>();
  return a;
}

pipeline::NormalizeRequest request_from(const po::variables_map& vm) {
  if (!vm.count("t1")) throw Error("no --t1 FILE given");
  if (!vm.count("pet") && !vm.count("pet-mean")) throw Error("no --pet FILE or --pet-mean FILE given");
  if (vm.count("pet") && vm.count("pet-mean")) throw Error("give either --pet or --pet-mean, not both");
  if (!vm.count("out")) throw Error("no --out DIR given");
  pipeline::NormalizeRequest r;
  r.t1 = vm["t1"].as<std::string>();
  r.dynamic = vm.count("pet") > 0;
  r.pet = r.dynamic ? vm["pet"].as<std::string>() : vm["pet-mean"].as<std::string>();
  r.out = vm["out"].as<std::string>();
  r.force = vm.count("force") > 0;
  r.atlas = vm["atlas"].as<std::string>();
  if (vm.count("tracer")) r.tracer = vm["tracer"].as<std::string>();
  r.params = pipeline::normalize_table().from_vm(vm);
  r.reference = pipeline::reference_table().from_vm(vm);
  return r;
}

// The workflow's options from a request (checked before any input is read).
NormalizeCliOptions options_from(const pipeline::NormalizeRequest& r) {
  NormalizeCliOptions o;
  const pipeline::NormalizeParams& np = r.params;
  const pipeline::ReferenceParams& rp = r.reference;
  nz::TemplateOptions& to = o.workflow.normalization;
  to = np.registration;
  if (!np.bspline_iterations.empty()) {
    const std::vector<int> its = parse_counts(np.bspline_iterations, "--bspline-iterations", 3);
    to.bspline.iterations = its;
    to.bspline.shrink = shrink_factors(its.size());
  }
  if (!np.demons_iterations.empty()) {
    const std::vector<int> its = parse_counts(np.demons_iterations, "--demons-iterations", 4);
    to.demons.iterations = its;
    to.demons.shrink = shrink_factors(its.size());
  }
  to.bspline.grid_mm.clear();  // one lattice per level: grid x the level's shrink factor
  for (int f : to.bspline.shrink) to.bspline.grid_mm.push_back(np.bspline_grid_mm * f);
  if (!np.brain_mask) to.brain_margin_mm = -1.0;
  o.workflow.trim_reference = rp.trim;
  o.workflow.grey_matter_mask = rp.gm_mask;
  o.reference = rp.region;
  o.template_choice = np.template_name;
  o.t1 = r.t1;
  o.dynamic = r.dynamic;
  o.pet = r.pet;
  o.out = r.out;
  o.force = r.force;
  o.atlas = r.atlas;
  o.tracer = r.tracer;
  o.workflow.pet_name = o.pet.filename().string();
  o.workflow.t1_name = o.t1.filename().string();
  o.workflow.pet_context = o.pet.string();
  return o;
}

}  // namespace
}  // namespace petpipe::cli

namespace petpipe::pipeline {

std::vector<std::string> request_args(const ApplyRequest& a) {
  std::vector<std::string> v{"normalize", "--apply", "--in", a.in.string(), "--transforms", a.transforms.string(),
                             "--out", a.out.string()};
  if (a.inverse) v.push_back("--inverse");
  if (a.labels) v.push_back("--labels");
  if (!a.like.empty()) v.insert(v.end(), {"--like", a.like.string()});
  if (a.bbox != ApplyRequest{}.bbox) {
    v.push_back("--bbox");
    for (double x : a.bbox) v.push_back(params::number_text(x));
  }
  if (a.force) v.push_back("--force");
  const auto t = mni_table().to_args(a.params);
  v.insert(v.end(), t.begin(), t.end());
  return v;
}

std::vector<std::string> request_args(const NormalizeRequest& r) {
  std::vector<std::string> v{"normalize", r.dynamic ? "--pet" : "--pet-mean", r.pet.string(), "--t1", r.t1.string(),
                             "--out", r.out.string(), "--atlas", r.atlas};
  if (!r.tracer.empty()) v.insert(v.end(), {"--tracer", r.tracer});
  if (r.force) v.push_back("--force");
  for (const auto& t : {normalize_table().to_args(r.params), reference_table().to_args(r.reference)})
    v.insert(v.end(), t.begin(), t.end());
  return v;
}

// ------------------------------------------------------------------------------------- --apply
void run_apply(const ApplyRequest& a) {
  using namespace petpipe::cli;
  require_file(a.in, "input image");
  if (!is_nifti(a.out)) throw make_error(a.out.string(), ": --out must be a NIfTI file name (.nii or .nii.gz)");
  std::error_code ec;
  if (fs::exists(a.out, ec) && !a.force) throw make_error(a.out.string(), ": exists (use --force to overwrite)");
  const nz::SubjectTransforms t = nz::read_transforms(a.transforms);

  Geometry target;
  nz::Transform pull;
  if (a.inverse) {
    if (!a.like.empty()) {
      target = read_image_info(a.like).geom;
    } else {
      const fs::path j = layout::transform_files(a.transforms).json;
      const auto js = read_json(j);
      if (!js.contains("pet_grid")) throw make_error(j.string(), ": no pet_grid recorded; give --like FILE");
      target = geometry_from_json(js["pet_grid"]);
    }
    pull = t.pet_to_mni();
  } else {
    const auto& box = a.bbox;
    if (box.size() != 6) throw make_error("--bbox takes 6 numbers (xmin ymin zmin xmax ymax zmax, MNI mm), not ", box.size());
    target = nz::mni_grid(a.params.voxel_mm, {box[0], box[1], box[2]}, {box[3], box[4], box[5]});
    pull = t.mni_to_pet();
  }
  if (a.labels) {
    const LabelImage src = read_labels(a.in);
    write_labels(a.out, nz::resample_nearest(src, target, pull));
  } else {
    const Image3D src = read_image(a.in);
    write_image(a.out, nz::resample_linear(src, target, pull));
  }
  Provenance prov;
  prov.inputs = {a.in, layout::transform_files(a.transforms).json};
  prov.configuration = {{"normalize_apply",
                         {{"direction", a.inverse ? "MNI -> PET" : "PET -> MNI"},
                          {"interpolation", a.labels ? "nearest" : "linear"},
                          {"grid", geometry_json(target)}}}};
  write_json(sidecar_path(a.out), prov.to_json());
  log::info("normalize --apply: wrote ", a.out.string());
}

// ------------------------------------------------------------------------------------ normalize
void run_normalize(const NormalizeRequest& request) {
  using namespace petpipe::cli;
  const NormalizeCliOptions o = options_from(request);
  require_file(o.t1, "T1 image");
  require_file(o.pet, "PET image");
  std::error_code ec;
  const layout::TransformFiles xfm = layout::transform_files(o.out / "transforms");
  const fs::path xdir = xfm.dir;
  if (fs::exists(xfm.json, ec) && !o.force)
    throw make_error(o.out.string(), ": holds a previous normalize run (use --force to overwrite)");

  // Atlas and templates first: a missing template package fails before any work.
  const roi::Atlas atlas = roi::load_atlas(o.atlas);
  if (o.template_choice != "auto" && o.template_choice != "head" && o.template_choice != "brain")
    throw make_error("--template ", o.template_choice, ": expected auto, head or brain");

  // Inputs.
  DynamicImage pet;
  Image3D pet_mean;
  if (o.dynamic)
    pet = read_dynamic(o.pet);
  else
    pet_mean = read_image(o.pet);
  const Image3D t1 = read_image(o.t1);
  const bool brain_t1 = o.template_choice == "brain" || (o.template_choice == "auto" && nz::looks_skull_stripped(t1));
  const char* tkey = brain_t1 ? "T1_brain" : "T1_head";
  if (!atlas.templates.count(tkey)) throw make_error(atlas.definition_file.string(), ": no \"", tkey, "\" template");
  nz::TemplateSpace space;
  space.t1 = read_image(atlas.templates.at(tkey));
  if (!atlas.templates.count("T1_brain")) throw make_error(atlas.definition_file.string(), ": no \"T1_brain\" template");
  space.brain = brain_t1 ? space.t1 : read_image(atlas.templates.at("T1_brain"));
  space.labels = read_labels(atlas.labels_image);
  for (const auto& [value, name] : atlas.label_names) space.label_names[value] = name;

  // Reference region choice: --reference, else the tracer preset's (--tracer, or the sidecar's tracer name).
  const std::string tracer = !o.tracer.empty() ? o.tracer : (o.dynamic ? pet.frames.tracer : "");
  std::string ref_name = o.reference;
  if (ref_name.empty() && !tracer.empty()) {
    const auto preset = pipeline::find_tracer_preset(tracer);
    const bool has_region = preset && preset->config.contains("reference") &&
                            preset->config["reference"].contains("region");
    if (has_region) {
      ref_name = preset->config["reference"]["region"].get<std::string>();
    } else {
      std::string known;
      for (const auto& k : pipeline::known_tracers()) known += (known.empty() ? "" : ", ") + k;
      if (!o.tracer.empty())
        throw make_error("--tracer ", tracer, ": no tracer preset with a reference region (known: ", known,
                         "); give --reference");
      log::warn("no reference region is known for tracer \"", tracer, "\" (presets: ", known, "); none placed");
    }
  }
  std::optional<nz::ReferenceInput> reference;
  if (!ref_name.empty()) {
    const roi::ReferenceRegion& ref = atlas.reference(ref_name);
    reference = nz::ReferenceInput{ref.name, roi::region_mask(ref.region, space.labels)};
  }

  const nz::SubjectNormalization r = o.dynamic ? nz::normalize_subject(pet, t1, space, reference, o.workflow)
                                               : nz::normalize_subject(pet_mean, t1, space, reference, o.workflow);
  const nz::SubjectTransforms& st = r.transforms;

  // Outputs (each written atomically; nothing is written before every step above succeeded).
  const layout::NormalizeFiles files =
      layout::normalize_files(layout::source_of(o.pet, {"_pet"}), layout::source_of(o.t1, {"_T1w"}), o.out);
  fs::create_directories(o.out, ec);
  if (ec) throw make_error(o.out.string(), ": cannot create directory: ", ec.message());
  nz::write_transforms(xdir, st);
  {
    nlohmann::json j = read_json(xfm.json);
    j["pet_grid"] = geometry_json(r.pet_mean.geom);
    j["t1_grid"] = geometry_json(t1.geom);
    j["template"] = atlas.templates.at(tkey).string();
    write_json(xfm.json, j);
  }
  write_image(files.t1_mni, r.t1_mni);
  write_image(files.pet_in_t1, r.pet_in_t1);
  write_image(files.t1_coreg, r.t1_in_pet);
  write_image(files.template_in_t1, r.template_in_t1);
  if (o.dynamic) write_image(files.pet_mean, r.pet_mean);
  write_labels(files.dseg, r.labels);
  write_labels(files.dseg_subvoxel, r.subvoxel_labels);
  nlohmann::json summary;
  if (r.reference) {
    const nz::ReferencePlacement& ref = *r.reference;
    const nz::ReferenceResult& rr = ref.region;
    write_mask(files.ref_mask(ref.name), rr.mask);
    if (ref.grey_matter_masked) write_labels(files.t1_kmeans, ref.tissue.classes);
    summary["reference_region"] = {{"name", ref.name},
                                   {"atlas_voxels", rr.template_voxels},
                                   {"trimmed_atlas_voxels", rr.trimmed_template_voxels},
                                   {"candidate_pet_voxels", rr.candidate_voxels},
                                   {"final_pet_voxels", rr.final_voxels},
                                   {"mean_pet_mode", rr.mode},
                                   {"mean_pet_robust_sd", rr.robust_sd},
                                   {"trimmed", ref.trimmed},
                                   {"grey_matter_masked", ref.grey_matter_masked}};
    if (ref.grey_matter_masked)
      summary["tissue_classes"] = {{"labels", "1 CSF, 2 GM, 3 WM (k-means of T1 intensities in the template brain)"},
                                   {"centres", ref.tissue.centres}, {"voxels", ref.tissue.voxels}};
    if (o.dynamic) {
      Table tab;
      tab.columns = {"frame_start", "frame_end", ref.name};
      for (std::size_t f = 0; f < ref.tac.size(); ++f)
        tab.add_row({format_number(pet.frames.start_s[f]), format_number(pet.frames.end_s(f)), format_number(ref.tac[f])});
      write_tsv(files.ref_tacs(ref.name), tab);
    }
  }
  const nz::CoregisterResult& cr = r.coregistration;
  const nz::TemplateOptions& to = o.workflow.normalization;
  summary["coregistration"] = {{"rotation_deg", st.t1_to_pet.rotation_degrees()},
                               {"mattes_mi", cr.metric},
                               {"nmi", cr.nmi},
                               {"orientation_nmi", {cr.orientation.identity_nmi, cr.orientation.best_other_nmi}}};
  summary["timing_s"] = {{"pet_to_t1", r.coregister_seconds}, {"t1_to_mni", r.normalize_seconds},
                         {"pet_to_t1_cpu", r.coregister_cpu_seconds}, {"t1_to_mni_cpu", r.normalize_cpu_seconds}};
  summary["normalization"] = {{"template", atlas.templates.at(tkey).string()},
                              {"affine_scale", std::cbrt(st.normalization.mni_to_t1.determinant())},
                              {"affine_mattes_mi", st.normalization.affine_metric},
                              {"deformable", to.deformable},
                              {"deformable_method", to.method == nz::TemplateOptions::Deformable::bspline ? "bspline" : "demons"},
                              {"working_spacing_mm", to.working_spacing_mm},
                              {"deformable_rms", {st.normalization.deformable_initial_rms, st.normalization.deformable_final_rms}}};
  Provenance prov;
  prov.inputs = {o.pet, o.t1, atlas.definition_file, atlas.templates.at(tkey), atlas.labels_image};
  prov.configuration = {{"normalize", summary}};
  write_json(files.record, prov.to_json());
  log::info("normalize: wrote ", o.out.string());
}

}  // namespace petpipe::pipeline

namespace petpipe::cli {

namespace {
std::string bbox_help() {
  std::ostringstream os;
  os << "--apply: MNI bounding box xmin ymin zmin xmax ymax zmax (RAS mm; default: SPM's,";
  for (double x : pipeline::ApplyRequest{}.bbox) os << ' ' << params::number_text(x);
  os << ")";
  return os.str();
}
}  // namespace

Command normalize_command() {
  Command c;
  c.name = "normalize";
  c.synopsis = "PET -> T1 coregistration, T1 -> MNI normalisation, atlas regions in PET space";
  c.description =
      "Registers the mean PET (--pet-mean, or the duration-weighted mean of the frames of --pet) rigidly to "
      "the subject's T1 (Mattes mutual information, 8/4/3 mm pyramid), and the T1 to the Colin27 MNI "
      "template of Debian's mricron-data (ch2 with skull, or ch2bet for a skull-stripped T1; chosen "
      "automatically) by an affine (Mattes MI) and then a deformable step on locally contrast-normalised "
      "images (--contrast-sigma), with its cost taken only inside the template brain (ch2bet) dilated by "
      "--brain-margin, so that scalp, skull, intensity non-uniformity and contrast differences do not drive "
      "the field. The default deformable step (--deformable bspline) is a cubic B-spline free-form "
      "deformation: lattices of 40, 20 and 10 mm (--bspline-grid) fitted by L-BFGS at 4, 2 and 1 mm "
      "(--bspline-image-spacing, never finer than the T1) to the mean squared difference at up to 600000 "
      "points jittered inside their voxels, with the T1 sampled through the affine inside the cost (one "
      "interpolation) and a membrane-energy penalty (--bspline-smoothness). --deformable demons runs "
      "symmetric-force demons on the --working-spacing grid instead. The field is stored on the "
      "--working-spacing grid. Before registering, the images are checked for overlap and for a "
      "different orientation convention (a far better match after a 90/180 degree axis rotation).\n\n"
      "Writes into --out: transforms/ (pet_to_t1_rigid.txt and t1_to_mni_affine.txt as ITK transform files, "
      "t1_to_mni_warp.nii.gz and its inverse as ITK/ANTs displacement fields, transforms.json), the T1 in "
      "MNI space (1 mm), the template in T1 space and the mean PET in T1 space (QC overlays), AAL labels in "
      "PET space (nearest neighbour), and for a tracer with a reference region (--tracer, or the sidecar's "
      "TracerName) the trimmed reference mask in PET space and, for --pet, its TAC.\n\n"
      "Reference-region trimming: in MNI space the top and bottom sixths of the region's vertical extent "
      "are dropped (and for cerebellar grey matter voxels within 6 mm of the vermis); in PET space a voxel "
      "is kept when at least half of it lies in the region (fractional occupancy, 27 sub-samples), it is "
      "not on the region's boundary (face neighbours at least 10 % occupied) and its mean-PET value lies "
      "within one robust SD of the mode of the region's histogram. --no-trim keeps only the occupancy step; --gm-mask "
      "then keeps the voxels that are at least half grey matter in a 3-class k-means of the T1.\n\n"
      "--apply warps an image with saved transforms: PET space -> MNI (default; 2 mm SPM box, linear) or, "
      "with --inverse, MNI -> PET space; --labels uses nearest-neighbour interpolation.";
  c.examples = {
      {"petpipe normalize --pet sub-01_trc-carfentanil_pet.nii.gz --t1 sub-01_T1w.nii.gz --out deriv/sub-01",
       "Coregister, normalise, and place the occipital reference region (carfentanil) in PET space."},
      {"petpipe normalize --pet-mean mean.nii.gz --t1 t1.nii.gz --tracer madam --out norm",
       "The same from a mean image, with the MADAM cerebellar grey-matter reference."},
      {"petpipe normalize --apply --in bpnd.nii.gz --transforms norm/transforms --out bpnd_mni.nii.gz",
       "Warp a PET-space map to MNI (2 mm, 91 x 109 x 91)."},
      {"petpipe normalize --apply --inverse --labels --in /usr/share/mricron/templates/aal.nii.gz "
       "--transforms norm/transforms --out aal_pet.nii.gz",
       "Atlas labels into PET space."}};
  c.references = {
      "Mattes D et al. PET-CT image registration in the chest using free-form deformations. IEEE Trans Med "
      "Imaging 2003;22:120-128.",
      "Rueckert D et al. Nonrigid registration using free-form deformations: application to breast MR images. "
      "IEEE Trans Med Imaging 1999;18:712-721.",
      "Thirion JP. Image matching as a diffusion process: an analogy with Maxwell's demons. Med Image Anal "
      "1998;2:243-260.",
      "Vercauteren T et al. Diffeomorphic demons: efficient non-parametric image registration. NeuroImage "
      "2009;45:S61-S72.",
      "Karjalainen T et al. Magia: robust automated image processing and kinetic modeling toolbox for PET "
      "neuroinformatics. Front Neuroinform 2020;14:3.",
      "Tzourio-Mazoyer N et al. Automated anatomical labeling of activations in SPM. NeuroImage "
      "2002;15:273-289."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("pet", po::value<std::string>(), "dynamic PET (4D, PET-BIDS sidecar beside it)")
        ("pet-mean", po::value<std::string>(), "mean PET image (3D), instead of --pet")
        ("t1", po::value<std::string>(), "the subject's T1-weighted image")
        ("out", po::value<std::string>(), "output directory (--apply: output image)")
        ("tracer", po::value<std::string>(), "tracer whose preset (tracers/) names the reference region")
        ("atlas", po::value<std::string>()->default_value("aal"), "atlas definition (name or JSON file)")
        ("apply", "warp --in with the saved --transforms")
        ("in", po::value<std::string>(), "--apply: image to warp")
        ("transforms", po::value<std::string>(), "--apply: transforms/ folder of a normalize run")
        ("inverse", "--apply: MNI -> PET space (default PET -> MNI)")
        ("labels", "--apply: nearest-neighbour interpolation (label images)")
        ("like", po::value<std::string>(), "--apply --inverse: image whose grid is the output grid")
        ("bbox", po::value<std::vector<double>>()->multitoken(),
         bbox_help().c_str());
    pipeline::normalize_table().add_options(d);
    pipeline::reference_table().add_options(d);
    pipeline::mni_table().add_options(d);
  };
  c.run = [](const po::variables_map& vm) {
    if (vm.count("apply"))
      pipeline::run_apply(apply_request_from(vm));
    else
      pipeline::run_normalize(request_from(vm));
    return 0;
  };
  return c;
}

PETPIPE_REGISTER_COMMAND(normalize_command, 50)

}  // namespace petpipe::cli
