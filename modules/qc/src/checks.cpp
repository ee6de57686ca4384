#include "petpipe/qc/checks.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "petpipe/core/error.hpp"
#include "petpipe/qc/svg.hpp"

namespace petpipe::qc {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;
}  // namespace

std::string to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

std::vector<MotionFrame> motion_from_table(const Table& table, const std::string& source) {
  auto column = [&](const std::string& name) {
    if (!table.has_column(name)) throw make_error(source, ": motion table has no '", name, "' column");
    try {
      return table.numeric_column(name);
    } catch (const std::exception& e) {
      throw make_error(source, ": motion column '", name, "' is not numeric (", e.what(), ")");
    }
  };
  const char* required[6] = {"tx", "ty", "tz", "rx", "ry", "rz"};
  std::vector<std::vector<double>> p;
  for (const char* name : required) p.push_back(column(name));
  const std::size_t n = table.rows.size();
  std::vector<double> start(n, kNaN), end(n, kNaN), fd, excl;
  if (table.has_column("frame_start")) start = column("frame_start");
  if (table.has_column("frame_end")) end = column("frame_end");
  else if (table.has_column("frame_duration") && table.has_column("frame_start")) {
    const auto d = column("frame_duration");
    for (std::size_t i = 0; i < n; ++i) end[i] = start[i] + d[i];
  }
  if (table.has_column("fd")) fd = column("fd");
  else if (table.has_column("framewise_displacement")) fd = column("framewise_displacement");
  if (table.has_column("excluded")) {
    excl = column("excluded");
  } else if (table.has_column("status")) {  // petpipe realign: "excluded", "before-start", "near-empty", ...
    for (const auto& s : table.string_column("status"))
      excl.push_back(s == "excluded" || s == "before-start" || s == "near-empty" ? 1.0 : 0.0);
  }
  std::vector<MotionFrame> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    MotionFrame& m = out[i];
    m.start_s = start[i];
    m.end_s = end[i];
    m.tx = p[0][i]; m.ty = p[1][i]; m.tz = p[2][i];
    m.rx = p[3][i]; m.ry = p[4][i]; m.rz = p[5][i];
    m.excluded = !excl.empty() && std::isfinite(excl[i]) && excl[i] != 0.0;
    if (!fd.empty()) {
      m.fd = fd[i];
    } else if (i > 0) {
      const MotionFrame& q = out[i - 1];
      const double r = 50.0 * kPi / 180.0;
      m.fd = std::abs(m.tx - q.tx) + std::abs(m.ty - q.ty) + std::abs(m.tz - q.tz) +
             r * (std::abs(m.rx - q.rx) + std::abs(m.ry - q.ry) + std::abs(m.rz - q.rz));
    }
  }
  return out;
}

MotionSummary summarize_motion(const std::vector<MotionFrame>& frames) {
  MotionSummary s;
  s.frames = frames.size();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const MotionFrame& m = frames[i];
    if (m.excluded) ++s.excluded_frames;
    if (std::isfinite(m.fd) && m.fd > s.max_fd_mm) {
      s.max_fd_mm = m.fd;
      s.max_fd_frame = i;
    }
    const double t = std::sqrt(m.tx * m.tx + m.ty * m.ty + m.tz * m.tz);
    if (std::isfinite(t) && t > s.max_translation_mm) {
      s.max_translation_mm = t;
      s.max_translation_frame = i;
    }
    const double r = std::max({std::abs(m.rx), std::abs(m.ry), std::abs(m.rz)});
    if (std::isfinite(r) && r > s.max_rotation_deg) {
      s.max_rotation_deg = r;
      s.max_rotation_frame = i;
    }
  }
  return s;
}

std::vector<QcWarning> motion_warnings(const MotionSummary& s, const QcThresholds& t) {
  std::vector<QcWarning> w;
  if (s.max_fd_mm > t.max_fd_mm)
    w.push_back({"motion", Severity::warning,
                 "high motion: framewise displacement " + format_short(s.max_fd_mm, 3) + " mm at frame " +
                     std::to_string(s.max_fd_frame + 1) + " (threshold " + format_short(t.max_fd_mm) + " mm)"});
  if (s.max_translation_mm > t.max_translation_mm)
    w.push_back({"motion", Severity::warning,
                 "high motion: translation " + format_short(s.max_translation_mm, 3) + " mm at frame " +
                     std::to_string(s.max_translation_frame + 1) + " (threshold " +
                     format_short(t.max_translation_mm) + " mm)"});
  if (s.max_rotation_deg > t.max_rotation_deg)
    w.push_back({"motion", Severity::warning,
                 "high motion: rotation " + format_short(s.max_rotation_deg, 3) + " deg at frame " +
                     std::to_string(s.max_rotation_frame + 1) + " (threshold " + format_short(t.max_rotation_deg) +
                     " deg)"});
  if (s.excluded_frames > 0)
    w.push_back({"motion", Severity::info,
                 std::to_string(s.excluded_frames) + " of " + std::to_string(s.frames) +
                     " frames excluded from motion estimation"});
  return w;
}

double late_rise(const std::vector<double>& start_s, const std::vector<double>& end_s, const std::vector<double>& tac,
                 double late_start_fraction) {
  const std::size_t n = std::min({start_s.size(), end_s.size(), tac.size()});
  if (n == 0) return kNaN;
  const double scan_end = end_s[n - 1];
  std::vector<double> x, y;
  for (std::size_t f = 0; f < n; ++f)
    if (start_s[f] >= late_start_fraction * scan_end - 1e-9 && std::isfinite(tac[f])) {
      x.push_back(0.5 * (start_s[f] + end_s[f]));
      y.push_back(tac[f]);
    }
  if (x.size() < 3) return kNaN;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= x.size();
  my /= y.size();
  if (!(my > 0)) return kNaN;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  if (!(sxx > 0)) return kNaN;
  return sxy / sxx * (x.back() - x.front()) / my;
}

std::vector<QcWarning> reference_tac_warnings(const std::vector<double>& start_s, const std::vector<double>& end_s,
                                              const std::vector<double>& tac, const QcThresholds& t) {
  std::vector<QcWarning> w;
  const std::size_t n = tac.size();
  std::vector<std::size_t> nonfinite, nonpositive;
  bool seen_positive = false;
  for (std::size_t f = 0; f < n; ++f) {
    if (!std::isfinite(tac[f])) {
      nonfinite.push_back(f);
      continue;
    }
    if (tac[f] > 0) seen_positive = true;
    else if (seen_positive) nonpositive.push_back(f);
  }
  auto frames = [](const std::vector<std::size_t>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 8; ++i) s += (i ? ", " : "") + std::to_string(v[i] + 1);
    if (v.size() > 8) s += ", ...";
    return s;
  };
  if (!nonfinite.empty())
    w.push_back({"reference", Severity::error, "reference TAC: non-finite value in frame(s) " + frames(nonfinite)});
  if (!seen_positive && n > 0)
    w.push_back({"reference", Severity::error, "reference TAC: no positive value in any frame"});
  if (!nonpositive.empty())
    w.push_back({"reference", Severity::warning,
                 "reference TAC: non-positive value after tracer arrival in frame(s) " + frames(nonpositive)});
  const double rise = late_rise(start_s, end_s, tac, t.late_start_fraction);
  if (std::isfinite(rise) && rise > t.late_rise_fraction)
    w.push_back({"reference", Severity::warning,
                 "reference TAC rises in the late frames: +" + format_short(100 * rise, 3) +
                     " % over the frames after " + format_short(100 * t.late_start_fraction, 3) +
                     " % of the scan (threshold " + format_short(100 * t.late_rise_fraction, 3) +
                     " %); binding in the reference region or a bad reference mask?"});
  return w;
}

std::optional<QcWarning> theta3_warning(double f, const QcThresholds& t) {
  if (!std::isfinite(f) || f <= t.theta3_edge_fraction) return std::nullopt;
  return QcWarning{"theta3", Severity::warning,
                   format_short(100 * f, 3) + " % of fitted voxels have theta3 at the edge of the basis grid "
                   "(threshold " + format_short(100 * t.theta3_edge_fraction, 3) +
                   " %): their parameters are bounded by the grid, not estimated"};
}

std::vector<QcWarning> fit_warnings(const std::vector<RegionFit>& fits) {
  std::vector<QcWarning> w;
  std::vector<std::string> failed, bounded, unconverged;
  for (const auto& f : fits) {
    if (f.failed) failed.push_back(f.region + (f.note.empty() ? "" : " (" + f.note + ")"));
    else if (f.at_bound) bounded.push_back(f.region);
    else if (!f.converged) unconverged.push_back(f.region);
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 12; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 12) s += ", ... (" + std::to_string(v.size()) + " in all)";
    return s;
  };
  if (!failed.empty()) w.push_back({"fit", Severity::error, "failed regional fit(s): " + list(failed)});
  if (!bounded.empty()) w.push_back({"fit", Severity::warning, "regional fit(s) ending on a parameter bound: " + list(bounded)});
  if (!unconverged.empty()) w.push_back({"fit", Severity::warning, "regional fit(s) not converged: " + list(unconverged)});
  return w;
}

std::vector<OutlierFlag> flag_outliers(const std::vector<RoiValue>& values, double z_threshold) {
  std::map<std::pair<std::string, std::string>, std::vector<const RoiValue*>> cells;
  for (const auto& v : values)
    if (std::isfinite(v.value)) cells[{v.group, v.region}].push_back(&v);
  std::vector<OutlierFlag> out;
  for (const auto& [key, members] : cells) {
    if (members.size() < 4) continue;
    std::vector<double> x;
    for (const auto* m : members) x.push_back(m->value);
    const double med = quantile(x, 0.5);
    std::vector<double> dev;
    double mean_abs = 0;
    for (double v : x) {
      dev.push_back(std::abs(v - med));
      mean_abs += std::abs(v - med);
    }
    mean_abs /= x.size();
    double scale = 1.4826 * quantile(dev, 0.5);
    if (!(scale > 0)) scale = 1.2533 * mean_abs;
    if (!(scale > 0)) continue;
    for (const auto* m : members) {
      const double z = (m->value - med) / scale;
      if (std::abs(z) > z_threshold) out.push_back({m->subject, m->group, m->region, m->value, z});
    }
  }
  std::sort(out.begin(), out.end(), [](const OutlierFlag& a, const OutlierFlag& b) {
    return a.subject != b.subject ? a.subject < b.subject : a.region < b.region;
  });
  return out;
}

}  // namespace petpipe::qc
