#pragma once
// Colour maps for slice images and colour bars.
#include <array>
#include <cstdint>
#include <string>

namespace petpipe::qc {

using Rgb = std::array<std::uint8_t, 3>;

enum class Colormap {
  grey,     // black -> white (anatomy, mean PET)
  inferno,  // black -> purple -> red -> orange -> pale yellow, perceptually ordered (BPND)
  hot,      // black -> red -> yellow -> white (positive statistics)
  cool      // black -> blue -> cyan -> white (negative statistics)
};

// Colour of t in [0, 1] (clamped; NaN gives black).
Rgb colour_at(Colormap map, double t);
// Colour of value v mapped linearly from [vmin, vmax] to [0, 1].
Rgb map_value(Colormap map, double v, double vmin, double vmax);

std::string to_string(Colormap map);
std::string hex(const Rgb& c);  // "#rrggbb"

}  // namespace petpipe::qc
