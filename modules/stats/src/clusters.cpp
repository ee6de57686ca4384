#include "petpipe/stats/clusters.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
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
  const std::size_t px = g.size[0] + 2, py = g.size[1] + 2, pz = g.size[2] + 2;
  mg.padded_count = px * py * pz;
  if (mg.padded_count >= std::numeric_limits<std::uint32_t>::max())
    throw make_error("mask_graph: grid of ", g.voxel_count(), " voxels is too large");
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const std::size_t lin = g.linear_index(i, j, k);
        if (!mask.data[lin]) continue;
        mg.voxels.push_back(lin);
        mg.padded.push_back(static_cast<std::uint32_t>((i + 1) + (j + 1) * px + (k + 1) * px * py));
      }
  for (const auto& o : offsets(conn))
    mg.deltas.push_back(o[0] + o[1] * static_cast<std::int64_t>(px) + o[2] * static_cast<std::int64_t>(px * py));
  return mg;
}

namespace {

constexpr std::uint32_t kInactive = std::numeric_limits<std::uint32_t>::max();

// Root of x in the union-find with path compression. val of a non-root is its offset relative to its
// parent (the TFCE a voxel has accumulated = val along the path to the root, root included); compression
// turns the offsets into offsets relative to the root.
inline std::uint32_t find_root(std::vector<std::uint32_t>& parent, std::vector<double>& val, std::uint32_t x) {
  std::uint32_t r = parent[x];
  if (parent[r] == r) return r;  // x is the root or a child of it
  // Union by size keeps every tree at most log2(n) < 32 deep, so the path fits.
  std::uint32_t path[64];
  int len = 0;
  r = x;
  while (parent[r] != r) {
    path[len++] = r;
    r = parent[r];
  }
  double acc = 0;
  for (int i = len - 1; i >= 0; --i) {
    const std::uint32_t y = path[i];
    acc += val[y];
    val[y] = acc;
    parent[y] = r;
  }
  return r;
}

}  // namespace

void tfce(const std::vector<double>& stat, const MaskGraph& graph, const TfceOptions& o, TfceWorkspace& ws,
          std::vector<double>& out) {
  const std::size_t n = stat.size();
  if (n != graph.voxels.size()) throw make_error("tfce: ", n, " values for ", graph.voxels.size(), " mask voxels");
  if (!(o.dh > 0)) throw make_error("tfce: dh must be positive");
  if (n >= kInactive) throw make_error("tfce: too many voxels (", n, ")");
  out.assign(n, 0.0);
  // Bucket voxels by the highest level they reach: level(v) = floor(stat / dh).
  double mx = 0;
  for (double s : stat)
    if (s > mx) mx = s;
  if (mx < o.dh) return;
  auto& level = ws.level;
  level.resize(n);
  const double inv_dh = 1.0 / o.dh;
  std::uint32_t K = 0;
  for (std::size_t v = 0; v < n; ++v) {
    std::uint32_t l = 0;
    if (stat[v] >= o.dh) {
      // floor(stat / dh), checked against the definition h_k = k dh <= stat so that rounding of the
      // division cannot move a voxel to a neighbouring level
      double f = std::floor(stat[v] * inv_dh);
      if (f * o.dh > stat[v])
        f -= 1;
      else if ((f + 1) * o.dh <= stat[v])
        f += 1;
      l = static_cast<std::uint32_t>(f);
      K = std::max(K, l);
    }
    level[v] = l;
  }
  if (K == 0) return;
  auto& count = ws.start;  // counts first, then bucket ends
  count.assign(K + 2, 0);
  for (std::size_t v = 0; v < n; ++v) ++count[level[v]];
  // Exclusive prefix over levels (level 0 = never active, not stored).
  std::uint32_t total = 0;
  for (std::size_t k = 1; k <= K; ++k) {
    const std::uint32_t c = count[k];
    count[k] = total;
    total += c;
  }
  count[K + 1] = total;
  auto& order = ws.order;
  order.resize(total);
  for (std::size_t v = 0; v < n; ++v)
    if (level[v] > 0) order[count[level[v]]++] = static_cast<std::uint32_t>(v);
  // count[k] is now the end of bucket k (= start of bucket k + 1); bucket k is [count[k-1], count[k])
  // with count[0] = 0 for k = 1.
  count[0] = 0;
  auto& parent = ws.parent;
  auto& size = ws.size;
  auto& val = ws.val;
  parent.assign(graph.padded_count, kInactive);  // padding and voxels below the current level: inactive
  size.resize(graph.padded_count);
  val.resize(graph.padded_count);
  auto& roots = ws.roots;
  auto& kept = ws.kept;
  roots.clear();
  const std::uint32_t* pidx = graph.padded.data();
  const std::int64_t* delta = graph.deltas.data();
  const std::size_t ndelta = graph.deltas.size();
  const bool sqrt_e = o.E == 0.5;
  for (std::size_t k = K; k >= 1; --k) {
    const std::uint32_t b0 = k >= 2 ? count[k - 1] : 0, b1 = count[k];
    for (std::uint32_t a = b0; a < b1; ++a) {
      const std::uint32_t v = pidx[order[a]];
      parent[v] = v;
      size[v] = 1;
      val[v] = 0.0;
      std::uint32_t rv = v;
      for (std::size_t e = 0; e < ndelta; ++e) {
        const std::uint32_t w = static_cast<std::uint32_t>(static_cast<std::int64_t>(v) + delta[e]);
        if (parent[w] == kInactive) continue;
        std::uint32_t rw = find_root(parent, val, w);
        if (rw == rv) continue;
        if (size[rv] < size[rw]) std::swap(rv, rw);
        parent[rw] = rv;  // rw joins rv; its accumulated value becomes an offset relative to rv
        size[rv] += size[rw];
        val[rw] -= val[rv];
      }
      roots.push_back(v);  // every root is in the list: a new voxel or a root kept from the level above
    }
    const double h = static_cast<double>(k) * o.dh;
    const double hw = (o.H == 2.0 ? h * h : std::pow(h, o.H)) * o.dh;
    kept.clear();
    for (std::uint32_t r : roots) {
      if (parent[r] != r) continue;
      const double s = static_cast<double>(size[r]);
      val[r] += (sqrt_e ? std::sqrt(s) : std::pow(s, o.E)) * hw;
      kept.push_back(r);
    }
    roots.swap(kept);
  }
  for (std::uint32_t a = 0; a < total; ++a) {
    const std::uint32_t v = order[a], gv = pidx[v];
    const std::uint32_t r = find_root(parent, val, gv);
    out[v] = r == gv ? val[gv] : val[gv] + val[r];
  }
}

std::vector<double> tfce(const std::vector<double>& stat, const MaskGraph& graph, const TfceOptions& options) {
  TfceWorkspace ws;
  std::vector<double> out;
  tfce(stat, graph, options, ws, out);
  return out;
}

}  // namespace petpipe::stats
