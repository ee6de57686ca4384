#pragma once
// Inline SVG plots (line/marker plots, box plots, colour bars) as strings for HTML reports. Each
// function returns one self-contained <svg> element (xmlns set) that is well-formed XML.
#include <optional>
#include <string>
#include <vector>

#include "petpipe/qc/colormap.hpp"

namespace petpipe::qc {

struct Series {
  std::string label;           // legend entry; empty = not in the legend
  std::vector<double> x, y;    // same length; a NaN y breaks the line
  std::string colour = "#1f77b4";
  bool line = true;
  bool markers = false;
  bool dashed = false;
  double line_width = 1.8;     // px
};

// A vertical band [x0, x1] shaded across the plot (e.g. excluded frames).
struct Band {
  double x0 = 0, x1 = 0;
  std::string label;           // legend entry (once per distinct label)
  std::string colour = "#f6c4c4";
};

// A horizontal reference line (e.g. a warning threshold).
struct HLine {
  double y = 0;
  std::string label;
  std::string colour = "#c0392b";
};

struct PlotOptions {
  std::string title;
  std::string x_label, y_label;
  int width = 640, height = 280;             // px
  std::optional<double> x_min, x_max, y_min, y_max;  // default: data range (y padded by 5 %)
  bool include_zero = false;                 // extend the y range to 0
};

std::string line_plot(const std::vector<Series>& series, const PlotOptions& options,
                      const std::vector<Band>& bands = {}, const std::vector<HLine>& lines = {});

struct BoxPoint {
  double value = 0;
  std::string label;     // tooltip (<title>), e.g. the subject
  bool flagged = false;  // drawn as a red ring (outlier flag)
};
struct BoxCategory {
  std::string name;                          // e.g. a region
  std::vector<std::vector<BoxPoint>> groups; // one vector per group, in the order of group_names
};
// Box (quartiles, median), whiskers to the most extreme points within 1.5 IQR of the box, every point
// drawn (deterministic horizontal jitter), one box per group within each category.
std::string box_plot(const std::vector<BoxCategory>& categories, const std::vector<std::string>& group_names,
                     const PlotOptions& options);

struct BoxStats {
  double q1 = 0, median = 0, q3 = 0;
  double whisker_low = 0, whisker_high = 0;
  std::size_t n = 0;
};
BoxStats box_stats(std::vector<double> values);  // NaN ignored; all zero when empty

// Horizontal colour bar with ticks at nice values between vmin and vmax; the bar shows the part
// [t_low, t_high] of the colour map (as slice overlays use it).
std::string colour_bar(Colormap map, double vmin, double vmax, const std::string& label, int width = 280,
                       int height = 48, double t_low = 0.0, double t_high = 1.0);

// Quantile p in [0, 1] with linear interpolation between order statistics (Hyndman-Fan type 7, the
// default of R and numpy); NaN ignored; NaN when nothing is left.
double quantile(std::vector<double> values, double p);
// About `target` tick values at 1, 2 or 5 x 10^k steps covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Distinct colours for series and groups (a fixed qualitative palette, cycled).
std::string palette_colour(std::size_t i);
// Escapes &, <, >, " and ' for XML/HTML text and attributes.
std::string escape_xml(const std::string& text);
// Compact number formatting (%.*g, no "-0").
std::string format_short(double value, int precision = 4);

}  // namespace petpipe::qc
