// petpipe glm end to end on tiny maps: outputs, errors, nothing written on failure; ROI mode.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/stats/design.hpp"
#include "petpipe/stats/roi_stats.hpp"
#include "test_util_stats.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run petpipe_run(const std::string& args) {
  const char* exe = std::getenv("PETPIPE_EXE");
  const std::string cmd = std::string(exe ? exe : "petpipe") + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  while (pipe && fgets(buf, sizeof buf, pipe.get())) out += buf;
  const int status = pclose(pipe.release());
  return {WEXITSTATUS(status), out};
}

struct Data {
  fs::path dir, participants, list, roi_table;
};

Data make_data() {
  Data d;
  d.dir = stats::test::temp_dir("cli");
  Geometry g;
  g.size = {12, 12, 10};
  g.spacing = {4, 4, 4};
  g.origin = {22, 22, -20};
  std::mt19937 rng(2);
  std::normal_distribution<double> nd;
  Table parts, list, roi;
  parts.columns = {"participant_id", "group", "age", "sex"};
  list.columns = {"participant_id", "path"};
  roi.columns = {"participant_id", "roi", "value"};
  for (int s = 0; s < 14; ++s) {
    const std::string id = "sub-" + std::to_string(10 + s);
    const bool secure = s % 2 == 0;
    const double age = 25 + 2.5 * s;
    parts.add_row({id, secure ? "secure" : "insecure", std::to_string(age),
                   s % 3 ? "F" : "M"});
    Image3D img(g, 0.0f);
    for (std::size_t k = 1; k < 9; ++k)
      for (std::size_t j = 1; j < 11; ++j)
        for (std::size_t i = 1; i < 11; ++i)
          img.at(i, j, k) = static_cast<float>(1.0 + 0.3 * nd(rng) + (secure && i < 5 && j < 5 ? 1.5 : 0.0));
    const fs::path p = d.dir / (id + "_space-MNIColin27_meas-BPND_mimap.nii.gz");
    write_image(p, img);
    list.add_row({id, p.filename().string()});
    for (const std::string r : {"hippocampus", "amygdala"})
      roi.add_row({id, r, std::to_string(1.0 + 0.1 * secure + 0.2 * nd(rng) + (r == "amygdala" ? 0.01 * age : 0.0))});
  }
  d.participants = d.dir / "participants.tsv";
  d.list = d.dir / "maps.tsv";
  d.roi_table = d.dir / "roi_long.tsv";
  write_tsv(d.participants, parts);
  write_tsv(d.list, list);
  write_tsv(d.roi_table, roi);
  return d;
}

}  // namespace

TEST(GlmCli, VoxelwiseOutputsAndErrors) {
  const Data d = make_data();
  const fs::path out = d.dir / "glm";
  const std::string base = "glm --maps-list " + d.list.string() + " --participants " + d.participants.string();
  auto r = petpipe_run(base + " --design \"group + age + sex\" --contrast \"sg=secure>insecure\" --contrast \"g=group\" "
                              "--fdr 0.025 --permutations 50 --tfce --seed 3 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const std::string f : {"mask.nii.gz", "design.tsv", "glm.json", "stat-sigma2_statmap.nii.gz",
                              "contrast-sg_stat-t_statmap.nii.gz", "contrast-sg_stat-t_statmap.json",
                              "contrast-sg_stat-p_statmap.nii.gz", "contrast-sg_desc-FDR_stat-t_statmap.nii.gz",
                              "contrast-sg_clusters.tsv", "contrast-sg_stat-tfcepFWE_statmap.nii.gz",
                              "contrast-g_stat-F_statmap.nii.gz", "desc-groupxsecurex_stat-beta_statmap.nii.gz"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  // The planted effect (secure > insecure in a 4 x 4 x 8 block) is found by the cluster table.
  const Table ct = read_tsv(out / "contrast-sg_clusters.tsv");
  ASSERT_GE(ct.rows.size(), 1u);
  EXPECT_GE(std::stod(ct.rows[0][1]), 40.0);
  EXPECT_LT(std::stod(ct.rows[0][ct.column_index("p_fwe")]), 0.05);
  const Image3D t = read_image(out / "contrast-sg_stat-t_statmap.nii.gz");
  EXPECT_GT(t.at(2, 2, 4), 4.0);

  // Errors: exit code, message, nothing written.
  const fs::path bad = d.dir / "bad";
  r = petpipe_run(base + " --design \"group + weight\" --contrast \"a=secure>insecure\" --out " + bad.string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown column 'weight'"), std::string::npos) << r.output;
  r = petpipe_run(base + " --design \"group\" --contrast \"a=calm>insecure\" --out " + bad.string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("cannot resolve"), std::string::npos) << r.output;
  r = petpipe_run(base + " --design \"group\" --contrast \"a=secure>insecure\" --fdr 2 --out " + bad.string());
  EXPECT_NE(r.code, 0);
  r = petpipe_run(base + " --design \"group\" --contrast \"a=secure>insecure\" --out " + out.string());
  EXPECT_NE(r.code, 0);  // exists without --force
  EXPECT_NE(r.output.find("exists"), std::string::npos);
  EXPECT_FALSE(fs::exists(bad));
  for (const auto& e : fs::directory_iterator(d.dir)) EXPECT_EQ(e.path().filename().string().find(".bad.tmp"), 0u + std::string::npos);
}

TEST(GlmCli, RoiModeMatchesLibrary) {
  const Data d = make_data();
  const fs::path out = d.dir / "roi";
  auto r = petpipe_run("glm --roi-table " + d.roi_table.string() + " --participants " + d.participants.string() +
                       " --design \"group + age + sex\" --contrast \"sg=secure>insecure\" --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Table eff = read_tsv(out / "roi_effects.tsv");
  // 2 ROIs x 3 nested models.
  ASSERT_EQ(eff.rows.size(), 6u);
  const auto parts = read_participants(d.participants);
  const Table roi = read_tsv(d.roi_table);
  std::vector<std::string> ids;
  std::vector<double> y;
  for (const auto& row : roi.rows)
    if (row[1] == "hippocampus") {
      ids.push_back(row[0]);
      y.push_back(std::stod(row[2]));
    }
  const auto design = stats::make_design(parts, "group + age + sex", ids);
  const auto fit = stats::fit_ols(y, design, {stats::make_contrast(design, "sg", "secure>insecure")});
  bool found = false;
  for (const auto& row : eff.rows)
    if (row[0] == "hippocampus" && row[1] == "group + age + sex") {
      found = true;
      EXPECT_NEAR(std::stod(row[eff.column_index("t")]), fit.effects[0].t, 1e-7);
      EXPECT_NEAR(std::stod(row[eff.column_index("df")]), 10.0, 0);
    }
  EXPECT_TRUE(found);
  EXPECT_TRUE(fs::exists(out / "roi_group_stats.tsv"));
  EXPECT_TRUE(fs::exists(out / "roi_anova.tsv"));
}
