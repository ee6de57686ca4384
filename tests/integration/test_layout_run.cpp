// Output names of a subject run: every file petpipe run writes is one the derivatives layout
// (core/layout.hpp) names, every file the layout requires is there, and the QC report's loader finds
// every input it shows through the same layout.
#include <gtest/gtest.h>

#include <set>

#include "petpipe/core/layout.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/qc/report_io.hpp"
#include "test_util.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

TEST(LayoutRun, EveryFileOfASubjectRunIsNamedByTheLayout) {
  const fs::path dir = test::fresh_dir("layout_run");
  const std::string exe = test::petpipe_exe();
  write_text(dir / "fast.json",
             R"({"normalize": {"deformable": false, "working_spacing_mm": 4}, "srtm": {"basis_functions": 60}})");
  auto r = test::run(exe + " simulate --out " + (dir / "bids").string() +
                     " --subjects 1 --voxel-size 4 --t1-voxel-size 2 --noise 0.1 --seed 9 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = test::run(exe + " run --bids " + (dir / "bids").string() + " --out " + (dir / "out").string() + " --config " +
                (dir / "fast.json").string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const fs::path out = dir / "out";
  const layout::ScanLayout l =
      layout::scan_layout(out, "01", "", "carfentanil", "sub-01_trc-carfentanil_pet.nii.gz", "sub-01_T1w.nii.gz",
                          "occipital", 8.0);
  std::set<fs::path> named;
  for (const auto& f : l.files()) named.insert(f.lexically_normal());
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(l.dir)) {
    if (!e.is_regular_file()) continue;
    const fs::path p = e.path().lexically_normal();
    if (p.parent_path() == l.state_dir.lexically_normal()) continue;  // stage records
    ++files;
    EXPECT_TRUE(named.count(p)) << p << " is not named by the layout";
  }
  EXPECT_GT(files, 40u);
  // every file a complete run always writes
  for (const auto& f : {l.status, l.config, l.h5, l.report, l.realign.mc, l.realign.motion, l.srtm.map("BPND"),
                        l.ref_mask, l.mni_sm_map("BPND"), l.roistats, l.tacs, l.fits, l.kinpar, l.normalize.t1_mni,
                        l.normalize.pet_to_t1, l.normalize.dseg_subvoxel})
    EXPECT_TRUE(fs::is_regular_file(f)) << f;
  // the stage records hold only records
  for (const auto& e : fs::directory_iterator(l.state_dir))
    EXPECT_EQ(e.path().extension(), ".json") << e.path();
  EXPECT_FALSE(fs::exists(l.state_dir / "roi_tacs.json"));
  // the cohort files
  const layout::CohortLayout c = layout::cohort_layout(out);
  for (const auto& f : {c.dataset_description, c.participants, c.run_summary_tsv, c.run_summary_json})
    EXPECT_TRUE(fs::is_regular_file(f)) << f;

  // The QC loader finds every input of the subject report, the reference mask included.
  const qc::SubjectReportInputs in = qc::load_subject_inputs(l.dir, l.stem, qc::TemplateFiles{});
  for (const auto& [item, why] : in.missing) {
    if (item == qc::item::template_t1 || item == qc::item::atlas_mni) continue;  // none given here
    ADD_FAILURE() << item << ": " << why;
  }
  EXPECT_TRUE(in.reference_mask.has_value());
}
