// petpipe bench <name>: in-memory performance benchmarks, each measured against a peer in the same run.
//
// Adding a benchmark: write a function `nlohmann::json bench_<name>(const BenchContext&)` in this file
// that builds its problem in memory, times it with Clock, logs progress with log::info, and returns its
// figures as JSON (the command prints them as "key: value" lines, or as JSON with --json); then add one
// line {"<name>", "<one-line description>", bench_<name>} to registry() below. Benchmark-specific options
// go into add_options with a "<name>-" prefix; --scale (problem size) and --repeat are shared.
#include <Eigen/Core>
#include <Eigen/QR>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/kinetics/convolution.hpp"
#include "petpipe/kinetics/reference.hpp"
#include "petpipe/kinetics/regional.hpp"
#include "petpipe/kinetics/srtm_bfm.hpp"
#include "petpipe/pipeline/command.hpp"

namespace petpipe::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds (user + system) of the whole process, all threads. On a shared, loaded machine wall time
// depends on the other load; CPU time of a compute-bound step does not (much), so ratios use it.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}
struct Timing {
  double wall = std::numeric_limits<double>::infinity();
  double cpu = std::numeric_limits<double>::infinity();
};
// Runs fn `repeat` times; keeps the smallest wall and CPU times.
template <typename F>
Timing best_of(int repeat, F&& fn) {
  Timing t;
  for (int i = 0; i < repeat; ++i) {
    const double c0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    fn(i);
    t.wall = std::min(t.wall, seconds_since(t0));
    t.cpu = std::min(t.cpu, process_cpu_seconds() - c0);
  }
  return t;
}

struct BenchContext {
  const po::variables_map& vm;
  double scale;  // problem size relative to the documented full size
  int repeat;    // timed repetitions; the fastest is reported
};

struct Benchmark {
  std::string name;
  std::string description;
  std::function<nlohmann::json(const BenchContext&)> run;
};

// /proc/self/status fields in bytes (0 when unavailable).
std::size_t proc_status_bytes(const std::string& key) {
  std::ifstream s("/proc/self/status");
  std::string line;
  while (std::getline(s, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream is(line.substr(key.size() + 1));
      std::size_t kb = 0;
      is >> kb;
      return kb * 1024;
    }
  return 0;
}
// Resets the peak resident set size (VmHWM) to the current one (Linux >= 4.0).
bool reset_peak_rss() {
  std::ofstream s("/proc/self/clear_refs");
  if (!s) return false;
  s << "5";
  return static_cast<bool>(s);
}

// ---------------------------------------------------------------------------------------------- srtm
// An HRRT-sized problem (256 x 256 x 207 voxels, 16 frames, an ellipsoidal "brain" of about 1.5 million
// voxels, 300 basis functions; --scale shrinks the number of slices), voxel TACs from 64 SRTM tissue
// classes plus 5 % noise. Times srtm_bfm's voxel fits; the peers, measured in the same run, are
//  - the machine's float GEMM rate: (a) the same product shape as the fit (bases x frames times
//    frames x block) with the same total flops, (b) 512^3 products, each on all threads;
//  - a straightforward per-voxel loop (Householder QR solve per voxel and basis, all threads) on a
//    subsample, extrapolated to all voxels.
nlohmann::json bench_srtm(const BenchContext& ctx) {
  using namespace kinetics;
  const std::size_t nbasis = ctx.vm["srtm-basis"].as<std::size_t>();
  const std::size_t nsub = ctx.vm["srtm-baseline-voxels"].as<std::size_t>();
  const std::size_t nz = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(207 * ctx.scale)));
  DynamicImage pet;
  pet.geom.size = {256, 256, nz};
  pet.geom.spacing = {1.21875, 1.21875, 1.21875};
  double s = 0;
  for (auto [n, d] : {std::pair{3, 1.0}, {4, 3.0}, {9, 6.0}})
    for (int i = 0; i < n; ++i) {
      pet.frames.start_s.push_back(s * 60);
      pet.frames.duration_s.push_back(d * 60);
      s += d;
    }
  pet.frames.radionuclide = "C11";
  pet.frames.half_life_s = 20.364 * 60;
  pet.frames.decay_corrected = true;
  const std::size_t nf = pet.frame_count(), nvox = pet.geom.voxel_count();
  const auto t_alloc = Clock::now();
  pet.data.assign(nf * nvox, 0.0f);

  // Reference: a bolus-shaped curve's frame averages; tissue classes from the SRTM model.
  const FrameTimes ft = FrameTimes::from(pet.frames);
  std::vector<double> ref(nf);
  for (std::size_t f = 0; f < nf; ++f) {
    double acc = 0;
    const int m = 200;
    for (int i = 0; i < m; ++i) {
      const double t = ft.start[f] + (i + 0.5) * ft.duration(f) / m;
      acc += 30 * t * std::exp(-1.2 * t) + 8 * (std::exp(-0.017 * t) - std::exp(-0.5 * t));
    }
    ref[f] = acc / m;
  }
  const int nclass = 64;
  std::vector<std::vector<double>> tacs;
  for (int c = 0; c < nclass; ++c)
    tacs.push_back(srtm_model(ft, ref, 0.7 + 0.6 * (c % 8) / 7.0, 0.08 + 0.1 * (c / 8) / 7.0, 4.0 * c / (nclass - 1)));
  Mask mask(pet.geom, 0);
  const double cx = 127.5, cy = 127.5, cz = (nz - 1) / 2.0, ax = 70, ay = 85, az = 60 * std::min(1.0, ctx.scale);
  std::size_t inside = 0;
  for (std::size_t k = 0; k < nz; ++k)
    for (std::size_t j = 0; j < 256; ++j)
      for (std::size_t i = 0; i < 256; ++i) {
        const double dx = (i - cx) / ax, dy = (j - cy) / ay, dz = (k - cz) / std::max(az, 0.5);
        if (dx * dx + dy * dy + dz * dz > 1.0) continue;
        const std::size_t v = pet.geom.linear_index(i, j, k);
        mask.data[v] = 1;
        ++inside;
      }
  parallel_for(nvox, [&](std::size_t v0, std::size_t v1) {
    std::uint64_t state = 0x9E3779B97F4A7C15ull ^ v0;
    auto uniform = [&] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return (state >> 11) * (1.0 / 9007199254740992.0);
    };
    for (std::size_t v = v0; v < v1; ++v) {
      if (!mask.data[v]) continue;
      const auto& tac = tacs[(v * 2654435761u) % nclass];
      for (std::size_t f = 0; f < nf; ++f) {
        const double noise = (uniform() + uniform() + uniform() - 1.5) * 2.0 * 0.05;  // ~N(0, 0.05^2)
        pet.frame(f)[v] = static_cast<float>(tac[f] * (1.0 + noise));
      }
    }
  }, 65536);
  log::info("srtm bench: ", pet.geom.size[0], "x", pet.geom.size[1], "x", nz, " voxels, ", nf, " frames, ", inside,
            " in the mask, ", nbasis, " bases; data ", pet.data.size() * 4 / 1e6, " MB built in ",
            seconds_since(t_alloc), " s");

  BfmOptions o;
  o.theta3 = log_grid(0.06, 0.6, nbasis);
  const double lambda = pet.frames.decay_constant_per_s() * 60;
  for (double& x : o.theta3) x -= lambda;
  o.weights = frame_weights(WeightScheme::duration, pet.frames);

  // BFM: fastest of --repeat runs; peak memory beyond the 4D data measured on the first.
  double fit = std::numeric_limits<double>::infinity(), setup = 0;
  std::size_t extra_peak = 0, fitted = 0;
  std::vector<float> theta_index_sub;
  const bool peak_ok = reset_peak_rss();
  const std::size_t rss0 = proc_status_bytes("VmRSS");
  const Timing bfm = best_of(ctx.repeat, [&](int rep) {
    BfmResult r = srtm_bfm(pet, ref, mask, o);
    if (rep == 0) extra_peak = proc_status_bytes("VmHWM") - rss0;
    if (r.fit_seconds < fit) {
      fit = r.fit_seconds;
      setup = r.basis_seconds;
    }
    fitted = r.fitted_voxels;
    if (rep == 0) {
      std::size_t taken = 0;
      for (std::size_t v = 0; v < nvox && taken < nsub; ++v)
        if (mask.data[v]) {
          theta_index_sub.push_back(r.theta3_index.data[v]);
          ++taken;
        }
    }
  });
  const double flops = 2.0 * static_cast<double>(fitted) * nf * nbasis;

  // Peer 1: GEMM of the fit's shape, same total flops, all threads.
  const unsigned threads = thread_count();
  const Eigen::Index bs = static_cast<Eigen::Index>(o.block_voxels);
  const std::size_t nblocks = (fitted + o.block_voxels - 1) / o.block_voxels;
  const Timing gemm_shape = best_of(std::max(ctx.repeat, 2), [&](int) {
    std::atomic<double> sink{0};
    parallel_for(nblocks, [&](std::size_t b0, std::size_t b1) {
      Eigen::MatrixXf q = Eigen::MatrixXf::Random(nbasis, nf), y = Eigen::MatrixXf::Random(nf, bs), z(nbasis, bs);
      float acc = 0;
      for (std::size_t b = b0; b < b1; ++b) {
        z.noalias() = q * y;
        acc += z(b % nbasis, 0);
        y(0, b % bs) += 1e-7f;
      }
      sink = sink + acc;
    });
  });
  // Peer 2: large square GEMMs on every thread.
  const Eigen::Index sq = 512;
  const int sq_reps = 4;
  const Timing gemm_sq = best_of(std::max(ctx.repeat, 2), [&](int) {
    parallel_for(threads, [&](std::size_t, std::size_t) {
      Eigen::MatrixXf a = Eigen::MatrixXf::Random(sq, sq), b = Eigen::MatrixXf::Random(sq, sq), c(sq, sq);
      for (int i = 0; i < sq_reps; ++i) {
        c.noalias() = a * b;
        a(0, 0) += c(1, 1) * 1e-9f;
      }
    });
  });
  const double sq_flops = 2.0 * sq * sq * sq * sq_reps * threads;

  // Peer 3: straightforward per-voxel loop on the first nsub mask voxels: for every basis a Householder
  // QR solve of the weighted 2-column problem, keep the smallest RSS (the BFM's definition of best).
  const std::vector<double> basis = srtm_basis(pet.frames, ref, o.theta3);
  std::vector<std::size_t> sub;
  for (std::size_t v = 0; v < nvox && sub.size() < nsub; ++v)
    if (mask.data[v]) sub.push_back(v);
  std::vector<int> loop_best(sub.size());
  const Timing loop = best_of(1, [&](int) {
  parallel_for(sub.size(), [&](std::size_t a, std::size_t b) {
    for (std::size_t k = a; k < b; ++k) {
      const std::size_t v = sub[k];
      double best = std::numeric_limits<double>::infinity();
      int bi = 0;
      for (std::size_t i = 0; i < nbasis; ++i) {
        Eigen::MatrixXd m(nf, 2);
        Eigen::VectorXd y(nf);
        for (std::size_t f = 0; f < nf; ++f) {
          const double sw = std::sqrt(o.weights[f]);
          m(f, 0) = sw * ref[f];
          m(f, 1) = sw * basis[f * nbasis + i];
          y(f) = sw * pet.frame(f)[v];
        }
        const Eigen::VectorXd th = m.householderQr().solve(y);
        const double rss = (y - m * th).squaredNorm();
        if (rss < best) {
          best = rss;
          bi = static_cast<int>(i);
        }
      }
      loop_best[k] = bi;
    }
  });
  });
  const double per = static_cast<double>(fitted) / std::max<std::size_t>(1, sub.size());
  std::size_t agree = 0;
  for (std::size_t k = 0; k < sub.size(); ++k) agree += std::abs(loop_best[k] - theta_index_sub[k]) <= 0.5;

  nlohmann::json j;
  j["image"] = std::vector<std::size_t>{256, 256, nz};
  j["frames"] = nf;
  j["basis_functions"] = nbasis;
  j["threads"] = threads;
  j["mask_voxels"] = inside;
  j["fitted_voxels"] = fitted;
  j["fit_seconds"] = fit;
  j["setup_seconds"] = setup;
  j["srtm_bfm_wall_seconds"] = bfm.wall;
  j["srtm_bfm_cpu_seconds"] = bfm.cpu;
  j["srtm_bfm_cpu_seconds_per_thread"] = bfm.cpu / threads;
  j["voxels_per_second_wall"] = fitted / fit;
  j["voxels_per_cpu_second"] = fitted / bfm.cpu;
  j["fit_gflops_per_cpu_second"] = flops / bfm.cpu / 1e9;
  j["gemm_same_shape_gflops_per_cpu_second"] = flops / gemm_shape.cpu / 1e9;
  j["gemm_512_gflops_per_cpu_second"] = sq_flops / gemm_sq.cpu / 1e9;
  j["gemm_same_shape_gflops_wall"] = flops / gemm_shape.wall / 1e9;
  j["fraction_of_same_shape_gemm_cpu"] = gemm_shape.cpu / bfm.cpu;
  j["fraction_of_512_gemm_cpu"] = (flops / bfm.cpu) / (sq_flops / gemm_sq.cpu);
  j["data_bytes"] = pet.data.size() * sizeof(float);
  j["peak_extra_bytes"] = peak_ok ? extra_peak : 0;
  j["peak_extra_measured"] = peak_ok;
  j["baseline_voxels"] = sub.size();
  j["baseline_wall_seconds_subsample"] = loop.wall;
  j["baseline_cpu_seconds_extrapolated"] = loop.cpu * per;
  j["baseline_wall_seconds_extrapolated"] = loop.wall * per;
  j["speedup_vs_per_voxel_qr_cpu"] = loop.cpu * per / bfm.cpu;
  j["speedup_vs_per_voxel_qr_wall"] = loop.wall * per / bfm.wall;
  j["baseline_same_best_basis_fraction"] = sub.empty() ? 0.0 : static_cast<double>(agree) / sub.size();
  return j;
}

std::vector<Benchmark> registry() {
  return {
      {"srtm", "voxelwise SRTM basis-function fits on an HRRT-sized image vs GEMM rate and a per-voxel QR loop",
       bench_srtm},
  };
}

int run_bench(const po::variables_map& vm) {
  const auto all = registry();
  if (!vm.count("name") || vm.count("list")) {
    std::ostringstream os;
    for (const auto& b : all) os << b.name << "\t" << b.description << "\n";
    std::cout << os.str();
    return vm.count("name") || vm.count("list") ? 0 : 2;
  }
  const std::string name = vm["name"].as<std::string>();
  const Benchmark* b = nullptr;
  for (const auto& x : all)
    if (x.name == name) b = &x;
  if (!b) {
    std::string names;
    for (const auto& x : all) names += (names.empty() ? "" : ", ") + x.name;
    throw make_error("unknown benchmark \"", name, "\" (known: ", names, ")");
  }
  const double scale = vm["scale"].as<double>();
  if (!(scale > 0.0 && scale <= 1.0)) throw make_error("--scale ", scale, ": must be in (0, 1]");
  const int repeat = vm["repeat"].as<int>();
  if (repeat < 1 || repeat > 100) throw make_error("--repeat ", repeat, ": must be 1..100");
  const nlohmann::json j = b->run(BenchContext{vm, scale, repeat});
  if (vm.count("json")) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "benchmark " << name << " (" << command_line() << ")\n";
    for (const auto& [k, v] : j.items()) std::cout << "  " << k << ": " << v.dump() << "\n";
  }
  return 0;
}

}  // namespace

Command bench_command() {
  Command c;
  c.name = "bench";
  c.synopsis = "performance benchmarks on in-memory synthetic problems (petpipe bench --list)";
  c.description =
      "Runs a named benchmark on a problem built in memory and prints its figures, each against a peer "
      "measured in the same run (a ratio), because absolute times on shared machines are noisy. "
      "Figures and commands are recorded in docs/BENCHMARKS.md.\n\n"
      "srtm: voxelwise SRTM basis-function fits on an HRRT-sized image (256 x 256 x 207 voxels, 16 frames, "
      "about 1.5 million voxels in an ellipsoidal brain, 300 basis functions); reports the fit time, voxels "
      "per second, the effective GEMM rate against the machine's measured float GEMM rate (same product "
      "shape, and 512^3), the peak memory beyond the 4D data, and the speed-up over a straightforward "
      "per-voxel loop (Householder QR per voxel and basis) timed on a subsample and extrapolated.\n\n"
      "Adding a benchmark: one function and one registry line in pipeline/src/cmd_bench.cpp (see the "
      "comment at its top).";
  c.examples = {{"petpipe bench srtm", "The HRRT-sized SRTM benchmark on all cores."},
                {"petpipe bench srtm --scale 0.1 --json", "A tenth of the slices, JSON output."},
                {"petpipe bench --list", "Names of all benchmarks."}};
  c.references = {"Gunn RN et al. Parametric imaging of ligand-receptor binding in PET using a simplified "
                  "reference region model. NeuroImage 1997;6:279-287."};
  c.add_options = [](po::options_description& d, po::positional_options_description& p) {
    d.add_options()("name", po::value<std::string>(), "benchmark name")
        ("list", "list the benchmarks")
        ("json", "print the figures as JSON")
        ("scale", po::value<double>()->default_value(1.0, "1"), "problem size relative to the full size (0, 1]")
        ("repeat", po::value<int>()->default_value(3), "timed repetitions (the fastest is reported)")
        ("srtm-basis", po::value<std::size_t>()->default_value(300), "srtm: basis functions")
        ("srtm-baseline-voxels", po::value<std::size_t>()->default_value(2000),
         "srtm: voxels timed with the per-voxel QR loop");
    p.add("name", 1);
  };
  c.run = run_bench;
  return c;
}

PETPIPE_REGISTER_COMMAND(bench_command, 130)

}  // namespace petpipe::cli
