#include "petpipe/stats/clusters.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "petpipe/core/error.hpp"
#include "petpipe/stats/distributions.hpp"
#include "petpipe/stats/multiple_comparisons.hpp"

namespace petpipe::stats {

namespace {

std::vector<std::array<int, 3>> offsets(Connectivity conn) {
  std::vector<std::array<int, 3>> o;
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int m = std::abs(dx) + std::abs(dy) + std::abs(dz);
        if (m == 0) continue;
        if (conn == Connectivity::c6 && m > 1) continue;
        if (conn == Connectivity::c18 && m > 2) continue;
        o.push_back({dx, dy, dz});
      }
  return o;
}

struct UnionFind {
  std::vector<std::uint32_t> parent;
  std::vector<std::uint32_t> size;
  std::vector<double> val;  // roots: accumulated value; others: offset relative to the parent
  explicit UnionFind(std::size_t n) : parent(n), size(n, 1), val(n, 0.0) {
    std::iota(parent.begin(), parent.end(), 0u);
  }
  std::uint32_t find(std::uint32_t x) {
    // first pass: find the root
    std::uint32_t r = x;
    while (parent[r] != r) r = parent[r];
    // second pass: compress, turning offsets into offsets relative to the root
    // collect the path
    std::uint32_t cur = x;
    double acc = 0;
    // compute the total offset from x to the root (excluding the root)
    for (std::uint32_t y = x; y != r; y = parent[y]) acc += val[y];
    while (cur != r) {
      const std::uint32_t next = parent[cur];
      const double own = val[cur];
      val[cur] = acc;
      parent[cur] = r;
      acc -= own;
      cur = next;
    }
    return r;
  }
  std::uint32_t unite(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return a;
    if (size[a] < size[b]) std::swap(a, b);
    parent[b] = a;
    size[a] += size[b];
    val[b] -= val[a];
    return a;
  }
};

}  // namespace

Labels label_components(const std::vector<std::uint8_t>& in, const Geometry& g, Connectivity conn) {
  const std::size_t n = g.voxel_count();
  if (in.size() != n) throw make_error("label_components: image has ", in.size(), " voxels, grid ", n);
  Labels out;
  out.label.assign(n, 0);
  const auto off = offsets(conn);
  std::vector<std::size_t> stack;
  std::int32_t next = 0;
  for (std::size_t s = 0; s < n; ++s) {
    if (!in[s] || out.label[s]) continue;
    ++next;
    std::size_t count = 0;
    stack.push_back(s);
    out.label[s] = next;
    while (!stack.empty()) {
      const std::size_t v = stack.back();
      stack.pop_back();
      ++count;
      const long i = static_cast<long>(v % g.size[0]);
      const long j = static_cast<long>((v / g.size[0]) % g.size[1]);
      const long k = static_cast<long>(v / (g.size[0] * g.size[1]));
      for (const auto& o : off) {
        const long a = i + o[0], b = j + o[1], c = k + o[2];
        if (a < 0 || b < 0 || c < 0 || a >= static_cast<long>(g.size[0]) || b >= static_cast<long>(g.size[1]) ||
            c >= static_cast<long>(g.size[2]))
          continue;
        const std::size_t w = g.linear_index(static_cast<std::size_t>(a), static_cast<std::size_t>(b),
                                             static_cast<std::size_t>(c));
        if (in[w] && !out.label[w]) {
          out.label[w] = next;
          stack.push_back(w);
        }
      }
    }
    out.sizes.push_back(count);
  }
  return out;
}

ClusterResult cluster_inference(const std::vector<double>& stat, const Geometry& g, Field field, double df1,
                                double df2, const Smoothness& sm, const ClusterOptions& options) {
  if (field == Field::F) throw make_error("cluster inference: only t (and Z) fields have cluster p values (as in SPM)");
  if (!(options.cluster_forming_p > 0 && options.cluster_forming_p < 1))
    throw make_error("cluster inference: cluster-forming p = ", options.cluster_forming_p, " is not in (0, 1)");
  ClusterResult r;
  r.threshold = field == Field::T ? t_isf(options.cluster_forming_p, df2) : normal_isf(options.cluster_forming_p);
  std::vector<std::uint8_t> supra(stat.size(), 0);
  for (std::size_t i = 0; i < stat.size(); ++i) supra[i] = stat[i] > r.threshold;
  Labels lab = label_components(supra, g, options.connectivity);
  std::vector<Cluster> cl(lab.sizes.size());
  for (std::size_t i = 0; i < stat.size(); ++i) {
    const int l = lab.label[i];
    if (!l) continue;
    Cluster& c = cl[static_cast<std::size_t>(l - 1)];
    if (c.voxels == 0 || stat[i] > c.peak_stat) {
      c.peak_stat = stat[i];
      c.peak_index = i;
    }
    ++c.voxels;
  }
  std::vector<double> punc;
  for (auto& c : cl) {
    c.volume_mm3 = static_cast<double>(c.voxels) * g.voxel_volume_mm3();
    c.resels = static_cast<double>(c.voxels) * sm.resels_per_voxel;
    const std::size_t i = c.peak_index % g.size[0], j = (c.peak_index / g.size[0]) % g.size[1],
                      k = c.peak_index / (g.size[0] * g.size[1]);
    c.peak_ras = to_ras(g.index_to_point({double(i), double(j), double(k)}));
    c.peak_z = field == Field::T ? t_to_z(c.peak_stat, df2) : c.peak_stat;
    c.peak_p_fwe = rft_p(1, 0, c.peak_stat, field, df1, df2, sm.resels).P;
    const RftP cp = rft_p(1, c.resels, r.threshold, field, df1, df2, sm.resels);
    c.p_uncorrected = cp.p;
    c.p_fwe = cp.P;
    punc.push_back(cp.p);
  }
  if (!punc.empty()) {
    const auto fdr = fdr_bh(punc, 0.05);
    for (std::size_t c = 0; c < cl.size(); ++c) cl[c].p_fdr = fdr.adjusted[c];
  }
  // Sort by size (then peak), relabel.
  std::vector<std::size_t> order(cl.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return cl[a].voxels != cl[b].voxels ? cl[a].voxels > cl[b].voxels : cl[a].peak_stat > cl[b].peak_stat;
  });
  std::vector<std::int32_t> newlab(cl.size() + 1, 0);
  for (std::size_t n = 0; n < order.size(); ++n) {
    newlab[order[n] + 1] = static_cast<std::int32_t>(n + 1);
    r.clusters.push_back(cl[order[n]]);
  }
  r.labels.label.resize(lab.label.size());
  for (std::size_t i = 0; i < lab.label.size(); ++i) r.labels.label[i] = newlab[static_cast<std::size_t>(lab.label[i])];
  for (const auto& c : r.clusters) r.labels.sizes.push_back(c.voxels);
  return r;
}

MaskGraph mask_graph(const Mask& mask, Connectivity conn) {
  const Geometry& g = mask.geom;
  MaskGraph mg;
  std::vector<std::int64_t> pos(g.voxel_count(), -1);
  for (std::size_t i = 0; i < g.voxel_count(); ++i)
    if (mask.data[i]) {
      pos[i] = static_cast<std::int64_t>(mg.voxels.size());
      mg.voxels.push_back(i);
    }
  const auto off = offsets(conn);
  mg.offsets.reserve(mg.voxels.size() + 1);
  mg.offsets.push_back(0);
  for (std::size_t v : mg.voxels) {
    const long i = static_cast<long>(v % g.size[0]);
    const long j = static_cast<long>((v / g.size[0]) % g.size[1]);
    const long k = static_cast<long>(v / (g.size[0] * g.size[1]));
    for (const auto& o : off) {
      const long a = i + o[0], b = j + o[1], c = k + o[2];
      if (a < 0 || b < 0 || c < 0 || a >= static_cast<long>(g.size[0]) || b >= static_cast<long>(g.size[1]) ||
          c >= static_cast<long>(g.size[2]))
        continue;
      const std::int64_t p = pos[g.linear_index(static_cast<std::size_t>(a), static_cast<std::size_t>(b),
                                                static_cast<std::size_t>(c))];
      if (p >= 0) mg.neighbours.push_back(static_cast<std::uint32_t>(p));
    }
    mg.offsets.push_back(static_cast<std::uint32_t>(mg.neighbours.size()));
  }
  return mg;
}

std::vector<double> tfce(const std::vector<double>& stat, const MaskGraph& graph, const TfceOptions& o) {
  const std::size_t n = stat.size();
  if (n != graph.voxels.size()) throw make_error("tfce: ", n, " values for ", graph.voxels.size(), " mask voxels");
  if (!(o.dh > 0)) throw make_error("tfce: dh must be positive");
  std::vector<double> out(n, 0.0);
  // Bucket voxels by the highest level they reach: level(v) = floor(stat / dh).
  double mx = 0;
  for (double s : stat)
    if (s > mx) mx = s;
  const std::size_t K = static_cast<std::size_t>(std::floor(mx / o.dh));
  if (K == 0) return out;
  std::vector<std::uint32_t> count(K + 2, 0);
  std::vector<std::uint32_t> level(n, 0);
  for (std::size_t v = 0; v < n; ++v) {
    if (!(stat[v] >= o.dh)) continue;
    level[v] = static_cast<std::uint32_t>(std::min<double>(static_cast<double>(K), std::floor(stat[v] / o.dh)));
    ++count[level[v]];
  }
  std::vector<std::uint32_t> start(K + 2, 0);
  for (std::size_t k = 1; k <= K + 1; ++k) start[k] = start[k - 1] + count[k - 1];
  std::vector<std::uint32_t> order(start[K + 1]);
  {
    std::vector<std::uint32_t> fill(start.begin(), start.end());
    for (std::size_t v = 0; v < n; ++v)
      if (level[v] > 0) order[fill[level[v]]++] = static_cast<std::uint32_t>(v);
  }
  UnionFind uf(n);
  std::vector<std::uint8_t> active(n, 0);
  std::vector<std::uint32_t> roots, kept;
  for (std::size_t k = K; k >= 1; --k) {
    for (std::uint32_t a = start[k]; a < start[k] + count[k]; ++a) {
      const std::uint32_t v = order[a];
      active[v] = 1;
      roots.push_back(v);
      for (std::uint32_t e = graph.offsets[v]; e < graph.offsets[v + 1]; ++e) {
        const std::uint32_t w = graph.neighbours[e];
        if (active[w]) uf.unite(v, w);
      }
    }
    const double h = static_cast<double>(k) * o.dh;
    const double hw = std::pow(h, o.H) * o.dh;
    kept.clear();
    for (std::uint32_t r : roots) {
      if (uf.parent[r] != r) continue;
      uf.val[r] += std::pow(static_cast<double>(uf.size[r]), o.E) * hw;
      kept.push_back(r);
    }
    roots.swap(kept);
  }
  for (std::size_t v = 0; v < n; ++v) {
    if (!active[v]) continue;
    const std::uint32_t r = uf.find(static_cast<std::uint32_t>(v));
    out[v] = (r == v ? 0.0 : uf.val[v]) + uf.val[r];
  }
  return out;
}

}  // namespace petpipe::stats
