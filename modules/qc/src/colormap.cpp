#include "petpipe/qc/colormap.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace petpipe::qc {

namespace {

struct Stop {
  double t;
  double r, g, b;
};

// Piecewise-linear interpolation between control colours.
Rgb interpolate(const std::vector<Stop>& stops, double t) {
  if (t <= stops.front().t) return {static_cast<std::uint8_t>(stops.front().r), static_cast<std::uint8_t>(stops.front().g),
                                    static_cast<std::uint8_t>(stops.front().b)};
  for (std::size_t i = 1; i < stops.size(); ++i) {
    if (t <= stops[i].t) {
      const Stop& a = stops[i - 1];
      const Stop& b = stops[i];
      const double w = (t - a.t) / (b.t - a.t);
      auto mix = [w](double x, double y) { return static_cast<std::uint8_t>(std::lround(x + w * (y - x))); };
      return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
    }
  }
  const Stop& l = stops.back();
  return {static_cast<std::uint8_t>(l.r), static_cast<std::uint8_t>(l.g), static_cast<std::uint8_t>(l.b)};
}

const std::vector<Stop>& stops_of(Colormap map) {
  static const std::vector<Stop> grey{{0, 0, 0, 0}, {1, 255, 255, 255}};
  // Control colours chosen along a dark-to-light path with monotonically increasing lightness.
  static const std::vector<Stop> inferno{{0.00, 0, 0, 4},      {0.15, 40, 11, 84},   {0.30, 101, 21, 110},
                                         {0.45, 159, 42, 99},  {0.60, 212, 72, 66},  {0.75, 245, 125, 21},
                                         {0.88, 250, 193, 39}, {1.00, 252, 255, 164}};
  static const std::vector<Stop> hot{{0, 0, 0, 0}, {0.375, 255, 0, 0}, {0.75, 255, 255, 0}, {1, 255, 255, 255}};
  static const std::vector<Stop> cool{{0, 0, 0, 0}, {0.375, 0, 60, 255}, {0.75, 0, 255, 255}, {1, 255, 255, 255}};
  switch (map) {
    case Colormap::grey: return grey;
    case Colormap::inferno: return inferno;
    case Colormap::hot: return hot;
    case Colormap::cool: return cool;
  }
  return grey;
}

}  // namespace

Rgb colour_at(Colormap map, double t) {
  if (std::isnan(t)) return {0, 0, 0};
  return interpolate(stops_of(map), std::clamp(t, 0.0, 1.0));
}

Rgb map_value(Colormap map, double v, double vmin, double vmax) {
  if (!(vmax > vmin)) return colour_at(map, v >= vmax ? 1.0 : 0.0);
  return colour_at(map, (v - vmin) / (vmax - vmin));
}

std::string to_string(Colormap map) {
  switch (map) {
    case Colormap::grey: return "grey";
    case Colormap::inferno: return "inferno";
    case Colormap::hot: return "hot";
    case Colormap::cool: return "cool";
  }
  return "?";
}

std::string hex(const Rgb& c) {
  char b[8];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", c[0], c[1], c[2]);
  return b;
}

}  // namespace petpipe::qc
