#include "html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "petpipe/qc/png.hpp"
#include "petpipe/qc/svg.hpp"

namespace petpipe::qc::html {

std::string esc(const std::string& text) { return escape_xml(text); }

std::string page_begin(const std::string& title) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<title>" << esc(title) << "</title>\n<style>\n"
     << "body{font-family:sans-serif;margin:0 auto;max-width:1100px;padding:12px 20px;color:#222;background:#fafafa}\n"
     << "h1{font-size:22px;margin:6px 0 4px}h2{font-size:17px;border-bottom:2px solid #ccc;padding-bottom:3px;margin-top:26px}\n"
     << "h3{font-size:14px;margin:14px 0 4px}\n"
     << ".meta{color:#555;font-size:13px}\n"
     << ".banner{padding:10px 14px;border-radius:4px;margin:10px 0;font-size:15px}\n"
     << ".banner.failed{background:#fde2e2;border:2px solid #c0392b;color:#7b1d13}\n"
     << ".banner.complete{background:#e3f4e1;border:1px solid #3c8d2f}\n"
     << ".banner.unknown{background:#eee;border:1px solid #999}\n"
     << ".warnings{list-style:none;padding:0;margin:6px 0}\n"
     << ".warnings li{padding:5px 9px;margin:3px 0;border-radius:3px;font-size:13px}\n"
     << ".warnings li.error{background:#fde2e2;border-left:5px solid #c0392b}\n"
     << ".warnings li.warning{background:#fff4d6;border-left:5px solid #e0a000}\n"
     << ".warnings li.info{background:#e8f0fb;border-left:5px solid #4a7bd0}\n"
     << ".ok{background:#e3f4e1;border-left:5px solid #3c8d2f;padding:5px 9px;font-size:13px}\n"
     << ".na{background:#f0f0f0;border:1px dashed #aaa;padding:6px 10px;color:#555;font-size:13px;margin:6px 0}\n"
     << ".views{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end}\n"
     << ".slice{position:relative;display:inline-block;background:#000;line-height:0}\n"
     << ".slice img{display:block}\n"
     << ".lab{position:absolute;color:#ffe14d;font:bold 12px sans-serif;line-height:12px;background:rgba(0,0,0,.55);padding:1px 2px;border-radius:2px}\n"
     << ".lab.l{left:3px;top:50%}.lab.r{right:3px;top:50%}.lab.t{top:3px;left:50%}.lab.b{bottom:3px;left:50%}\n"
     << "figure{margin:0}figcaption{font-size:12px;color:#444;margin-top:3px}\n"
     << ".caption{font-size:12px;color:#444;margin:4px 0 0}\n"
     << "table.data{border-collapse:collapse;font-size:12px;margin:6px 0}\n"
     << "table.data th,table.data td{border:1px solid #ccc;padding:2px 6px;text-align:right}\n"
     << "table.data th{background:#eee}table.data td.s{text-align:left}\n"
     << "tr.flag td{background:#fde2e2}\n"
     << ".scroll{max-height:360px;overflow:auto;display:inline-block}\n"
     << "svg.plot{background:#fff;border:1px solid #ddd;margin:4px 0}\n"
     << "footer{margin-top:30px;font-size:11px;color:#777}\n"
     << "</style>\n</head>\n<body>\n";
  return os.str();
}

std::string page_end(const std::string& footer) {
  return "<footer>" + esc(footer) + "</footer>\n</body>\n</html>\n";
}

std::string views(const OrthoViews& v, int view_px, const std::string& caption, const std::string& legend) {
  std::ostringstream os;
  os << "<div class=\"views\">";
  static const char* normal_axis[3] = {"z", "y", "x"};
  for (int p = 0; p < 3; ++p) {
    const SliceView& s = v.views[p];
    const double scale = static_cast<double>(view_px) / std::max(s.image.width, s.image.height);
    const int w = std::max(1, static_cast<int>(std::lround(s.image.width * scale)));
    const int h = std::max(1, static_cast<int>(std::lround(s.image.height * scale)));
    os << "<figure><div class=\"slice\"><img alt=\"" << to_string(s.plane) << " view\" width=\"" << w
       << "\" height=\"" << h << "\" src=\"" << png_data_uri(s.image) << "\">"
       << "<span class=\"lab l\">" << s.left << "</span><span class=\"lab r\">" << s.right << "</span>"
       << "<span class=\"lab t\">" << s.top << "</span><span class=\"lab b\">" << s.bottom << "</span></div>"
       << "<figcaption>" << to_string(s.plane);
    if (s.image.width > 0) os << " " << normal_axis[p] << " = " << format_short(s.position_mm, 4) << " mm";
    os << "</figcaption></figure>";
  }
  if (!legend.empty()) os << "<div>" << legend << "</div>";
  os << "</div><p class=\"caption\">" << caption << "</p>";
  return os.str();
}

std::string not_available(const std::string& what, const std::string& reason) {
  return "<div class=\"na\"><b>" + esc(what) + ": not available</b> &mdash; " +
         esc(reason.empty() ? std::string("not provided") : reason) + "</div>";
}

std::string table(const Table& t, std::size_t max_rows) {
  std::ostringstream os;
  os << "<div class=\"scroll\"><table class=\"data\"><tr>";
  for (const auto& c : t.columns) os << "<th>" << esc(c) << "</th>";
  os << "</tr>";
  const std::size_t n = std::min(max_rows, t.rows.size());
  for (std::size_t r = 0; r < n; ++r) {
    os << "<tr>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const std::string cell = c < t.rows[r].size() ? t.rows[r][c] : "";
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      const bool numeric = !cell.empty() && end && *end == '\0';
      if (numeric) os << "<td>" << esc(format_short(v, 4)) << "</td>";
      else os << "<td class=\"s\">" << esc(cell) << "</td>";
    }
    os << "</tr>";
  }
  os << "</table></div>";
  if (t.rows.size() > n)
    os << "<p class=\"caption\">" << (t.rows.size() - n) << " more rows not shown.</p>";
  return os.str();
}

std::string warnings_block(const std::vector<QcWarning>& warnings) {
  if (warnings.empty()) return "<div class=\"ok\">No warnings.</div>";
  std::ostringstream os;
  os << "<ul class=\"warnings\">";
  for (const auto& w : warnings)
    os << "<li class=\"" << to_string(w.severity) << "\" data-category=\"" << esc(w.category) << "\"><b>"
       << esc(w.category) << "</b>: " << esc(w.message) << "</li>";
  os << "</ul>";
  return os.str();
}

}  // namespace petpipe::qc::html
