// Design, OLS / ANOVA / contrasts, FDR and Tukey HSD against statsmodels on random designs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "petpipe/core/error.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/stats/design.hpp"
#include "petpipe/stats/glm.hpp"
#include "petpipe/stats/multiple_comparisons.hpp"
#include "petpipe/stats/roi_stats.hpp"
#include "test_util_stats.hpp"

using namespace petpipe;
using namespace petpipe::stats;
using namespace petpipe::stats::test;

namespace {

std::string g17(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

// A cohort of n subjects with two- and three-class factors, age, sex and 5 float outcome columns.
struct Cohort {
  std::filesystem::path tsv;
  std::vector<std::string> ids;
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> Y;  // n x 5
};

Cohort make_cohort(const std::filesystem::path& dir, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.2);
  std::uniform_real_distribution<double> age(20, 65);
  const char* g3[] = {"anxious", "avoidant", "secure"};
  Table t;
  t.columns = {"participant_id", "group2", "group3", "age", "sex", "y0", "y1", "y2", "y3", "y4"};
  Cohort c;
  c.Y.resize(n, 5);
  for (int i = 0; i < n; ++i) {
    const int k3 = i % 3;
    const bool secure = k3 == 2;
    const double a = std::round(age(rng) * 10) / 10;
    const bool male = (rng() % 2) == 0;
    std::vector<std::string> row = {"sub-" + std::to_string(100 + i), secure ? "secure" : "insecure", g3[k3],
                                    g17(a), male ? "M" : "F"};
    for (int j = 0; j < 5; ++j) {
      const float y = static_cast<float>(1.0 + 0.15 * secure + 0.05 * (k3 == 1) * j + 0.004 * a + 0.05 * male + noise(rng));
      c.Y(i, j) = y;
      row.push_back(g17(static_cast<double>(y)));
    }
    c.ids.push_back(row[0]);
    t.add_row(row);
  }
  c.tsv = dir / "participants.tsv";
  write_tsv(c.tsv, t);
  return c;
}

std::string sm_name(const std::string& mine) {
  if (mine == "intercept") return "Intercept";
  if (mine == "age") return "agec";
  const auto b = mine.find('[');
  if (b != std::string::npos) return "C(" + mine.substr(0, b) + ")[T." + mine.substr(b + 1);
  return mine;
}

}  // namespace

TEST(Models, OlsAnovaAndContrastsMatchStatsmodels) {
  const auto dir = temp_dir("ols");
  const Cohort c = make_cohort(dir, 39, 7);
  const auto parts = read_participants(c.tsv);
  const std::vector<std::string> formulas = {"group2", "group2 + age", "group2 + age + sex", "group3 + age + sex",
                                             "group3"};
  std::ostringstream py;
  py << "import pandas as pd\nimport statsmodels.formula.api as smf\nfrom statsmodels.stats.anova import anova_lm\n"
     << "d = pd.read_csv('" << c.tsv.string() << "', sep='\\t')\nd['agec'] = d.age - d.age.mean()\n";
  std::vector<Design> designs;
  for (const auto& f : formulas) {
    designs.push_back(make_design(parts, f, c.ids));
    const Design& d = designs.back();
    std::string rhs;
    for (const auto& t : d.terms) rhs += (rhs.empty() ? "" : " + ") + (t.factor ? "C(" + t.name + ")" : "agec");
    for (int j = 0; j < 5; ++j) {
      py << "m = smf.ols('y" << j << " ~ " << rhs << "', d).fit()\n";
      py << "a = anova_lm(m, typ=2)\n";
      for (const auto& col : d.column_names) {
        const std::string s = sm_name(col);
        py << "print(repr(m.params['" << s << "']), repr(m.bse['" << s << "']), repr(m.tvalues['" << s
           << "']), repr(m.pvalues['" << s << "']))\n";
      }
      for (const auto& t : d.terms) {
        const std::string s = t.factor ? "C(" + t.name + ")" : "agec";
        py << "print(repr(a.loc['" << s << "','F']), repr(a.loc['" << s << "','PR(>F)']))\n";
      }
    }
  }
  const auto v = numbers(run_python(dir, py.str()));
  std::size_t expected = 0;
  for (const auto& d : designs) expected += 5 * (4 * d.column_names.size() + 2 * d.terms.size());
  ASSERT_EQ(v.size(), expected) << run_python(dir, py.str()).substr(0, 2000);

  std::size_t k = 0;
  for (const auto& d : designs) {
    // Voxelwise path (float data, all 5 columns at once) and ROI path (one column, double).
    std::vector<Contrast> cons;
    for (Eigen::Index j = 0; j < d.cols(); ++j) {
      Contrast cc;
      cc.name = d.column_names[static_cast<std::size_t>(j)];
      cc.C = Eigen::RowVectorXd::Unit(d.cols(), j);
      cons.push_back(cc);
    }
    const GlmResult g = fit_glm(MatrixXfRM(c.Y), d.X, cons);
    for (int j = 0; j < 5; ++j) {
      std::vector<double> y(static_cast<std::size_t>(c.Y.rows()));
      for (Eigen::Index i = 0; i < c.Y.rows(); ++i) y[static_cast<std::size_t>(i)] = c.Y(i, j);
      const OlsFit f = fit_ols(y, d);
      for (std::size_t col = 0; col < d.column_names.size(); ++col) {
        EXPECT_LT(rel_diff(f.beta[col], v[k]), 1e-8) << d.formula << " " << d.column_names[col];
        EXPECT_LT(rel_diff(f.se[col], v[k + 1]), 1e-8);
        EXPECT_LT(rel_diff(f.t[col], v[k + 2]), 1e-8);
        EXPECT_LT(rel_diff(f.p[col], v[k + 3]), 1e-8);
        EXPECT_LT(rel_diff(g.contrasts[col].effect[static_cast<std::size_t>(j)], v[k]), 1e-8);
        EXPECT_LT(rel_diff(g.contrasts[col].stat[static_cast<std::size_t>(j)], v[k + 2]), 1e-8);
        EXPECT_LT(rel_diff(g.contrasts[col].p_two_sided[static_cast<std::size_t>(j)], v[k + 3]), 1e-8);
        k += 4;
      }
      for (std::size_t t = 0; t < d.terms.size(); ++t) {
        EXPECT_LT(rel_diff(f.anova[t].F, v[k]), 1e-8) << d.formula << " term " << d.terms[t].name;
        EXPECT_LT(rel_diff(f.anova[t].p, v[k + 1]), 1e-8);
        k += 2;
      }
    }
  }
}

TEST(Models, NamedContrastsAndCoding) {
  const auto dir = temp_dir("contrast");
  const Cohort c = make_cohort(dir, 30, 3);
  const auto parts = read_participants(c.tsv);
  const Design tr = make_design(parts, "group3 + age + sex", c.ids);
  DesignOptions cm;
  cm.coding = Coding::cell_means;
  const Design cell = make_design(parts, "group3 + age + sex", c.ids, cm);
  EXPECT_EQ(tr.column_names, (std::vector<std::string>{"intercept", "group3[avoidant]", "group3[secure]", "age", "sex[M]"}));
  EXPECT_EQ(cell.column_names,
            (std::vector<std::string>{"group3[anxious]", "group3[avoidant]", "group3[secure]", "age", "sex[M]"}));
  EXPECT_NEAR(tr.X.col(3).sum(), 0.0, 1e-9);  // age centred
  std::vector<double> y(30);
  for (int i = 0; i < 30; ++i) y[static_cast<std::size_t>(i)] = c.Y(i, 1);
  for (const std::string spec : {"secure>avoidant", "avoidant<secure", "group3[secure]-group3[avoidant]"}) {
    const auto a = fit_ols(y, tr, {make_contrast(tr, "c", spec)});
    const auto b = fit_ols(y, cell, {make_contrast(cell, "c", spec)});
    EXPECT_NEAR(a.effects[0].t, b.effects[0].t, 1e-10);
    EXPECT_NEAR(a.effects[0].estimate, b.effects[0].estimate, 1e-12);
    // The same as the coefficient difference in treatment coding.
    EXPECT_NEAR(a.effects[0].estimate, a.beta[2] - a.beta[1], 1e-12);
  }
  // F test of the factor: identical under both codings, and a vector spec gives the same.
  const auto fa = fit_ols(y, tr), fb = fit_ols(y, cell);
  EXPECT_NEAR(fa.anova[0].F, fb.anova[0].F, 1e-9);
  const Contrast v = make_contrast(tr, "g", "0,1,0,0,0;0,0,1,0,0");
  EXPECT_TRUE(v.is_f());
  const Contrast byname = make_contrast(tr, "g", "group3");
  EXPECT_TRUE((v.C - byname.C).norm() < 1e-15);
  EXPECT_FALSE(make_contrast(tr, "age", "-age").is_f());
}

TEST(Models, MirroredContrastEqualsItsOwnFit) {
  // "B>A" after "A>B" reuses the tail probabilities of "A>B"; it must equal a fit with "B>A" alone.
  std::mt19937 rng(3);
  std::normal_distribution<double> nd;
  const int n = 25;
  Eigen::MatrixXd X(n, 3);
  Eigen::MatrixXd Y(n, 400);
  for (int i = 0; i < n; ++i) {
    X(i, 0) = 1;
    X(i, 1) = i % 2;
    X(i, 2) = nd(rng);
    for (int v = 0; v < 400; ++v) Y(i, v) = nd(rng) + (v % 4) * 0.8 * X(i, 1) - (v % 3) * 0.9 * X(i, 1);
  }
  Contrast ab, ba, age;
  ab.name = "A>B";
  ab.C = Eigen::RowVector3d(0, 1, 0);
  ba.name = "B>A";
  ba.C = Eigen::RowVector3d(0, -1, 0);
  age.name = "age";
  age.C = Eigen::RowVector3d(0, 0, 1);
  const auto both = fit_glm(Y, X, {ab, age, ba});
  const auto alone = fit_glm(Y, X, {ba});
  const auto& m = both.contrasts[2];
  const auto& a = alone.contrasts[0];
  int neg = 0;
  for (std::size_t v = 0; v < 400; ++v) {
    EXPECT_EQ(m.stat[v], a.stat[v]);
    EXPECT_LT(rel_diff(m.p[v], a.p[v]), 1e-15);
    EXPECT_LT(rel_diff(m.p_two_sided[v], a.p_two_sided[v]), 1e-15);
    EXPECT_LT(rel_diff(m.z[v], a.z[v]), 1e-15);
    EXPECT_EQ(m.cohen_d[v], a.cohen_d[v]);
    EXPECT_EQ(m.z[v], -both.contrasts[0].z[v]);
    neg += m.stat[v] < 0;
  }
  EXPECT_GT(neg, 20);  // both signs occur
  EXPECT_LT(neg, 380);
}

TEST(Models, DesignErrorsAreClear) {
  const auto dir = temp_dir("design_err");
  Table t;
  t.columns = {"participant_id", "group", "age", "age2", "site"};
  t.add_row({"sub-01", "a", "30", "60", "x"});
  t.add_row({"sub-02", "b", "n/a", "80", "x"});
  t.add_row({"sub-03", "a", "50", "100", "x"});
  t.add_row({"sub-04", "b", "45", "90", "x"});
  t.add_row({"sub-05", "a", "40", "80", "x"});
  t.add_row({"sub-06", "b", "35", "70", "x"});
  write_tsv(dir / "p.tsv", t);
  const auto p = read_participants(dir / "p.tsv");
  const std::vector<std::string> ids = {"01", "03", "04", "05", "06"};
  auto msg = [&](const std::string& formula, const std::vector<std::string>& s) {
    try {
      make_design(p, formula, s);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("group + weight", ids).find("unknown column 'weight'"), std::string::npos);
  EXPECT_NE(msg("group + age", {"01", "02", "03", "04"}).find("missing values (n/a) for 02"), std::string::npos);
  EXPECT_NE(msg("group", {"01", "07"}).find("not in the participants table: 07"), std::string::npos);
  EXPECT_NE(msg("group + age + age2", ids).find("rank deficient: column 'age2'"), std::string::npos);
  EXPECT_NE(msg("group + site", ids).find("single level"), std::string::npos);
  const Design d = make_design(p, "group", {"01", "02", "03", "04"});
  EXPECT_THROW(make_contrast(d, "x", "c>a"), Error);
  EXPECT_THROW(make_contrast(d, "x", "1,0,0"), Error);
}

TEST(Models, FdrMatchesMultipletests) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> p;
  for (int i = 0; i < 200; ++i) p.push_back(i < 30 ? std::pow(u(rng), 6) : u(rng));
  p.push_back(p[3]);  // ties
  p.push_back(p[3]);
  std::ostringstream py;
  py << "from statsmodels.stats.multitest import multipletests\np=[";
  for (double x : p) py << g17(x) << ",";
  py << "]\nfor q in (0.025, 0.05):\n  r, adj, _, _ = multipletests(p, alpha=q, method='fdr_bh')\n"
     << "  print(int(r.sum()))\n  print(' '.join(repr(a) for a in adj))\n";
  const auto dir = temp_dir("fdr");
  const auto v = numbers(run_python(dir, py.str()));
  ASSERT_EQ(v.size(), 2 * (p.size() + 1));
  std::size_t k = 0;
  for (double q : {0.025, 0.05}) {
    const auto r = fdr_bh(p, q);
    EXPECT_EQ(static_cast<double>(r.significant), v[k++]);
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_LT(rel_diff(r.adjusted[i], v[k++]), 1e-12);
    std::size_t below = 0;
    for (double x : p) below += x <= r.threshold && r.significant > 0;
    EXPECT_EQ(below, r.significant);
  }
}

TEST(Models, TukeyHsdMatchesStatsmodelsAndScipy) {
  const auto dir = temp_dir("tukey");
  const Cohort c = make_cohort(dir, 40, 5);
  const auto parts = read_participants(c.tsv);
  const auto& g3 = parts.column("group3");
  std::vector<double> y(40);
  for (int i = 0; i < 40; ++i) y[static_cast<std::size_t>(i)] = c.Y(i, 2);
  std::ostringstream py;
  py << "import pandas as pd\nfrom statsmodels.stats.multicomp import pairwise_tukeyhsd\nfrom scipy import stats\n"
     << "d = pd.read_csv('" << c.tsv.string() << "', sep='\\t')\n"
     << "r = pairwise_tukeyhsd(d.y2, d.group3, alpha=0.05)\n"
     << "for i in range(len(r.meandiffs)):\n"
     << "  q = abs(r.meandiffs[i]) / r.std_pairs[i]\n"
     << "  print(repr(r.meandiffs[i]), repr(r.std_pairs[i]), repr(r.confint[i][0]), repr(r.confint[i][1]), repr(r.pvalues[i]),"
     << " repr(stats.studentized_range.sf(q, 3, r.df_total)))\n";
  const auto v = numbers(run_python(dir, py.str()));
  const auto rows = tukey_hsd(y, g3.levels, 0.05);
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_EQ(v.size(), 18u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_LT(rel_diff(rows[i].meandiff, v[6 * i]), 1e-8);
    EXPECT_LT(rel_diff(rows[i].se, v[6 * i + 1]), 1e-8);
    // statsmodels' confidence limits and p use an interpolated table (qsturng/psturng): about 1e-3.
    EXPECT_NEAR(rows[i].lower, v[6 * i + 2], 2e-3 * std::fabs(v[6 * i + 2]) + 1e-4);
    EXPECT_NEAR(rows[i].upper, v[6 * i + 3], 2e-3 * std::fabs(v[6 * i + 3]) + 1e-4);
    EXPECT_NEAR(rows[i].p, v[6 * i + 4], 5e-3);
    EXPECT_LT(rel_diff(rows[i].p, v[6 * i + 5]), 1e-8);  // exact studentized range (scipy)
  }
  const auto sum = group_summary(y, g3.levels);
  ASSERT_EQ(sum.size(), 3u);
  EXPECT_EQ(sum[0].group, "anxious");
  EXPECT_EQ(sum[0].n + sum[1].n + sum[2].n, 40u);
}
