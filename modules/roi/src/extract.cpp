#include "petpipe/roi/extract.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"

namespace petpipe::roi {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string extent_ras(const Geometry& g) {
  // Physical bounding box of the voxel centres, RAS mm.
  Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{(c & 1) ? double(g.size[0] - 1) : 0.0, (c & 2) ? double(g.size[1] - 1) : 0.0,
                   (c & 4) ? double(g.size[2] - 1) : 0.0};
    const Vec3 p = to_ras(g.index_to_point(idx));
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], p[a]);
      hi[a] = std::max(hi[a], p[a]);
    }
  }
  return detail::concat("[", lo[0], " .. ", hi[0], "] x [", lo[1], " .. ", hi[1], "] x [", lo[2], " .. ",
                        hi[2], "] mm RAS");
}

}  // namespace

ResampledLabels resample_labels_nearest(const LabelImage& labels, const Geometry& target) {
  const Geometry& src = labels.geom;
  if (labels.data.size() != src.voxel_count())
    throw make_error("label image has ", labels.data.size(), " values for ", src.voxel_count(), " voxels");
  ResampledLabels out;
  out.labels = LabelImage(target, 0);
  const long n0 = long(src.size[0]), n1 = long(src.size[1]), n2 = long(src.size[2]);
  std::vector<std::size_t> inside_count(target.size[2], 0), labelled_count(target.size[2], 0);
  parallel_for(target.size[2], [&](std::size_t kb, std::size_t ke) {
    for (std::size_t k = kb; k < ke; ++k)
      for (std::size_t j = 0; j < target.size[1]; ++j)
        for (std::size_t i = 0; i < target.size[0]; ++i) {
          const Vec3 idx = src.point_to_index(target.index_to_point({double(i), double(j), double(k)}));
          const long a = long(std::floor(idx[0] + 0.5)), b = long(std::floor(idx[1] + 0.5)),
                     c = long(std::floor(idx[2] + 0.5));
          if (a < 0 || b < 0 || c < 0 || a >= n0 || b >= n1 || c >= n2) continue;
          ++inside_count[k];
          const std::int32_t v = labels.data[std::size_t(a + n0 * (b + n1 * c))];
          out.labels.data[target.linear_index(i, j, k)] = v;
          if (v != 0) ++labelled_count[k];
        }
  });
  for (std::size_t k = 0; k < target.size[2]; ++k) {
    out.voxels_inside += inside_count[k];
    out.labelled_voxels += labelled_count[k];
  }
  std::size_t src_labelled = 0;
  for (std::int32_t v : labels.data) src_labelled += v != 0;
  if (out.voxels_inside == 0)
    throw make_error("the image grid ", extent_ras(target), " does not overlap the label image ",
                     extent_ras(src),
                     ": image and labels are not in the same space (an MNI-space map is needed for the "
                     "atlas; give native-space labels with --labels)");
  if (out.labelled_voxels == 0)
    throw make_error("no labelled voxel of the label image ", extent_ras(src), " falls inside the image ",
                     extent_ras(target), ": image and labels are not in the same space");
  out.labelled_volume_ratio = src_labelled == 0 ? 0.0
                                                : (double(out.labelled_voxels) * target.voxel_volume_mm3()) /
                                                      (double(src_labelled) * src.voxel_volume_mm3());
  return out;
}

RoiSet make_rois(const Atlas& atlas, const LabelImage& labels, const Geometry& grid, const RoiOptions& options) {
  // Regions, in the order requested.
  std::vector<const Region*> regions;
  if (options.regions.empty()) {
    for (const auto& r : atlas.regions) regions.push_back(&r);
  } else {
    std::set<std::string> seen;
    for (const auto& n : options.regions) {
      if (!seen.insert(n).second) throw make_error("region \"", n, "\" requested twice");
      regions.push_back(&atlas.region(n));  // throws listing the known names
    }
  }
  for (const Region* r : regions)
    if (options.space == LabelSpace::native && !r->limits.empty() && !options.regions.empty())
      throw make_error("region \"", r->name,
                       "\" is cut out of its labels by MNI coordinate limits and cannot be formed from "
                       "native-space labels (use an MNI-space map with the atlas, or leave it out of --rois)");

  RoiSet set;
  set.geom = grid;
  const bool fractional = options.fractional && !labels.geom.same_grid(grid);
  if (labels.data.size() != labels.geom.voxel_count())
    throw make_error("label image has ", labels.data.size(), " values for ", labels.geom.voxel_count(), " voxels");
  if (fractional && labels.geom.voxel_volume_mm3() > grid.voxel_volume_mm3() * (1.0 + 1e-6))
    throw make_error("fractional ROIs need labels on a grid at least as fine as the image's (label voxel ",
                     labels.geom.voxel_volume_mm3(), " mm^3, image voxel ", grid.voxel_volume_mm3(), " mm^3)");
  LabelImage resampled;
  const LabelImage* on_grid = &labels;
  if (!fractional && !labels.geom.same_grid(grid)) {
    ResampledLabels r = resample_labels_nearest(labels, grid);
    set.labelled_volume_ratio = r.labelled_volume_ratio;
    resampled = std::move(r.labels);
    on_grid = &resampled;
    if (options.space == LabelSpace::atlas && r.labelled_volume_ratio < options.min_volume_ratio)
      log::warn("the image covers only ", std::round(r.labelled_volume_ratio * 1000) / 10,
                " % of the labelled atlas volume; are the image and the atlas in the same space?");
  }

  // label value -> regions using it
  std::unordered_map<std::int32_t, std::vector<std::size_t>> users;
  std::vector<bool> usable(regions.size(), true);
  set.names.resize(regions.size());
  set.voxels.resize(regions.size());
  set.weights.resize(regions.size());
  set.notes.resize(regions.size());
  bool any_limits = false;
  for (std::size_t r = 0; r < regions.size(); ++r) {
    set.names[r] = regions[r]->name;
    if (options.space == LabelSpace::native && !regions[r]->limits.empty()) {
      usable[r] = false;
      set.notes[r] = "defined by MNI coordinate limits; not available from native-space labels";
      continue;
    }
    any_limits = any_limits || !regions[r]->limits.empty();
    for (int v : std::set<int>(regions[r]->label_values.begin(), regions[r]->label_values.end()))
      users[v].push_back(r);
  }
  if (fractional) {
    // Every label voxel goes to the image voxel containing its centre; coordinate limits apply to the
    // label voxel's own position.
    const Geometry& lg = labels.geom;
    std::vector<std::unordered_map<std::size_t, std::uint32_t>> counts(regions.size());
    std::size_t labelled = 0, labelled_inside = 0;
    const long n0 = long(grid.size[0]), n1 = long(grid.size[1]), n2 = long(grid.size[2]);
    for (std::size_t k = 0; k < lg.size[2]; ++k)
      for (std::size_t j = 0; j < lg.size[1]; ++j)
        for (std::size_t i = 0; i < lg.size[0]; ++i) {
          const std::int32_t value = labels.data[lg.linear_index(i, j, k)];
          if (value == 0) continue;
          ++labelled;
          const Vec3 p = lg.index_to_point({double(i), double(j), double(k)});
          const Vec3 q = grid.point_to_index(p);
          const long a = long(std::floor(q[0] + 0.5)), b = long(std::floor(q[1] + 0.5)),
                     c = long(std::floor(q[2] + 0.5));
          if (a < 0 || b < 0 || c < 0 || a >= n0 || b >= n1 || c >= n2) continue;
          ++labelled_inside;
          const auto it = users.find(value);
          if (it == users.end()) continue;
          const Vec3 ras = any_limits ? to_ras(p) : Vec3{};
          const std::size_t idx = grid.linear_index(std::size_t(a), std::size_t(b), std::size_t(c));
          for (std::size_t r : it->second)
            if (regions[r]->limits.empty() || regions[r]->limits.contains(ras)) ++counts[r][idx];
        }
    if (labelled_inside == 0)
      throw make_error("no labelled voxel of the label image ", extent_ras(lg), " falls inside the image ",
                       extent_ras(grid), ": image and labels are not in the same space");
    set.labelled_volume_ratio = double(labelled_inside) / double(labelled);
    if (set.labelled_volume_ratio < options.min_volume_ratio)
      log::warn("the image covers only ", std::round(set.labelled_volume_ratio * 1000) / 10,
                " % of the labelled volume of the labels");
    const double scale = lg.voxel_volume_mm3() / grid.voxel_volume_mm3();
    for (std::size_t r = 0; r < regions.size(); ++r) {
      std::vector<std::pair<std::size_t, std::uint32_t>> sorted(counts[r].begin(), counts[r].end());
      std::sort(sorted.begin(), sorted.end());
      for (const auto& [idx, n] : sorted) {
        set.voxels[r].push_back(idx);
        set.weights[r].push_back(float(double(n) * scale));
      }
    }
  } else {
    const auto& d = on_grid->data;
    for (std::size_t k = 0; k < grid.size[2]; ++k)
      for (std::size_t j = 0; j < grid.size[1]; ++j)
        for (std::size_t i = 0; i < grid.size[0]; ++i) {
          const std::size_t idx = grid.linear_index(i, j, k);
          if (d[idx] == 0) continue;
          const auto it = users.find(d[idx]);
          if (it == users.end()) continue;
          Vec3 ras{};
          if (any_limits) ras = to_ras(grid.index_to_point({double(i), double(j), double(k)}));
          for (std::size_t r : it->second) {
            if (!regions[r]->limits.empty() && !regions[r]->limits.contains(ras)) continue;
            set.voxels[r].push_back(idx);
          }
        }
  }
  for (std::size_t r = 0; r < regions.size(); ++r) {
    if (usable[r] && set.voxels[r].empty())
      set.notes[r] = "no voxel of the region falls inside the image";
    if (!set.notes[r].empty()) log::warn("ROI ", set.names[r], ": ", set.notes[r], "; its values are n/a");
  }
  return set;
}

std::vector<RegionStats> region_statistics(const Image3D& map, const RoiSet& rois) {
  if (!map.geom.same_grid(rois.geom))
    throw make_error("the map's grid (", map.geom.size[0], "x", map.geom.size[1], "x", map.geom.size[2],
                     ") differs from the ROI grid (", rois.geom.size[0], "x", rois.geom.size[1], "x",
                     rois.geom.size[2], ")");
  if (map.data.size() != map.geom.voxel_count()) throw make_error("map data size does not match its grid");
  const double vv = map.geom.voxel_volume_mm3();
  std::vector<RegionStats> out(rois.size());
  std::vector<std::pair<double, double>> values;  // (value, weight)
  for (std::size_t r = 0; r < rois.size(); ++r) {
    RegionStats& s = out[r];
    s.name = rois.names[r];
    values.clear();
    const bool weighted = r < rois.weights.size() && !rois.weights[r].empty();
    for (std::size_t n = 0; n < rois.voxels[r].size(); ++n) {
      const float v = map.data[rois.voxels[r][n]];
      if (std::isfinite(v)) values.emplace_back(v, weighted ? double(rois.weights[r][n]) : 1.0);
      else ++s.nan_voxels;
    }
    s.voxels = values.size();
    double wsum = 0.0, w2sum = 0.0, sum = 0.0;
    for (const auto& [v, w] : values) {
      wsum += w;
      w2sum += w * w;
      sum += w * v;
    }
    s.volume_mm3 = wsum * vv;
    s.volume_ml = s.volume_mm3 / 1000.0;
    if (values.empty()) {
      s.mean = s.median = s.sd = kNaN;
      if (!rois.voxels[r].empty())
        log::warn("ROI ", s.name, ": all ", s.nan_voxels, " voxels are NaN in the map; its values are n/a");
      continue;
    }
    if (s.nan_voxels > 0)
      log::debug("ROI ", s.name, ": ", s.nan_voxels, " NaN voxels excluded (", s.voxels, " used)");
    s.mean = sum / wsum;
    double ss = 0.0;
    for (const auto& [v, w] : values) ss += w * (v - s.mean) * (v - s.mean);
    // Reliability weights: sum w (x - m)^2 / (W - sum w^2 / W); n - 1 in the denominator for unit weights.
    const double denom = wsum - w2sum / wsum;
    s.sd = values.size() > 1 && denom > 0 ? std::sqrt(ss / denom) : kNaN;
    std::sort(values.begin(), values.end());
    const double half = 0.5 * wsum;
    double cum = 0.0;
    for (std::size_t n = 0; n < values.size(); ++n) {
      cum += values[n].second;
      if (cum >= half * (1.0 - 1e-12)) {
        const bool on_boundary = std::abs(cum - half) <= 1e-9 * wsum && n + 1 < values.size();
        s.median = on_boundary ? 0.5 * (values[n].first + values[n + 1].first) : values[n].first;
        break;
      }
    }
  }
  return out;
}

Table statistics_table(const std::vector<RegionStats>& stats) {
  Table t;
  t.columns = {"roi", "voxels", "nan_voxels", "volume_mm3", "volume_ml", "mean", "median", "sd"};
  for (const auto& s : stats)
    t.add_row({s.name, std::to_string(s.voxels), std::to_string(s.nan_voxels), format_number(s.volume_mm3),
               format_number(s.volume_ml), format_number(s.mean), format_number(s.median),
               format_number(s.sd)});
  return t;
}

RegionalTacs regional_tacs(const DynamicImage& pet, const RoiSet& rois) {
  if (!pet.geom.same_grid(rois.geom))
    throw make_error("the PET grid (", pet.geom.size[0], "x", pet.geom.size[1], "x", pet.geom.size[2],
                     ") differs from the ROI grid (", rois.geom.size[0], "x", rois.geom.size[1], "x",
                     rois.geom.size[2], ")");
  const std::size_t nf = pet.frame_count();
  if (pet.data.size() != pet.geom.voxel_count() * nf)
    throw make_error("PET data size does not match its grid and ", nf, " frames");
  RegionalTacs out;
  out.frames = pet.frames;
  out.names = rois.names;
  out.values.assign(rois.size(), std::vector<double>(nf, kNaN));
  out.voxels.resize(rois.size());
  out.nan_voxels.assign(rois.size(), 0);
  parallel_for(rois.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) {
      out.voxels[r] = rois.voxels[r].size();
      const bool weighted = r < rois.weights.size() && !rois.weights[r].empty();
      for (std::size_t f = 0; f < nf; ++f) {
        const float* frame = pet.frame(f);
        double sum = 0.0, wsum = 0.0;
        for (std::size_t n = 0; n < rois.voxels[r].size(); ++n) {
          const float v = frame[rois.voxels[r][n]];
          if (std::isfinite(v)) {
            const double w = weighted ? double(rois.weights[r][n]) : 1.0;
            sum += w * v;
            wsum += w;
          } else {
            ++out.nan_voxels[r];
          }
        }
        out.values[r][f] = wsum > 0 ? sum / wsum : kNaN;
      }
    }
  });
  for (std::size_t r = 0; r < rois.size(); ++r) {
    if (out.voxels[r] > 0 && out.nan_voxels[r] > 0)
      log::warn("ROI ", out.names[r], ": ", out.nan_voxels[r], " NaN voxel-frames excluded from its TAC");
    if (out.voxels[r] > 0)
      for (std::size_t f = 0; f < nf; ++f)
        if (std::isnan(out.values[r][f])) {
          log::warn("ROI ", out.names[r], ": frame ", f + 1, " is NaN in every ROI voxel; value n/a");
          break;
        }
  }
  return out;
}

Table tacs_table(const RegionalTacs& tacs) {
  Table t;
  t.columns = {"frame_start", "frame_end"};
  t.columns.insert(t.columns.end(), tacs.names.begin(), tacs.names.end());
  for (std::size_t f = 0; f < tacs.frames.size(); ++f) {
    std::vector<std::string> row{format_number(tacs.frames.start_s[f]), format_number(tacs.frames.end_s(f))};
    for (std::size_t r = 0; r < tacs.names.size(); ++r) row.push_back(format_number(tacs.values[r][f]));
    t.add_row(std::move(row));
  }
  return t;
}

Table group_long_table(const std::vector<SubjectStats>& subjects, Statistic statistic,
                       const Participants* participants) {
  Table t;
  t.columns = {"participant_id", "roi", "value", "voxels", "nan_voxels"};
  if (participants)
    for (const auto& c : participants->column_order)
      if (c != "participant_id") t.columns.push_back(c);
  std::set<std::string> seen;
  for (const auto& s : subjects) {
    const std::string id = s.participant_id.rfind("sub-", 0) == 0 ? s.participant_id : "sub-" + s.participant_id;
    if (!seen.insert(id).second) throw make_error("participant ", id, " appears twice");
    std::vector<std::string> extra;
    if (participants) {
      const auto row = participants->find(id);
      if (!row) throw make_error("participant ", id, " is not in participants.tsv");
      for (const auto& c : participants->column_order) {
        if (c == "participant_id") continue;
        const auto& col = participants->column(c);
        extra.push_back(col.numeric ? format_number(col.values[*row])
                                    : (col.levels[*row].empty() ? "n/a" : col.levels[*row]));
      }
    }
    for (const auto& r : s.stats) {
      std::vector<std::string> row{id, r.name,
                                   format_number(statistic == Statistic::mean ? r.mean : r.median),
                                   std::to_string(r.voxels), std::to_string(r.nan_voxels)};
      row.insert(row.end(), extra.begin(), extra.end());
      t.add_row(std::move(row));
    }
  }
  return t;
}

}  // namespace petpipe::roi
