#include "petpipe/qc/png.hpp"

#include <zlib.h>

#include "petpipe/core/error.hpp"

namespace petpipe::qc {

Raster::Raster(int w, int h, int c, std::uint8_t fill)
    : width(w), height(h), channels(c),
      pixels(static_cast<std::size_t>(w > 0 ? w : 0) * (h > 0 ? h : 0) * (c > 0 ? c : 0), fill) {}

namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// Length, type, data, CRC-32 over type and data.
void put_chunk(std::vector<std::uint8_t>& out, const char type[4], const std::uint8_t* data, std::size_t n) {
  put_u32(out, static_cast<std::uint32_t>(n));
  const std::size_t type_pos = out.size();
  out.insert(out.end(), type, type + 4);
  if (n) out.insert(out.end(), data, data + n);
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), out.data() + type_pos, static_cast<uInt>(n + 4));
  put_u32(out, static_cast<std::uint32_t>(crc));
}

// Per-row filter choice by the usual minimum-sum-of-absolute-differences heuristic among None, Sub, Up.
void filter_rows(const Raster& r, std::vector<std::uint8_t>& out) {
  const std::size_t stride = static_cast<std::size_t>(r.width) * r.channels;
  const int bpp = r.channels;
  out.resize((stride + 1) * r.height);
  std::vector<std::uint8_t> sub(stride), up(stride);
  for (int y = 0; y < r.height; ++y) {
    const std::uint8_t* row = r.pixels.data() + y * stride;
    const std::uint8_t* prev = y > 0 ? row - stride : nullptr;
    unsigned long cost_none = 0, cost_sub = 0, cost_up = 0;
    for (std::size_t i = 0; i < stride; ++i) {
      const std::uint8_t left = i >= static_cast<std::size_t>(bpp) ? row[i - bpp] : 0;
      const std::uint8_t above = prev ? prev[i] : 0;
      sub[i] = static_cast<std::uint8_t>(row[i] - left);
      up[i] = static_cast<std::uint8_t>(row[i] - above);
      auto cost = [](std::uint8_t v) { return static_cast<unsigned long>(v < 128 ? v : 256 - v); };
      cost_none += cost(row[i]);
      cost_sub += cost(sub[i]);
      cost_up += cost(up[i]);
    }
    std::uint8_t* dst = out.data() + y * (stride + 1);
    if (cost_sub <= cost_none && cost_sub <= cost_up) {
      dst[0] = 1;
      std::copy(sub.begin(), sub.end(), dst + 1);
    } else if (cost_up < cost_none) {
      dst[0] = 2;
      std::copy(up.begin(), up.end(), dst + 1);
    } else {
      dst[0] = 0;
      std::copy(row, row + stride, dst + 1);
    }
  }
}

}  // namespace

std::vector<std::uint8_t> encode_png(const Raster& raster, const PngOptions& options) {
  if (raster.width <= 0 || raster.height <= 0)
    throw make_error("PNG encoder: empty raster (", raster.width, " x ", raster.height, ")");
  if (raster.channels < 1 || raster.channels > 4)
    throw make_error("PNG encoder: ", raster.channels, " channels per pixel; 1 to 4 are supported");
  const std::size_t expected = static_cast<std::size_t>(raster.width) * raster.height * raster.channels;
  if (raster.pixels.size() != expected)
    throw make_error("PNG encoder: pixel buffer holds ", raster.pixels.size(), " bytes; ", raster.width, " x ",
                     raster.height, " x ", raster.channels, " needs ", expected);
  if (options.compression_level < 0 || options.compression_level > 9)
    throw make_error("PNG encoder: compression level ", options.compression_level, " outside 0-9");

  std::vector<std::uint8_t> filtered;
  filter_rows(raster, filtered);
  uLongf zsize = compressBound(static_cast<uLong>(filtered.size()));
  std::vector<std::uint8_t> z(zsize);
  const int rc = compress2(z.data(), &zsize, filtered.data(), static_cast<uLong>(filtered.size()),
                           options.compression_level);
  if (rc != Z_OK) throw make_error("PNG encoder: zlib compress2 failed (code ", rc, ")");
  z.resize(zsize);

  std::vector<std::uint8_t> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> ihdr;
  put_u32(ihdr, static_cast<std::uint32_t>(raster.width));
  put_u32(ihdr, static_cast<std::uint32_t>(raster.height));
  static const std::uint8_t colour_type[5] = {0, 0, 4, 2, 6};
  ihdr.push_back(8);                             // bit depth
  ihdr.push_back(colour_type[raster.channels]);  // grey, grey+alpha, RGB, RGBA
  ihdr.push_back(0);                             // deflate
  ihdr.push_back(0);                             // adaptive filtering
  ihdr.push_back(0);                             // no interlace
  put_chunk(out, "IHDR", ihdr.data(), ihdr.size());
  put_chunk(out, "IDAT", z.data(), z.size());
  put_chunk(out, "IEND", nullptr, 0);
  return out;
}

std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i < size) {
    std::uint32_t v = data[i] << 16;
    if (i + 1 < size) v |= data[i + 1] << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < size ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string png_data_uri(const Raster& raster) {
  return "data:image/png;base64," + base64_encode(encode_png(raster));
}

}  // namespace petpipe::qc
