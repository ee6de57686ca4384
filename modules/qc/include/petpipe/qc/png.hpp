#pragma once
// A small PNG encoder (8-bit grey, grey+alpha, RGB or RGBA; zlib-compressed, no interlacing) and
// base64 data URIs, so reports embed their images and open offline.
#include <cstdint>
#include <string>
#include <vector>

namespace petpipe::qc {

// An 8-bit raster, row-major from the top-left, `channels` interleaved bytes per pixel
// (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
struct Raster {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<std::uint8_t> pixels;  // width * height * channels

  Raster() = default;
  Raster(int w, int h, int c, std::uint8_t fill = 0);
  std::uint8_t* at(int x, int y) { return pixels.data() + (static_cast<std::size_t>(y) * width + x) * channels; }
  const std::uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<std::size_t>(y) * width + x) * channels;
  }
};

struct PngOptions {
  int compression_level = 6;  // zlib level 0 (store) .. 9 (smallest)
};

// The bytes of a PNG file. Throws petpipe::Error for an empty raster, a channel count outside 1-4 or a
// pixel buffer of the wrong size.
std::vector<std::uint8_t> encode_png(const Raster& raster, const PngOptions& options = {});

// RFC 4648 base64 with padding.
std::string base64_encode(const std::uint8_t* data, std::size_t size);
inline std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  return base64_encode(bytes.data(), bytes.size());
}

// "data:image/png;base64,..." for an <img src>.
std::string png_data_uri(const Raster& raster);

}  // namespace petpipe::qc
