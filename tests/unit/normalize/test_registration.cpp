// Registration on Colin27 warped by known transforms (coarse voxels for speed).
#include <gtest/gtest.h>

#include <chrono>

#include "helpers.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/normalize/normalize.hpp"

using namespace test_normalize;

namespace {

struct Colin {
  Image3D head1;   // 1 mm with skull
  Image3D brain1;  // 1 mm skull-stripped
  Image3D head2;   // 2 mm block averages
  LabelImage aal;  // 1 mm
};

const Colin& colin() {
  static const Colin c = [] {
    Colin c;
    c.head1 = read_image(template_dir() / "ch2.nii.gz");
    c.brain1 = read_image(template_dir() / "ch2bet.nii.gz");
    c.head2 = block_average(c.head1, 2);
    c.aal = read_labels(template_dir() / "aal.nii.gz");
    return c;
  }();
  return c;
}

// A PET-like contrast from the skull-stripped T1: grey matter bright, white matter dim, CSF empty.
Image3D pet_like(const Image3D& brain) {
  Image3D p = brain;
  for (auto& v : p.data) v = v > 60 ? std::max(0.0f, 260.0f - v) : 0.0f;
  return block_average(p, 2);
}

double mean_error(const Transform& estimate, const Transform& truth, const Image3D& brain, int step) {
  double s = 0;
  std::size_t n = 0;
  const auto& g = brain.geom;
  for (std::size_t k = 0; k < g.size[2]; k += step)
    for (std::size_t j = 0; j < g.size[1]; j += step)
      for (std::size_t i = 0; i < g.size[0]; i += step) {
        if (brain.at(i, j, k) <= 0) continue;
        const Vec3 x = g.index_to_point({double(i), double(j), double(k)});
        s += distance(estimate.apply(x), truth.apply(x));
        ++n;
      }
  return s / double(n);
}

}  // namespace

TEST(NormalizeRegistration, PetToT1RecoversKnownRigid) {
  const Colin& c = colin();
  const Image3D pet_src = pet_like(c.brain1);
  // Truth: T1 point -> PET point.
  const AffineMap truth = rigid(6, -4, 8, {5, -8, 6});
  Geometry pg;
  pg.size = {64, 72, 52};
  pg.spacing = {3, 3, 3};
  pg.origin = {-96, -120, -70};
  const Image3D pet = resample_linear(pet_src, pg, Transform({truth.inverse()}));
  CoregisterOptions o;
  const auto t0 = std::chrono::steady_clock::now();
  const CoregisterResult r = coregister(pet, c.head2, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double err = mean_error(Transform({r.t1_to_pet}), Transform({truth}), c.brain1, 3);
  std::printf("PET->T1: mean error %.3f mm, %.1f s, NMI %.3f (orientation NMI %.3f vs %.3f)\n", err, secs, r.nmi,
              r.orientation.identity_nmi, r.orientation.best_other_nmi);
  EXPECT_LT(err, 1.0);
  EXPECT_TRUE(r.orientation.consistent);
}

TEST(NormalizeRegistration, T1ToTemplateRecoversKnownDeformation) {
  const Colin& c = colin();
  // Truth: subject point y -> template point B(y) + w(B(y)).
  const AffineMap B = rigid(5, -3, 4, {4, -6, 3}, 0.95);
  const DisplacementField w = smooth_field(petpipe::normalize::regrid(c.head1.geom, 4.0), 3.0);
  const Transform subject_to_template({B, w});
  Geometry sg = c.head2.geom;  // subject grid: 2 mm
  const Image3D subject = resample_linear(c.head1, sg, subject_to_template);

  TemplateOptions o;
  o.working_spacing_mm = 3.0;
  const auto t0 = std::chrono::steady_clock::now();
  const TemplateResult r = to_template(subject, c.head2, o, "synthetic T1");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Displacement error in template space: template point x -> estimated subject point -> back
  // through the truth should return x.
  Transform round_trip = r.template_to_t1();
  round_trip.then(B).then(w);
  const double err = mean_error(round_trip, Transform::identity(), c.brain1, 2);
  // affine only, for comparison
  TemplateResult affine_only = r;
  affine_only.field = {};
  Transform rt_aff = affine_only.template_to_t1();
  rt_aff.then(B).then(w);
  const double err_aff = mean_error(rt_aff, Transform::identity(), c.brain1, 2);

  // Dice of atlas structures warped into subject space, 1 mm subject grid around the deep structures.
  Geometry sub1;
  sub1.size = {100, 110, 80};
  sub1.origin = {-50, -70, -50};
  const LabelImage truth = resample_nearest(c.aal, sub1, subject_to_template);
  const LabelImage est = resample_nearest(c.aal, sub1, r.t1_to_template());
  std::printf("T1->MNI: mean error %.3f mm (affine only %.3f mm), %.1f s, RMS %.1f -> %.1f (orientation NMI %.3f vs "
              "%.3f)\n",
              err, err_aff, secs, r.deformable_initial_rms, r.deformable_final_rms, r.orientation.identity_nmi,
              r.orientation.best_other_nmi);
  EXPECT_TRUE(r.orientation.consistent);
  EXPECT_LT(err, 1.0);
  EXPECT_LT(err, err_aff);
  // AAL: 37/38 hippocampus, 41/42 amygdala, 77/78 thalamus
  for (int label : {37, 38, 41, 42, 77, 78}) {
    const double d = dice(truth, est, label);
    std::printf("  Dice label %d: %.3f\n", label, d);
    EXPECT_GE(d, 0.85) << "label " << label;
  }
}

TEST(NormalizeRegistration, NonOverlappingImagesAreRejected) {
  const Colin& c = colin();
  Image3D pet = pet_like(c.brain1);
  pet.geom.origin[0] += 2000;
  try {
    coregister(pet, c.head2, {}, "pet.nii.gz", "t1.nii.gz");
    FAIL() << "expected an error";
  } catch (const petpipe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not overlap"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pet.nii.gz"), std::string::npos) << e.what();
  }
}

TEST(NormalizeRegistration, DifferentOrientationConventionIsRejected) {
  const Colin& c = colin();
  // T1 whose voxels are rotated by 90 degrees about the left-right axis while the header still claims
  // the template's orientation (e.g. a sagittal/coronal acquisition with a wrong header).
  const Image3D& h = c.head2;
  Image3D bad;
  bad.geom = h.geom;
  bad.geom.size = {h.geom.size[0], h.geom.size[2], h.geom.size[1]};
  bad.data.resize(h.data.size());
  for (std::size_t k = 0; k < h.geom.size[2]; ++k)
    for (std::size_t j = 0; j < h.geom.size[1]; ++j)
      for (std::size_t i = 0; i < h.geom.size[0]; ++i)
        bad.at(i, h.geom.size[2] - 1 - k, j) = h.at(i, j, k);
  const OrientationCheck ok = check_orientation(h, h);
  EXPECT_TRUE(ok.consistent);
  try {
    to_template(bad, h, {}, "t1_bad.nii.gz");
    FAIL() << "expected an error";
  } catch (const petpipe::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("orientation"), std::string::npos) << m;
    EXPECT_NE(m.find("t1_bad.nii.gz"), std::string::npos) << m;
    std::printf("%s\n", m.c_str());
  }
  const Image3D pet = pet_like(c.brain1);
  try {
    coregister(pet, bad, {}, "pet.nii.gz", "t1_bad.nii.gz");
    FAIL() << "expected an error";
  } catch (const petpipe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("orientation"), std::string::npos) << e.what();
    std::printf("%s\n", e.what());
  }
}
