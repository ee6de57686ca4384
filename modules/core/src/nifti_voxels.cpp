// Voxel data of NIfTI-1 / NIfTI-2 files, read with zlib (which reads .nii and .nii.gz alike).
//
// Why not ITK for the voxels: ITK's bundled nifti1_io silently replaces NaN and Inf in float data by 0
// and does not notice a truncated .nii.gz. petpipe must keep NaN (it marks invalid voxels) and must
// reject truncated files, so headers and geometry come from ITK and the voxels from here.
#include "nifti_voxels.hpp"

#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "petpipe/core/error.hpp"

namespace petpipe::detail {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const {
    if (f) gzclose(f);
  }
};
using Gz = std::unique_ptr<gzFile_s, GzCloser>;

template <typename T>
T swapped(T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  std::memcpy(&v, b, sizeof(T));
  return v;
}

template <typename T>
T field(const unsigned char* hdr, std::size_t offset, bool swap) {
  T v;
  std::memcpy(&v, hdr + offset, sizeof(T));
  return swap ? swapped(v) : v;
}

void read_exact(gzFile_s* f, void* dst, std::size_t n, const std::string& path, const char* what) {
  unsigned char* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
    const int got = gzread(f, p, chunk);
    if (got <= 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      if (got == 0 || err == Z_OK || err == Z_BUF_ERROR)
        throw make_error(path, ": cannot read image data: file ends early (truncated) while reading ", what);
      throw make_error(path, ": cannot read image data (corrupt file?): ", msg ? msg : "zlib error");
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

template <typename Src>
void convert(const unsigned char* raw, std::size_t n, bool swap, double slope, double inter, float* out) {
  const bool scale = slope != 0.0 && std::isfinite(slope) && std::isfinite(inter) && (slope != 1.0 || inter != 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, raw + i * sizeof(Src), sizeof(Src));
    if (swap) v = swapped(v);
    const double d = static_cast<double>(v);
    out[i] = static_cast<float>(scale ? d * slope + inter : d);
  }
}

}  // namespace

NiftiVoxelHeader read_voxel_header(const std::string& path) {
  Gz f(gzopen(path.c_str(), "rb"));
  if (!f) throw make_error(path, ": cannot open");
  unsigned char hdr[540];
  read_exact(f.get(), hdr, 348, path, "the header");
  NiftiVoxelHeader h;
  std::int32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, hdr, 4);
  bool swap = false;
  if (sizeof_hdr != 348 && sizeof_hdr != 540) {
    swap = true;
    sizeof_hdr = swapped(sizeof_hdr);
  }
  if (sizeof_hdr == 348) {
    h.version = 1;
    for (int i = 0; i < 8; ++i) h.dim[i] = field<std::int16_t>(hdr, 40 + 2 * i, swap);
    h.datatype = field<std::int16_t>(hdr, 70, swap);
    h.bitpix = field<std::int16_t>(hdr, 72, swap);
    h.vox_offset = static_cast<std::int64_t>(field<float>(hdr, 108, swap));
    h.scl_slope = field<float>(hdr, 112, swap);
    h.scl_inter = field<float>(hdr, 116, swap);
  } else if (sizeof_hdr == 540) {
    read_exact(f.get(), hdr + 348, 540 - 348, path, "the header");
    h.version = 2;
    h.datatype = field<std::int16_t>(hdr, 12, swap);
    h.bitpix = field<std::int16_t>(hdr, 14, swap);
    for (int i = 0; i < 8; ++i) h.dim[i] = field<std::int64_t>(hdr, 16 + 8 * i, swap);
    h.vox_offset = field<std::int64_t>(hdr, 168, swap);
    h.scl_slope = field<double>(hdr, 176, swap);
    h.scl_inter = field<double>(hdr, 184, swap);
  } else {
    throw make_error(path, ": not a NIfTI-1 or NIfTI-2 file (bad header size)");
  }
  h.swap = swap;
  if (h.dim[0] < 1 || h.dim[0] > 7) throw make_error(path, ": invalid NIfTI dim[0] = ", h.dim[0]);
  return h;
}

std::size_t voxel_count(const NiftiVoxelHeader& h) {
  std::size_t n = 1;
  for (int i = 1; i <= h.dim[0]; ++i) n *= static_cast<std::size_t>(std::max<std::int64_t>(1, h.dim[i]));
  return n;
}

void read_voxels(const std::string& path, float* out, std::size_t expected_count) {
  const NiftiVoxelHeader h = read_voxel_header(path);
  const std::size_t n = voxel_count(h);
  if (n != expected_count)
    throw make_error(path, ": header holds ", n, " voxels, expected ", expected_count);
  std::size_t bytes_per = 0;
  switch (h.datatype) {
    case 2: case 256: bytes_per = 1; break;            // uint8, int8
    case 4: case 512: bytes_per = 2; break;            // int16, uint16
    case 8: case 768: case 16: bytes_per = 4; break;   // int32, uint32, float32
    case 64: case 1024: case 1280: bytes_per = 8; break;  // float64, int64, uint64
    default: throw make_error(path, ": unsupported NIfTI datatype ", h.datatype);
  }
  Gz f(gzopen(path.c_str(), "rb"));
  if (!f) throw make_error(path, ": cannot open");
  gzbuffer(f.get(), 1 << 20);
  // Skip the header and extensions up to vox_offset.
  std::vector<unsigned char> skip(static_cast<std::size_t>(std::max<std::int64_t>(h.vox_offset, 0)));
  read_exact(f.get(), skip.data(), skip.size(), path, "the header");
  // Read and convert in chunks so that a 4D image is never held twice.
  const std::size_t chunk = std::max<std::size_t>(1, (8u << 20) / bytes_per);
  std::vector<unsigned char> raw(std::min(n, chunk) * bytes_per);
  for (std::size_t done = 0; done < n;) {
    const std::size_t m = std::min(chunk, n - done);
    read_exact(f.get(), raw.data(), m * bytes_per, path, "the voxel data");
    float* o = out + done;
    const double s = h.scl_slope, c = h.scl_inter;
    switch (h.datatype) {
      case 2: convert<std::uint8_t>(raw.data(), m, h.swap, s, c, o); break;
      case 256: convert<std::int8_t>(raw.data(), m, h.swap, s, c, o); break;
      case 4: convert<std::int16_t>(raw.data(), m, h.swap, s, c, o); break;
      case 512: convert<std::uint16_t>(raw.data(), m, h.swap, s, c, o); break;
      case 8: convert<std::int32_t>(raw.data(), m, h.swap, s, c, o); break;
      case 768: convert<std::uint32_t>(raw.data(), m, h.swap, s, c, o); break;
      case 16: convert<float>(raw.data(), m, h.swap, s, c, o); break;
      case 64: convert<double>(raw.data(), m, h.swap, s, c, o); break;
      case 1024: convert<std::int64_t>(raw.data(), m, h.swap, s, c, o); break;
      case 1280: convert<std::uint64_t>(raw.data(), m, h.swap, s, c, o); break;
    }
    done += m;
  }
  // A .nii.gz must also end cleanly (gzip trailer with a matching length and CRC).
  unsigned char extra;
  const int more = gzread(f.get(), &extra, 1);
  if (more < 0) {
    int err = 0;
    const char* msg = gzerror(f.get(), &err);
    throw make_error(path, ": cannot read image data (corrupt file?): ", msg ? msg : "zlib error");
  }
}

}  // namespace petpipe::detail
