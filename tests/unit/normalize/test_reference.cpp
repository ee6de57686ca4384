// Reference regions placed in PET space from the AAL definitions: the TAC of the automatically placed
// and trimmed region must match the phantom's true reference TAC.
#include <gtest/gtest.h>

#include <set>

#include "helpers.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/normalize/normalize.hpp"
#include "petpipe/roi/atlas.hpp"

using namespace test_normalize;

namespace {

// Separable Gaussian (FWHM mm), zero outside; written here independently of the module.
Image3D blur(const Image3D& in, double fwhm) {
  Image3D out = in;
  const auto& g = in.geom;
  for (int a = 0; a < 3; ++a) {
    const double s = fwhm / 2.3548 / g.spacing[a];
    const int r = int(std::ceil(3 * s));
    std::vector<double> k(2 * r + 1);
    double sum = 0;
    for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-0.5 * i * i / (s * s));
    for (auto& v : k) v /= sum;
    Image3D src = out;
    for (std::size_t z = 0; z < g.size[2]; ++z)
      for (std::size_t y = 0; y < g.size[1]; ++y)
        for (std::size_t x = 0; x < g.size[0]; ++x) {
          double acc = 0;
          long idx[3] = {long(x), long(y), long(z)};
          const long c = idx[a];
          for (int i = -r; i <= r; ++i) {
            idx[a] = c + i;
            if (idx[a] < 0 || idx[a] >= long(g.size[a])) continue;
            acc += k[i + r] * src.at(idx[0], idx[1], idx[2]);
          }
          out.at(x, y, z) = float(acc);
        }
  }
  return out;
}

struct Phantom {
  DynamicImage pet;        // in subject PET space
  Image3D mean;            // time-average
  Transform pet_to_mni;    // truth
  std::vector<double> reference_tac;
  petpipe::roi::Atlas atlas;
  LabelImage aal;
};

// A dynamic phantom: the tracer's reference region carries `ref`, other AAL regions a higher uptake,
// white matter 0.6 x ref, CSF and outside the brain nothing; blurred to 5 mm FWHM in MNI space and
// sampled on a 2.5 mm PET grid through a known rigid + smooth transform.
Phantom make_phantom(const std::string& reference) {
  Phantom p;
  p.atlas = petpipe::roi::load_atlas("aal");
  p.aal = read_labels(p.atlas.labels_image);
  const Image3D brain1 = read_image(p.atlas.templates.at("T1_brain"));
  const Geometry mni = mni_grid(2.0);
  const LabelImage lab = resample_nearest(p.aal, mni, Transform::identity());
  const Image3D brain = resample_linear(brain1, mni, Transform::identity());
  const auto& ref = p.atlas.reference(reference).region;
  const std::set<int> ref_labels(ref.label_values.begin(), ref.label_values.end());
  p.reference_tac = {2.0, 9.0, 14.0, 12.0, 9.5, 7.0};
  const std::vector<double> specific = {0.1, 0.6, 1.2, 1.6, 1.8, 1.9};  // target/ref - 1 over time

  p.pet_to_mni = Transform({rigid(4, -3, 5, {3, -5, 4}), smooth_field(regrid(mni, 6.0), 2.0)});
  Geometry pg;
  pg.size = {76, 90, 72};
  pg.spacing = {2.5, 2.5, 2.5};
  pg.origin = {-95, -125, -75};
  p.pet.geom = pg;
  p.pet.frames.start_s = {0, 60, 180, 600, 1200, 2400};
  p.pet.frames.duration_s = {60, 120, 420, 600, 1200, 1200};
  p.pet.data.resize(6 * pg.voxel_count());
  p.mean = Image3D(pg, 0.0f);
  double total_t = 0;
  for (std::size_t f = 0; f < 6; ++f) {
    Image3D act(mni, 0.0f);
    for (std::size_t v = 0; v < act.data.size(); ++v) {
      const int l = lab.data[v];
      if (ref_labels.count(l)) act.data[v] = float(p.reference_tac[f]);
      else if (l > 0) act.data[v] = float(p.reference_tac[f] * (1 + specific[f] * (l % 3 == 0 ? 1.0 : 0.6)));
      else if (brain.data[v] > 90) act.data[v] = float(0.6 * p.reference_tac[f]);
    }
    const Image3D frame = resample_linear(blur(act, 5.0), pg, p.pet_to_mni);
    std::copy(frame.data.begin(), frame.data.end(), p.pet.frame(f));
    for (std::size_t v = 0; v < frame.data.size(); ++v) p.mean.data[v] += frame.data[v] * p.pet.frames.duration_s[f];
    total_t += p.pet.frames.duration_s[f];
  }
  for (auto& v : p.mean.data) v = float(v / total_t);
  return p;
}

void check_reference(const std::string& name, const std::vector<std::string>& exclude_labels) {
  const Phantom p = make_phantom(name);
  const auto& region = p.atlas.reference(name).region;
  const Mask rm = petpipe::roi::region_mask(region, p.aal);
  Mask ex(p.aal.geom, 0);
  for (const auto& [value, label] : p.atlas.label_names)
    for (const auto& e : exclude_labels)
      if (label.rfind(e, 0) == 0)
        for (std::size_t v = 0; v < ex.data.size(); ++v)
          if (p.aal.data[v] == value) ex.data[v] = 1;
  const ReferenceOptions o = reference_options_for(name);
  const ReferenceResult r = place_reference_region(rm, ex, p.mean, p.pet_to_mni, o);
  const std::vector<double> tac = region_tac(p.pet, r.mask);
  // The untrimmed region (reference_options_for(name, false): occupancy >= 0.5 only) for comparison.
  const ReferenceOptions plain = reference_options_for(name, false);
  const ReferenceResult r0 = place_reference_region(rm, ex, p.mean, p.pet_to_mni, plain);
  // untrimmed = every atlas voxel kept in template space, no candidate removed in PET space
  EXPECT_EQ(r0.trimmed_template_voxels, r0.template_voxels);
  EXPECT_EQ(r0.final_voxels, r0.candidate_voxels);
  EXPECT_GT(r0.final_voxels, r.final_voxels);
  std::size_t missing = 0;
  for (std::size_t v = 0; v < r.mask.data.size(); ++v) missing += r.mask.data[v] && !r0.mask.data[v];
  EXPECT_EQ(missing, 0u) << "trimmed voxels missing from the untrimmed region";
  const std::vector<double> tac0 = region_tac(p.pet, r0.mask);
  double worst = 0, worst0 = 0;
  for (std::size_t f = 0; f < tac.size(); ++f) {
    worst = std::max(worst, std::abs(tac[f] / p.reference_tac[f] - 1));
    worst0 = std::max(worst0, std::abs(tac0[f] / p.reference_tac[f] - 1));
  }
  std::printf("%s: %zu atlas voxels, %zu trimmed, %zu candidates, %zu final; worst TAC error %.2f %% "
              "(untrimmed region: %.2f %%, %zu voxels)\n",
              name.c_str(), r.template_voxels, r.trimmed_template_voxels, r.candidate_voxels, r.final_voxels,
              100 * worst, 100 * worst0, r0.final_voxels);
  EXPECT_LT(worst, 0.02);
  EXPECT_GE(r.final_voxels, 50u);
  EXPECT_LT(worst, worst0);
}

}  // namespace

TEST(NormalizeReference, OccipitalTacWithinTwoPercent) { check_reference("occipital", {}); }

TEST(NormalizeReference, CerebellarGreyMatterTacWithinTwoPercent) {
  check_reference("cerebellum_gm", {"Vermis"});
}

TEST(NormalizeReference, EmptyRegionIsAnError) {
  Geometry g;
  g.size = {10, 10, 10};
  const Mask empty(g, 0);
  const Image3D pet(g, 1.0f);
  EXPECT_THROW(place_reference_region(empty, Mask{}, pet, Transform::identity(), {}), petpipe::Error);
}
