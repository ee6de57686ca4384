// Benchmarks of the stats module and the null simulation (docs/BENCHMARKS.md, docs/MODULE_VALIDATION.md).
//   stats_bench glm            GLM 39 subjects x 230 000 voxels, 3 contrasts (+ numpy peer via /usr/bin/python3)
//   stats_bench perm N         N Freedman-Lane permutations with TFCE, 39 x ~230 000 smoothed voxels
//   stats_bench null R P [F S] R null data sets (39 subjects, two groups, FWHM F voxels, default 3, seed S): family-wise
//                              error of RFT clusters and peaks, FDR, and P permutations (max-t and TFCE)
//   stats_bench smoothness R S F...  bias of the residual smoothness estimate (R null data sets per FWHM F, seed
//                              S) against the known FWHM and the lattice prediction, and the RFT cluster count / FWE
//                              with the estimated FWHM, the true FWHM and a lattice-corrected estimate
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "petpipe/core/parallel.hpp"
#include "petpipe/stats/clusters.hpp"
#include "petpipe/stats/distributions.hpp"
#include "petpipe/stats/glm.hpp"
#include "petpipe/stats/multiple_comparisons.hpp"
#include "petpipe/stats/permutation.hpp"
#include "petpipe/stats/rft.hpp"

using namespace petpipe;
using namespace petpipe::stats;
using clk = std::chrono::steady_clock;

namespace {

double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

void smooth(std::vector<double>& a, const Geometry& g, double fwhm) {
  const double s = fwhm / std::sqrt(8 * std::log(2.0));
  const int r = static_cast<int>(std::ceil(3.5 * s));
  std::vector<double> k(2 * r + 1);
  double ks = 0;
  for (int i = -r; i <= r; ++i) ks += k[i + r] = std::exp(-0.5 * i * i / (s * s));
  for (double& x : k) x /= ks;
  std::vector<double> b(a.size());
  const long n[3] = {long(g.size[0]), long(g.size[1]), long(g.size[2])};
  const long stride[3] = {1, n[0], n[0] * n[1]};
  for (int ax = 0; ax < 3; ++ax) {
    for (long z = 0; z < n[2]; ++z)
      for (long y = 0; y < n[1]; ++y)
        for (long x = 0; x < n[0]; ++x) {
          const long c[3] = {x, y, z};
          double acc = 0;
          for (int o = -r; o <= r; ++o) {
            const long p = c[ax] + o;
            if (p < 0 || p >= n[ax]) continue;
            acc += k[o + r] * a[x + y * n[0] + z * n[0] * n[1] + o * stride[ax]];
          }
          b[x + y * n[0] + z * n[0] * n[1]] = acc;
        }
    a.swap(b);
  }
}

Eigen::MatrixXd design39(std::mt19937& rng) {
  Eigen::MatrixXd X(39, 4);
  std::uniform_real_distribution<double> age(-15, 15);
  for (int i = 0; i < 39; ++i) {
    X(i, 0) = 1;
    X(i, 1) = i < 19 ? 1 : 0;
    X(i, 2) = age(rng);
    X(i, 3) = (i * 7) % 3 == 0;
  }
  return X;
}

// Smoothed Gaussian noise for n subjects inside the mask on grid g: white noise on the grid padded by the
// kernel radius is smoothed (separable Gaussian, FWHM in voxels) and cropped, so the smoothness is the same
// at the edge of the grid as in its centre. Subjects are generated in parallel, each from its own seed.
MatrixXfRM noise(const Geometry& g, const Mask& mask, int n, double fwhm, std::mt19937& rng) {
  std::vector<std::size_t> vox;
  for (std::size_t i = 0; i < mask.data.size(); ++i)
    if (mask.data[i]) vox.push_back(i);
  MatrixXfRM Y(n, static_cast<Eigen::Index>(vox.size()));
  const std::size_t pad = static_cast<std::size_t>(std::ceil(3.5 * fwhm / std::sqrt(8 * std::log(2.0))));
  Geometry gp;
  gp.size = {g.size[0] + 2 * pad, g.size[1] + 2 * pad, g.size[2] + 2 * pad};
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(n));
  for (auto& sd : seeds) sd = (static_cast<std::uint64_t>(rng()) << 32) ^ rng();
  parallel_for(static_cast<std::size_t>(n), [&](std::size_t s0, std::size_t s1) {
    std::vector<double> w(gp.voxel_count());
    for (std::size_t s = s0; s < s1; ++s) {
      std::mt19937_64 r(seeds[s]);
      std::normal_distribution<double> nd;
      for (double& x : w) x = nd(r);
      smooth(w, gp, fwhm);
      for (std::size_t v = 0; v < vox.size(); ++v) {
        const std::size_t i = vox[v] % g.size[0], j = (vox[v] / g.size[0]) % g.size[1],
                          k = vox[v] / (g.size[0] * g.size[1]);
        Y(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(v)) =
            static_cast<float>(w[gp.linear_index(i + pad, j + pad, k + pad)]);
      }
    }
  });
  return Y;
}

Mask ellipsoid(const Geometry& g, double fill) {
  Mask m(g, 0);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double x = (i + 0.5) / g.size[0] - 0.5, y = (j + 0.5) / g.size[1] - 0.5, z = (k + 0.5) / g.size[2] - 0.5;
        m.at(i, j, k) = (x * x + y * y + z * z) * 4 <= fill;
      }
  return m;
}

std::vector<Contrast> three(const Eigen::MatrixXd& X) {
  std::vector<Contrast> c(3);
  c[0].name = "g+";
  c[0].C = Eigen::RowVectorXd::Unit(X.cols(), 1);
  c[1].name = "g-";
  c[1].C = -Eigen::RowVectorXd::Unit(X.cols(), 1);
  c[2].name = "age";
  c[2].C = Eigen::RowVectorXd::Unit(X.cols(), 2);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "glm";
  std::mt19937 rng(1);
  if (mode == "glm") {
    const Eigen::Index V = 230000;
    MatrixXfRM Y = MatrixXfRM::Random(39, V);
    const Eigen::MatrixXd X = design39(rng);
    double best = 1e9, best_cpu = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = clk::now();
      const std::clock_t c0 = std::clock();
      const auto r = fit_glm(Y, X, three(X));
      const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
      if (secs(t0) < best) {
        best = secs(t0);
        best_cpu = cpu;
      }
      if (r.contrasts.size() != 3) return 1;
    }
    std::printf("petpipe fit_glm 39 x %ld voxels, 3 t contrasts (beta, sigma2, t, p, Z, effect sizes), threads %u: "
                "%.3f s wall (best of 5; CPU %.3f s)\n",
                static_cast<long>(V), thread_count(), best, best_cpu);
    const char* py =
        "import numpy as np, time\nfrom scipy import stats\n"
        "rng=np.random.default_rng(1); Y=rng.standard_normal((39,230000)).astype(np.float32); X=np.c_[np.ones(39), np.arange(39)<19, rng.uniform(-15,15,39), np.arange(39)%3==0]\n"
        "best=1e9\nfor rep in range(3):\n"
        "  t0=time.perf_counter(); c0=time.process_time(); Yd=Y.astype(np.float64); B,res,rk,sv=np.linalg.lstsq(X,Yd,rcond=None); E=Yd-X@B; s2=(E*E).sum(0)/35; XtXi=np.linalg.inv(X.T@X)\n"
        "  for c in (np.array([0,1,0,0]),np.array([0,-1,0,0]),np.array([0,0,1,0])):\n"
        "    t=(c@B)/np.sqrt(s2*(c@XtXi@c)); p=stats.t.sf(t,35); z=stats.norm.isf(p)\n"
        "  w=time.perf_counter()-t0\n"
        "  if w<best: best=w; bc=time.process_time()-c0\n"
        "print('numpy lstsq + scipy t/p/Z, same size: %.3f s wall (best of 3; CPU %.3f s)' % (best, bc))\n";
    FILE* f = std::fopen("/tmp/petpipe_stats_bench_peer.py", "w");
    std::fputs(py, f);
    std::fclose(f);
    return std::system("/usr/bin/python3 /tmp/petpipe_stats_bench_peer.py");
  }
  if (mode == "perm") {
    const std::size_t N = argc > 2 ? std::stoul(argv[2]) : 100;
    Geometry g;
    g.size = {79, 95, 79};  // 2 mm MNI grid
    g.spacing = {2, 2, 2};
    const Mask mask = ellipsoid(g, 0.82);  // ~230 000 voxels, the size of a 2 mm MNI brain mask
    const MaskGraph mg = mask_graph(mask, Connectivity::c26);
    const Eigen::MatrixXd X = design39(rng);
    const MatrixXfRM Y = noise(g, mask, 39, 4.0, rng);  // FWHM 8 mm
    PermutationOptions o;
    o.permutations = N;
    o.tfce = true;
    o.seed = 1;
    Contrast c;
    c.name = "g";
    c.C = Eigen::RowVectorXd::Unit(4, 1);
    const auto t0 = clk::now();
    const std::clock_t c0 = std::clock();
    const auto r = permutation_test(Y, X, c, mg, o);
    const double t = secs(t0), cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    o.tfce = false;
    const auto t1 = clk::now();
    permutation_test(Y, X, c, mg, o);
    const double tn = secs(t1);
    std::printf("permutation_test 39 x %zu voxels, %zu permutations, threads %u: with TFCE %.1f s wall (%.1f ms/perm; "
                "CPU %.1f s), max-statistic only %.1f s; projected 5000 with TFCE: %.0f s wall, %.0f s CPU\n",
                mg.voxels.size(), N, thread_count(), t, 1000 * t / N, cpu, tn, t / N * 5000, cpu / N * 5000);
    // One TFCE of the observed t map, single thread, against the textbook computation (a connected-component
    // labelling of the supra-threshold set at every level h = dh, 2 dh, ...) on the same map.
    std::vector<double> stat = r.stat;
    TfceWorkspace ws;
    std::vector<double> fast;
    const int reps = 10;
    const auto t2 = clk::now();
    for (int i = 0; i < reps; ++i) tfce(stat, mg, o.tfce_options, ws, fast);
    const double tf = secs(t2) / reps;
    const auto t3 = clk::now();
    std::vector<double> slow(stat.size(), 0.0);
    const double mx = *std::max_element(stat.begin(), stat.end());
    const double dh = o.tfce_options.dh;
    for (int k = 1; k * dh <= mx; ++k) {
      const double h = k * dh;
      std::vector<std::uint8_t> in(g.voxel_count(), 0);
      for (std::size_t v = 0; v < stat.size(); ++v) in[mg.voxels[v]] = stat[v] >= h;
      const auto lab = label_components(in, g, Connectivity::c26);
      for (std::size_t v = 0; v < stat.size(); ++v) {
        const int l = lab.label[mg.voxels[v]];
        if (l) slow[v] += std::sqrt(double(lab.sizes[static_cast<std::size_t>(l - 1)])) * h * h * dh;
      }
    }
    const double ts = secs(t3);
    double worst = 0;
    for (std::size_t v = 0; v < stat.size(); ++v) worst = std::max(worst, std::fabs(fast[v] - slow[v]) / (1 + slow[v]));
    std::printf("one TFCE (max t %.2f, %d levels), 1 thread: union-find sweep %.1f ms, labelling per level %.1f ms "
                "(%.1fx); max relative difference %.1e\n",
                mx, static_cast<int>(mx / dh), 1000 * tf, 1000 * ts, ts / tf, worst);
    if (!(worst < 1e-9)) return 1;
    return r.permutations == N ? 0 : 1;
  }
  if (mode == "null") {
    // Complete null: 39 subjects (19 vs 20) of smoothed Gaussian noise in a sphere of 3 mm voxels; one-sided
    // t test group A > group B. Each inference counts a realisation when it declares anything significant
    // at 0.05 (FWE, or q = 0.05 for FDR: under the complete null the FDR is this probability).
    const int R = argc > 2 ? std::atoi(argv[2]) : 100;
    const std::size_t P = argc > 3 ? std::stoul(argv[3]) : 200;
    const double fwhm = argc > 4 ? std::atof(argv[4]) : 3.0;  // voxels
    const unsigned seed = argc > 5 ? static_cast<unsigned>(std::atoi(argv[5])) : 1u;
    rng.seed(seed);
    Geometry g;
    g.size = {32, 32, 32};
    g.spacing = {3, 3, 3};
    const Mask mask = ellipsoid(g, 0.8);
    const MaskGraph mg = mask_graph(mask, Connectivity::c26);
    const Eigen::MatrixXd X = design39(rng).leftCols(2);  // two groups, no covariates
    Contrast c;
    c.name = "g";
    c.C = Eigen::RowVectorXd::Unit(2, 1);
    int fwe_cluster = 0, fwe_peak = 0, fdr_any = 0, perm_any = 0, tfce_any = 0, fwe_cluster_fdr = 0;
    double fwhm_sum = 0, clusters_sum = 0, ec_sum = 0, size_sum = 0, ek_sum = 0, resels_sum = 0;
    std::size_t nclusters = 0;
    const auto t0 = clk::now();
    for (int rep = 0; rep < R; ++rep) {
      const MatrixXfRM Y = noise(g, mask, 39, fwhm, rng);
      GlmOptions go;
      go.keep_residuals = true;
      const auto fit = fit_glm(Y, X, {c}, go);
      const auto sm = estimate_smoothness(fit.residuals, mask, fit.df);
      fwhm_sum += (sm.fwhm_voxels[0] + sm.fwhm_voxels[1] + sm.fwhm_voxels[2]) / 3;
      resels_sum += sm.resels[3];
      std::vector<double> full(g.voxel_count(), std::numeric_limits<double>::quiet_NaN());
      double peak = -1e9;
      for (std::size_t v = 0; v < mg.voxels.size(); ++v) {
        full[mg.voxels[v]] = fit.contrasts[0].stat[v];
        peak = std::max(peak, fit.contrasts[0].stat[v]);
      }
      const auto cl = cluster_inference(full, g, Field::T, 1, fit.df, sm);
      const RftP expect = rft_p(1, 0, cl.threshold, Field::T, 1, fit.df, sm.resels);
      clusters_sum += static_cast<double>(cl.clusters.size());
      ec_sum += expect.Ec;
      ek_sum += expect.Ek / sm.resels_per_voxel;  // expected voxels per cluster
      bool any = false, any_fdr = false;
      for (const auto& k : cl.clusters) {
        any = any || k.p_fwe < 0.05;
        any_fdr = any_fdr || k.p_fdr < 0.05;
        size_sum += static_cast<double>(k.voxels);
        ++nclusters;
      }
      fwe_cluster += any;
      fwe_cluster_fdr += any_fdr;
      fwe_peak += rft_p(1, 0, peak, Field::T, 1, fit.df, sm.resels).P < 0.05;
      fdr_any += fdr_bh(fit.contrasts[0].p, 0.05).significant > 0;
      PermutationOptions po;
      po.permutations = P;
      po.seed = static_cast<std::uint64_t>(seed - 1) * 1000003u + static_cast<std::uint64_t>(rep) + 1;  // seed 1: 1, 2, ...
      po.tfce = true;
      const auto pr = permutation_test(Y, X, c, mg, po);
      perm_any += *std::min_element(pr.p_fwe.begin(), pr.p_fwe.end()) <= 0.05;
      tfce_any += *std::min_element(pr.tfce_p_fwe.begin(), pr.tfce_p_fwe.end()) <= 0.05;
      if ((rep + 1) % 25 == 0)
        std::fprintf(stderr, "%d/%d realisations, %.0f s\n", rep + 1, R, secs(t0));
    }
    // Wilson score interval (95 %) of a binomial proportion.
    auto ci = [&](int k) {
      const double z = 1.959963984540054, nr = R, ph = k / nr;
      const double centre = (ph + z * z / (2 * nr)) / (1 + z * z / nr);
      const double half = z / (1 + z * z / nr) * std::sqrt(ph * (1 - ph) / nr + z * z / (4 * nr * nr));
      char buf[96];
      std::snprintf(buf, sizeof buf, "%3d/%d = %5.3f  (95%% CI %5.3f-%5.3f)", k, R, ph, centre - half, centre + half);
      return std::string(buf);
    };
    std::printf("null simulation: %d data sets, 39 subjects (19 vs 20), %zu mask voxels of 3 mm, FWHM %.2f voxels "
                "(mean estimate %.2f, %.1f resels), %zu permutations, seed %u, %.0f s, threads %u\n",
                R, mg.voxels.size(), fwhm, fwhm_sum / R, resels_sum / R, P, seed, secs(t0), thread_count());
    std::printf("clusters at p < 0.001 (t > %.3f): observed %.3f per map (RFT expects %.3f), mean size %.1f voxels "
                "(RFT expects %.1f)\n",
                t_isf(0.001, 37), clusters_sum / R, ec_sum / R, nclusters ? size_sum / double(nclusters) : 0.0, ek_sum / R);
    std::printf("RFT cluster FWE 0.05 (cluster-forming p 0.001): %s\n", ci(fwe_cluster).c_str());
    std::printf("RFT peak (height) FWE 0.05:                     %s\n", ci(fwe_peak).c_str());
    std::printf("voxel FDR q 0.05 (BH), any discovery:           %s\n", ci(fdr_any).c_str());
    std::printf("topological cluster FDR q 0.05, any discovery:  %s\n", ci(fwe_cluster_fdr).c_str());
    std::printf("permutation max-t FWE 0.05:                     %s\n", ci(perm_any).c_str());
    std::printf("permutation TFCE FWE 0.05:                      %s\n", ci(tfce_any).c_str());
    return 0;
  }
  if (mode == "smoothness") {
    // Hypothesis check for the conservative RFT cluster FWE: is the FWHM estimated from first differences
    // biased (and how does the expected Euler characteristic change if it is corrected)? Same data as "null"
    // (39 subjects, 19 vs 20, sphere of 12 400 voxels), no permutations.
    const int R = argc > 2 ? std::atoi(argv[2]) : 100;
    const unsigned seed = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 1u;
    std::vector<double> fwhms;
    for (int a = 4; a < argc; ++a) fwhms.push_back(std::atof(argv[a]));
    if (fwhms.empty()) fwhms = {3, 4, 6};
    Geometry g;
    g.size = {32, 32, 32};
    g.spacing = {3, 3, 3};
    const Mask mask = ellipsoid(g, 0.8);
    const MaskGraph mg = mask_graph(mask, Connectivity::c26);
    const double ln2x4 = 4 * std::log(2.0);
    const auto t0 = clk::now();
    for (const double fwhm : fwhms) {
      rng.seed(seed);
      const Eigen::MatrixXd X = design39(rng).leftCols(2);
      Contrast c;
      c.name = "g";
      c.C = Eigen::RowVectorXd::Unit(2, 1);
      // Lag-1 autocorrelation of the field produced by the sampled kernel used by noise() (same radius):
      // rho1 = sum k_i k_{i+1} / sum k_i^2; the first-difference estimator converges to
      // FWHM_lattice = sqrt(4 ln 2 / (2 (1 - rho1))).
      const double s = fwhm / std::sqrt(8 * std::log(2.0));
      const int kr = static_cast<int>(std::ceil(3.5 * s));
      double k0 = 0, k1 = 0;
      for (int i = -kr; i <= kr; ++i) {
        const double a = std::exp(-0.5 * i * i / (s * s));
        k0 += a * a;
        if (i < kr) k1 += a * std::exp(-0.5 * (i + 1) * (i + 1) / (s * s));
      }
      const double rho1 = k1 / k0;
      const double fwhm_lattice = std::sqrt(ln2x4 / (2 * (1 - rho1)));
      double est_sum = 0, est_sq = 0, cor_sum = 0, clusters = 0, ec_est = 0, ec_true = 0, ec_cor = 0;
      int fwe_est = 0, fwe_true = 0, fwe_cor = 0, pk_est = 0, pk_true = 0, pk_cor = 0;
      std::vector<double> min_p, ec_rep;  // per data set: smallest uncorrected cluster p, expected EC (estimated FWHM)
      for (int rep = 0; rep < R; ++rep) {
        const MatrixXfRM Y = noise(g, mask, 39, fwhm, rng);
        GlmOptions go;
        go.keep_residuals = true;
        const auto fit = fit_glm(Y, X, {c}, go);
        const Smoothness sm = estimate_smoothness(fit.residuals, mask, fit.df);
        // Lattice-corrected FWHM: invert Lambda = 2 (1 - exp(-1 / (4 s^2))) for a Gaussian autocorrelation.
        Smoothness tr = sm, co = sm;
        for (int ax = 0; ax < 3; ++ax) {
          const double lam = ln2x4 / (sm.fwhm_voxels[ax] * sm.fwhm_voxels[ax]);
          co.fwhm_voxels[ax] = std::sqrt(8 * std::log(2.0)) * std::sqrt(-1.0 / (4 * std::log1p(-lam / 2)));
          tr.fwhm_voxels[ax] = fwhm;
        }
        for (Smoothness* p : {&tr, &co}) {
          p->resels_per_voxel = 1.0 / (p->fwhm_voxels[0] * p->fwhm_voxels[1] * p->fwhm_voxels[2]);
          p->resels = resel_counts(mask, p->fwhm_voxels);
        }
        const double e = (sm.fwhm_voxels[0] + sm.fwhm_voxels[1] + sm.fwhm_voxels[2]) / 3;
        est_sum += e;
        est_sq += e * e;
        cor_sum += (co.fwhm_voxels[0] + co.fwhm_voxels[1] + co.fwhm_voxels[2]) / 3;
        std::vector<double> full(g.voxel_count(), std::numeric_limits<double>::quiet_NaN());
        double peak = -1e9;
        for (std::size_t v = 0; v < mg.voxels.size(); ++v) {
          full[mg.voxels[v]] = fit.contrasts[0].stat[v];
          peak = std::max(peak, fit.contrasts[0].stat[v]);
        }
        auto run = [&](const Smoothness& S, int& fwe, int& pk, double& ec) {
          const auto cl = cluster_inference(full, g, Field::T, 1, fit.df, S);
          bool any = false;
          double pmin = 1;
          for (const auto& k : cl.clusters) {
            any = any || k.p_fwe < 0.05;
            pmin = std::min(pmin, k.p_uncorrected);
          }
          if (&S == &sm) {
            min_p.push_back(pmin);
            ec_rep.push_back(rft_p(1, 0, cl.threshold, Field::T, 1, fit.df, S.resels).Ec);
          }
          fwe += any;
          pk += rft_p(1, 0, peak, Field::T, 1, fit.df, S.resels).P < 0.05;
          ec += rft_p(1, 0, cl.threshold, Field::T, 1, fit.df, S.resels).Ec;
          return cl.clusters.size();
        };
        clusters += static_cast<double>(run(sm, fwe_est, pk_est, ec_est));
        run(tr, fwe_true, pk_true, ec_true);
        run(co, fwe_cor, pk_cor, ec_cor);
      }
      const double m = est_sum / R, sd = std::sqrt(std::max(0.0, est_sq / R - m * m));
      std::printf("FWHM %.1f voxels, %d data sets (seed %u, %.0f s so far): estimated %.3f (SD %.3f, ratio %.3f); "
                  "lattice prediction %.3f (ratio %.3f, rho1 %.4f); lattice-corrected estimate %.3f (ratio %.3f)\n",
                  fwhm, R, seed, secs(t0), m, sd, m / fwhm, fwhm_lattice, fwhm_lattice / fwhm, rho1, cor_sum / R,
                  cor_sum / R / fwhm);
      std::printf("  clusters per map at p < 0.001: observed %.3f; RFT expected EC with estimated FWHM %.3f, "
                  "true FWHM %.3f, corrected FWHM %.3f\n",
                  clusters / R, ec_est / R, ec_true / R, ec_cor / R);
      std::printf("  RFT cluster FWE: estimated %d/%d = %.3f, true %d/%d = %.3f, corrected %d/%d = %.3f\n", fwe_est, R,
                  double(fwe_est) / R, fwe_true, R, double(fwe_true) / R, fwe_cor, R, double(fwe_cor) / R);
      // Diagnostic: cluster FWE when the expected number of clusters is rescaled to the observed mean count
      // (P = 1 - exp(-a Ec p(k)), a = observed / expected), i.e. how much of the conservativeness the
      // over-predicted cluster count explains.
      const double a = ec_est > 0 ? clusters / ec_est : 1.0;
      int fwe_scaled = 0;
      for (std::size_t i = 0; i < min_p.size(); ++i) fwe_scaled += -std::expm1(-a * ec_rep[i] * min_p[i]) < 0.05;
      std::printf("  RFT cluster FWE with the expected cluster count rescaled by observed/expected = %.3f: %d/%d = %.3f\n",
                  a, fwe_scaled, R, double(fwe_scaled) / R);
      std::printf("  RFT peak FWE:    estimated %d/%d = %.3f, true %d/%d = %.3f, corrected %d/%d = %.3f\n", pk_est, R,
                  double(pk_est) / R, pk_true, R, double(pk_true) / R, pk_cor, R, double(pk_cor) / R);
      std::fflush(stdout);
    }
    return 0;
  }
  std::cerr << "usage: stats_bench glm | perm N | null R P\n";
  return 2;
}
