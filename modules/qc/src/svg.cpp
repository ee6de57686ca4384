#include "petpipe/qc/svg.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

namespace petpipe::qc {

std::string escape_xml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string format_short(double v, int precision) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0.0) v = 0.0;
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", precision, v);
  return b;
}

std::string palette_colour(std::size_t i) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return colours[i % (sizeof colours / sizeof colours[0])];
}

double quantile(std::vector<double> v, double p) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(p, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  if (lo + 1 >= v.size()) return v.back();
  return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step)
    ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  return ticks;
}

BoxStats box_stats(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  BoxStats s;
  s.n = v.size();
  if (v.empty()) return s;
  s.q1 = quantile(v, 0.25);
  s.median = quantile(v, 0.5);
  s.q3 = quantile(v, 0.75);
  const double iqr = s.q3 - s.q1;
  s.whisker_low = s.q1;
  s.whisker_high = s.q3;
  for (double x : v) {
    if (x >= s.q1 - 1.5 * iqr) s.whisker_low = std::min(s.whisker_low, x);
    if (x <= s.q3 + 1.5 * iqr) s.whisker_high = std::max(s.whisker_high, x);
  }
  return s;
}

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

// Plot frame: margins, linear scales, axes with ticks, labels and title.
struct Frame {
  double left = 64, right = 16, top = 30, bottom = 46;
  double width = 640, height = 280;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }
};

void open_svg(std::ostringstream& os, const Frame& f, const std::string& title) {
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"" << f.width << "\" height=\"" << f.height
     << "\" viewBox=\"0 0 " << f.width << " " << f.height << "\" font-family=\"sans-serif\" font-size=\"11\">";
  os << "<rect x=\"0\" y=\"0\" width=\"" << f.width << "\" height=\"" << f.height << "\" fill=\"#ffffff\"/>";
  if (!title.empty())
    os << "<text x=\"" << num(f.width / 2) << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
       << escape_xml(title) << "</text>";
}

void axes(std::ostringstream& os, const Frame& f, const std::string& xl, const std::string& yl, bool x_ticks) {
  const double L = f.left, R = f.width - f.right, T = f.top, B = f.height - f.bottom;
  for (double t : nice_ticks(f.y0, f.y1, 5)) {
    const double y = f.py(t);
    os << "<line x1=\"" << num(L) << "\" y1=\"" << num(y) << "\" x2=\"" << num(R) << "\" y2=\"" << num(y)
       << "\" stroke=\"#e5e5e5\"/>";
    os << "<text x=\"" << num(L - 5) << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\">" << format_short(t)
       << "</text>";
  }
  if (x_ticks)
    for (double t : nice_ticks(f.x0, f.x1, 8)) {
      const double x = f.px(t);
      os << "<line x1=\"" << num(x) << "\" y1=\"" << num(B) << "\" x2=\"" << num(x) << "\" y2=\"" << num(B + 4)
         << "\" stroke=\"#333\"/>";
      os << "<text x=\"" << num(x) << "\" y=\"" << num(B + 16) << "\" text-anchor=\"middle\">" << format_short(t)
         << "</text>";
    }
  os << "<rect x=\"" << num(L) << "\" y=\"" << num(T) << "\" width=\"" << num(R - L) << "\" height=\"" << num(B - T)
     << "\" fill=\"none\" stroke=\"#333\"/>";
  if (!xl.empty())
    os << "<text x=\"" << num((L + R) / 2) << "\" y=\"" << num(f.height - 8) << "\" text-anchor=\"middle\">"
       << escape_xml(xl) << "</text>";
  if (!yl.empty())
    os << "<text x=\"14\" y=\"" << num((T + B) / 2) << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 "
       << num((T + B) / 2) << ")\">" << escape_xml(yl) << "</text>";
}

struct LegendEntry {
  std::string label, colour;
  enum Kind { line, marker, band, dashed } kind;
};

double legend_width(std::size_t longest_label) {
  return 34 + 6.2 * static_cast<double>(std::min<std::size_t>(longest_label, 40));
}

// Legend to the right of the plot area (in the right margin), one row per entry.
void legend(std::ostringstream& os, const Frame& f, const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  std::size_t longest = 0;
  for (const auto& e : entries) longest = std::max(longest, e.label.size());
  const double w = legend_width(longest);
  const double h = 6 + 15.0 * entries.size();
  const double x = f.width - w - 4, y = f.top;
  os << "<g class=\"legend\"><rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(w) << "\" height=\""
     << num(h) << "\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double cy = y + 11 + 15.0 * i;
    switch (e.kind) {
      case LegendEntry::band:
        os << "<rect x=\"" << num(x + 6) << "\" y=\"" << num(cy - 5) << "\" width=\"18\" height=\"10\" fill=\"" << e.colour
           << "\"/>";
        break;
      case LegendEntry::marker:
        os << "<circle cx=\"" << num(x + 15) << "\" cy=\"" << num(cy) << "\" r=\"3\" fill=\"" << e.colour << "\"/>";
        break;
      default:
        os << "<line x1=\"" << num(x + 6) << "\" y1=\"" << num(cy) << "\" x2=\"" << num(x + 24) << "\" y2=\"" << num(cy)
           << "\" stroke=\"" << e.colour << "\" stroke-width=\"2\""
           << (e.kind == LegendEntry::dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>";
    }
    os << "<text x=\"" << num(x + 30) << "\" y=\"" << num(cy + 4) << "\">" << escape_xml(e.label) << "</text>";
  }
  os << "</g>";
}

void range_of(const std::vector<double>& v, double& lo, double& hi) {
  for (double x : v)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
}

void finish_range(double& lo, double& hi, double pad) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi == lo) {
    lo -= 0.5 * (std::abs(lo) > 0 ? std::abs(lo) : 1);
    hi += 0.5 * (std::abs(hi) > 0 ? std::abs(hi) : 1);
  }
  const double d = (hi - lo) * pad;
  lo -= d;
  hi += d;
}

}  // namespace

std::string line_plot(const std::vector<Series>& series, const PlotOptions& o, const std::vector<Band>& bands,
                      const std::vector<HLine>& lines) {
  Frame f;
  f.width = o.width;
  f.height = o.height;
  std::size_t longest = 0;
  for (const auto& s : series) longest = std::max(longest, s.label.size());
  for (const auto& b : bands) longest = std::max(longest, b.label.size());
  for (const auto& l : lines) longest = std::max(longest, l.label.size());
  if (longest > 0) f.right = legend_width(longest) + 12;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : series) {
    range_of(s.x, xlo, xhi);
    range_of(s.y, ylo, yhi);
  }
  for (const auto& b : bands) range_of({b.x0, b.x1}, xlo, xhi);
  for (const auto& l : lines) range_of({l.y}, ylo, yhi);
  if (o.include_zero && std::isfinite(ylo)) {
    ylo = std::min(ylo, 0.0);
    yhi = std::max(yhi, 0.0);
  }
  finish_range(xlo, xhi, 0.0);
  finish_range(ylo, yhi, 0.05);
  f.x0 = o.x_min.value_or(xlo);
  f.x1 = o.x_max.value_or(xhi);
  f.y0 = o.y_min.value_or(ylo);
  f.y1 = o.y_max.value_or(yhi);
  if (!(f.x1 > f.x0)) f.x1 = f.x0 + 1;
  if (!(f.y1 > f.y0)) f.y1 = f.y0 + 1;

  std::ostringstream os;
  open_svg(os, f, o.title);
  const double T = f.top, B = f.height - f.bottom, L = f.left, R = f.width - f.right;
  std::vector<LegendEntry> entries;
  std::set<std::string> band_labels;
  for (const auto& b : bands) {
    const double a = std::clamp(f.px(b.x0), L, R), c = std::clamp(f.px(b.x1), L, R);
    os << "<rect x=\"" << num(std::min(a, c)) << "\" y=\"" << num(T) << "\" width=\"" << num(std::max(1.0, std::abs(c - a)))
       << "\" height=\"" << num(B - T) << "\" fill=\"" << b.colour << "\" fill-opacity=\"0.7\"/>";
    if (!b.label.empty() && band_labels.insert(b.label).second) entries.push_back({b.label, b.colour, LegendEntry::band});
  }
  axes(os, f, o.x_label, o.y_label, true);
  for (const auto& l : lines) {
    if (!(l.y >= f.y0 && l.y <= f.y1)) continue;
    const double y = f.py(l.y);
    os << "<line x1=\"" << num(L) << "\" y1=\"" << num(y) << "\" x2=\"" << num(R) << "\" y2=\"" << num(y) << "\" stroke=\""
       << l.colour << "\" stroke-dasharray=\"6,4\"/>";
    if (!l.label.empty()) entries.push_back({l.label, l.colour, LegendEntry::dashed});
  }
  for (const auto& s : series) {
    const std::size_t n = std::min(s.x.size(), s.y.size());
    if (s.line) {
      std::string d;
      bool pen = false;
      for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
          pen = false;
          continue;
        }
        const double x = std::clamp(f.px(s.x[i]), L - 2, R + 2), y = std::clamp(f.py(s.y[i]), T - 2, B + 2);
        d += (pen ? " L" : " M") + num(x) + " " + num(y);
        pen = true;
      }
      if (!d.empty())
        os << "<path d=\"" << d.substr(1) << "\" fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\""
           << num(s.line_width) << "\"" << (s.dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>";
    }
    if (s.markers)
      for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        const double x = f.px(s.x[i]), y = f.py(s.y[i]);
        if (x < L - 1 || x > R + 1 || y < T - 1 || y > B + 1) continue;
        os << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"2.6\" fill=\"" << s.colour << "\"/>";
      }
    if (!s.label.empty())
      entries.push_back({s.label, s.colour,
                         s.line ? (s.dashed ? LegendEntry::dashed : LegendEntry::line) : LegendEntry::marker});
  }
  legend(os, f, entries);
  os << "</svg>";
  return os.str();
}

std::string box_plot(const std::vector<BoxCategory>& categories, const std::vector<std::string>& group_names,
                     const PlotOptions& o) {
  Frame f;
  f.width = o.width;
  f.height = o.height;
  f.bottom = 64;
  std::size_t longest = 0;
  for (const auto& g : group_names) longest = std::max(longest, g.size());
  if (longest > 0) f.right = legend_width(longest) + 12;
  double ylo = std::numeric_limits<double>::infinity(), yhi = -ylo;
  for (const auto& c : categories)
    for (const auto& g : c.groups)
      for (const auto& p : g) range_of({p.value}, ylo, yhi);
  if (o.include_zero && std::isfinite(ylo)) {
    ylo = std::min(ylo, 0.0);
    yhi = std::max(yhi, 0.0);
  }
  finish_range(ylo, yhi, 0.06);
  f.y0 = o.y_min.value_or(ylo);
  f.y1 = o.y_max.value_or(yhi);
  if (!(f.y1 > f.y0)) f.y1 = f.y0 + 1;
  const std::size_t ncat = std::max<std::size_t>(1, categories.size());
  const std::size_t ngroups = std::max<std::size_t>(1, group_names.size());
  f.x0 = 0;
  f.x1 = static_cast<double>(ncat);

  std::ostringstream os;
  open_svg(os, f, o.title);
  axes(os, f, o.x_label, o.y_label, false);
  const double slot = (f.px(1) - f.px(0));
  const double box_w = std::min(40.0, 0.8 * slot / ngroups);
  for (std::size_t c = 0; c < categories.size(); ++c) {
    const auto& cat = categories[c];
    const double cx = f.px(c + 0.5);
    os << "<text x=\"" << num(cx) << "\" y=\"" << num(f.height - f.bottom + 16) << "\" text-anchor=\"middle\">"
       << escape_xml(cat.name) << "</text>";
    for (std::size_t g = 0; g < cat.groups.size() && g < ngroups; ++g) {
      const auto& pts = cat.groups[g];
      std::vector<double> vals;
      for (const auto& p : pts) vals.push_back(p.value);
      const BoxStats s = box_stats(vals);
      const double gx = cx + (static_cast<double>(g) - 0.5 * (ngroups - 1)) * (0.8 * slot / ngroups);
      const std::string col = palette_colour(g);
      os << "<g class=\"box\">";
      if (s.n > 0) {
        const double x0 = gx - box_w / 2;
        os << "<line x1=\"" << num(gx) << "\" y1=\"" << num(f.py(s.whisker_low)) << "\" x2=\"" << num(gx) << "\" y2=\""
           << num(f.py(s.whisker_high)) << "\" stroke=\"" << col << "\"/>";
        for (double w : {s.whisker_low, s.whisker_high})
          os << "<line x1=\"" << num(gx - box_w / 4) << "\" y1=\"" << num(f.py(w)) << "\" x2=\"" << num(gx + box_w / 4)
             << "\" y2=\"" << num(f.py(w)) << "\" stroke=\"" << col << "\"/>";
        os << "<rect x=\"" << num(x0) << "\" y=\"" << num(f.py(s.q3)) << "\" width=\"" << num(box_w) << "\" height=\""
           << num(std::max(0.5, f.py(s.q1) - f.py(s.q3))) << "\" fill=\"" << col << "\" fill-opacity=\"0.25\" stroke=\""
           << col << "\"/>";
        os << "<line x1=\"" << num(x0) << "\" y1=\"" << num(f.py(s.median)) << "\" x2=\"" << num(x0 + box_w) << "\" y2=\""
           << num(f.py(s.median)) << "\" stroke=\"" << col << "\" stroke-width=\"2.5\"/>";
      }
      for (std::size_t i = 0; i < pts.size(); ++i) {
        if (!std::isfinite(pts[i].value)) continue;
        // Deterministic jitter: a low-discrepancy sequence over the box width.
        const double jitter = (std::fmod(0.618033988749895 * (i + 1), 1.0) - 0.5) * 0.6 * box_w;
        os << "<circle cx=\"" << num(gx + jitter) << "\" cy=\"" << num(f.py(pts[i].value)) << "\" r=\""
           << (pts[i].flagged ? "4.5" : "2.5") << "\" fill=\"" << (pts[i].flagged ? "none" : col) << "\" stroke=\""
           << (pts[i].flagged ? "#d00000" : col) << "\"" << (pts[i].flagged ? " stroke-width=\"2\"" : "") << ">";
        if (!pts[i].label.empty())
          os << "<title>" << escape_xml(pts[i].label + ": " + format_short(pts[i].value)) << "</title>";
        os << "</circle>";
      }
      os << "</g>";
    }
  }
  std::vector<LegendEntry> entries;
  for (std::size_t g = 0; g < group_names.size(); ++g) entries.push_back({group_names[g], palette_colour(g), LegendEntry::band});
  legend(os, f, entries);
  os << "</svg>";
  return os.str();
}

std::string colour_bar(Colormap map, double vmin, double vmax, const std::string& label, int width, int height,
                       double t_low, double t_high) {
  std::ostringstream os;
  static std::atomic<int> counter{0};
  const std::string id = "cb" + std::to_string(++counter);
  const double L = 10, R = width - 10, T = 4, B = 18;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"colourbar\" width=\"" << width << "\" height=\"" << height
     << "\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"sans-serif\" font-size=\"11\">";
  os << "<defs><linearGradient id=\"" << id << "\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\">";
  for (int i = 0; i <= 16; ++i) {
    const double t = i / 16.0;
    os << "<stop offset=\"" << num(t) << "\" stop-color=\"" << hex(colour_at(map, t_low + t * (t_high - t_low)))
       << "\"/>";
  }
  os << "</linearGradient></defs>";
  os << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << (R - L) << "\" height=\"" << (B - T) << "\" fill=\"url(#"
     << id << ")\" stroke=\"#333\"/>";
  if (vmax > vmin)
    for (double t : nice_ticks(vmin, vmax, 4)) {
      const double x = L + (t - vmin) / (vmax - vmin) * (R - L);
      os << "<line x1=\"" << num(x) << "\" y1=\"" << B << "\" x2=\"" << num(x) << "\" y2=\"" << (B + 4)
         << "\" stroke=\"#333\"/><text x=\"" << num(x) << "\" y=\"" << (B + 15) << "\" text-anchor=\"middle\">"
         << format_short(t) << "</text>";
    }
  os << "<text x=\"" << num(width / 2.0) << "\" y=\"" << (height - 2) << "\" text-anchor=\"middle\">" << escape_xml(label)
     << "</text></svg>";
  return os.str();
}

}  // namespace petpipe::qc
