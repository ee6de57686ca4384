#include "petpipe/normalize/workflow.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"

namespace petpipe::normalize {

namespace {

// Places the reference region in PET space: the preset trimming of its name, the vermis margin for
// cerebellar grey matter, optional grey-matter masking, and the TAC of dynamic PET.
ReferencePlacement place_reference(const ReferenceInput& ref, const SubjectNormalization& s, const Image3D& t1,
                                   const TemplateSpace& space, const DynamicImage* dynamic,
                                   const WorkflowOptions& options) {
  const LabelImage& atlas = space.labels;
  if (!ref.region.geom.same_grid(atlas.geom))
    throw make_error("reference region ", ref.name, ": not on the grid of the atlas labels");
  ReferencePlacement p;
  p.name = ref.name;
  p.trimmed = options.trim_reference;
  Mask exclude(atlas.geom, 0);
  if (ref.name == "cerebellum_gm")
    for (const auto& [value, name] : space.label_names)
      if (name.rfind("Vermis", 0) == 0)
        for (std::size_t v = 0; v < atlas.data.size(); ++v)
          if (atlas.data[v] == value) exclude.data[v] = 1;
  const SubjectTransforms& st = s.transforms;
  p.region = place_reference_region(ref.region, exclude, s.pet_mean, st.pet_to_mni(),
                                    reference_options_for(ref.name, options.trim_reference));
  ReferenceResult& rr = p.region;
  if (options.grey_matter_mask) {
    // Brain = the template brain (non-zero) pulled back into T1 space; k-means CSF / GM / WM on the T1
    // inside it; GM fraction of each PET voxel (27 sub-samples); keep reference voxels >= the fraction.
    Mask tb(space.brain.geom, 0);
    for (std::size_t v = 0; v < tb.data.size(); ++v) tb.data[v] = space.brain.data[v] > 0;
    const Image3D bt1 = resample_occupancy(tb, t1.geom, st.t1_to_mni(), 1);
    Mask brain(t1.geom, 0);
    for (std::size_t v = 0; v < brain.data.size(); ++v) brain.data[v] = bt1.data[v] >= 0.5f;
    p.tissue = classify_tissue(t1, brain);
    Mask gm(t1.geom, 0);
    for (std::size_t v = 0; v < gm.data.size(); ++v) gm.data[v] = p.tissue.classes.data[v] == kTissueGrey;
    const Image3D gm_pet = resample_occupancy(gm, s.pet_mean.geom, st.pet_to_t1_transform(), 3);
    const std::size_t before = rr.final_voxels;
    p.grey_matter_masked = true;
    if (!restrict_to_grey_matter(rr, gm_pet, options.grey_matter_fraction, options.grey_matter_min_voxels))
      log::warn("normalize: grey-matter masking would leave fewer than ", options.grey_matter_min_voxels,
                " reference voxels; skipped");
    log::info("normalize: T1 k-means centres CSF/GM/WM ", p.tissue.centres[0], " / ", p.tissue.centres[1], " / ",
              p.tissue.centres[2], "; grey-matter masking kept ", rr.final_voxels, " of ", before, " reference voxels");
  }
  if (dynamic) p.tac = region_tac(*dynamic, rr.mask);
  log::info("normalize: reference region ", ref.name, ": ", rr.final_voxels, " PET voxels (", rr.candidate_voxels,
            " before mode trimming)");
  return p;
}

SubjectNormalization run(Image3D pet_mean, const DynamicImage* dynamic, const Image3D& t1, const TemplateSpace& space,
                         const std::optional<ReferenceInput>& reference, const WorkflowOptions& options) {
  SubjectNormalization s;
  s.pet_mean = std::move(pet_mean);
  const Image3D& pet = s.pet_mean;
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point a) { return std::chrono::duration<double>(clock::now() - a).count(); };
  auto cpu_seconds = [](std::clock_t a) { return double(std::clock() - a) / CLOCKS_PER_SEC; };  // all threads
  SubjectTransforms& st = s.transforms;
  auto t0 = clock::now();
  auto c0 = std::clock();
  s.coregistration = coregister(pet, t1, options.coregister, options.pet_name, options.t1_name);
  st.t1_to_pet = s.coregistration.t1_to_pet;
  s.coregister_seconds = seconds(t0);
  s.coregister_cpu_seconds = cpu_seconds(c0);
  t0 = clock::now();
  c0 = std::clock();
  st.normalization = to_template(t1, space.t1, options.normalization, options.t1_name, &space.brain);
  s.normalize_seconds = seconds(t0);
  s.normalize_cpu_seconds = cpu_seconds(c0);
  log::info("normalize: time: PET -> T1 ", s.coregister_seconds, " s, T1 -> MNI ", s.normalize_seconds, " s");

  // Derived images.
  const Geometry mni = mni_grid(options.t1_mni_spacing_mm, {-90, -126, -72}, {90, 90, 108});
  s.t1_mni = resample_linear(t1, mni, st.mni_to_t1());
  s.pet_in_t1 = resample_linear(pet, t1.geom, st.t1_to_pet_transform());
  // The T1 in the PET's physical space (at the finer of the two voxel sizes), for coregistration QC.
  const double fine = std::min({t1.geom.spacing[0], t1.geom.spacing[1], t1.geom.spacing[2], pet.geom.spacing[0]});
  s.t1_in_pet = resample_linear(t1, regrid(pet.geom, fine), st.pet_to_t1_transform());
  const Transform pet_to_mni = st.pet_to_mni();
  s.labels = resample_nearest(space.labels, pet.geom, pet_to_mni);
  // The same labels on a sub-voxel grid, for partial-volume ROI weights.
  s.subvoxel_labels = with_context(options.pet_context, [&] {
    return resample_nearest_subvoxel(space.labels, s.labels, pet_to_mni);
  });
  s.template_in_t1 = resample_linear(space.t1, t1.geom, st.t1_to_mni());

  if (reference) s.reference = place_reference(*reference, s, t1, space, dynamic, options);
  return s;
}

}  // namespace

Image3D time_average(const DynamicImage& pet) {
  Image3D m(pet.geom, 0.0f);
  double total = 0;
  for (std::size_t f = 0; f < pet.frame_count(); ++f) {
    const double w = pet.frames.duration_s[f];
    const float* p = pet.frame(f);
    for (std::size_t v = 0; v < m.data.size(); ++v)
      if (std::isfinite(p[v])) m.data[v] += float(w * p[v]);
    total += w;
  }
  for (auto& v : m.data) v = float(v / total);
  return m;
}

bool looks_skull_stripped(const Image3D& t1) {
  std::size_t z = 0;
  for (float v : t1.data) z += !(v > 0);
  return double(z) / double(std::max<std::size_t>(1, t1.data.size())) > 0.6;
}

SubjectNormalization normalize_subject(const Image3D& pet_mean, const Image3D& t1, const TemplateSpace& space,
                                       const std::optional<ReferenceInput>& reference,
                                       const WorkflowOptions& options) {
  return run(pet_mean, nullptr, t1, space, reference, options);
}

SubjectNormalization normalize_subject(const DynamicImage& pet, const Image3D& t1, const TemplateSpace& space,
                                       const std::optional<ReferenceInput>& reference,
                                       const WorkflowOptions& options) {
  return run(time_average(pet), &pet, t1, space, reference, options);
}

}  // namespace petpipe::normalize
