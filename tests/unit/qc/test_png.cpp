// PNG encoder and base64: decoded independently by Python (PIL, which checks every chunk CRC, and a
// hand-written zlib + filter decoder), compared byte for byte with the input raster.
#include <gtest/gtest.h>

#include "petpipe/core/error.hpp"
#include "petpipe/qc/png.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc;
using namespace petpipe::qc::test;

namespace {

Raster pattern(int w, int h, int c) {
  Raster r(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k)
        r.at(x, y)[k] = static_cast<std::uint8_t>((x * 7 + y * 13 + k * 61 + (x * y) % 17) & 255);
  return r;
}

// Decodes with PIL and with zlib + the PNG filters by hand, writes the raw pixels of each.
const char* kDecoder = R"PY(
import sys, struct, zlib
from PIL import Image
src, out_pil, out_raw = sys.argv[1:4]
im = Image.open(src); im.load()
open(out_pil, 'wb').write(im.tobytes())
data = open(src, 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, hdr = 8, b'', None
while pos < len(data):
    n, = struct.unpack('>I', data[pos:pos+4]); typ = data[pos+4:pos+8]; body = data[pos+8:pos+8+n]
    crc, = struct.unpack('>I', data[pos+8+n:pos+12+n])
    assert zlib.crc32(typ + body) & 0xffffffff == crc, typ
    if typ == b'IHDR': hdr = struct.unpack('>IIBBBBB', body)
    if typ == b'IDAT': idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
bpp = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
raw = zlib.decompress(idat); stride = w * bpp; out = bytearray(); prev = bytearray(stride)
for y in range(h):
    f = raw[y*(stride+1)]; line = bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
    for i in range(stride):
        a = line[i-bpp] if i >= bpp else 0; b = prev[i]; c = prev[i-bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else: assert f == 0, f
    out += line; prev = line
open(out_raw, 'wb').write(bytes(out))
print(w, h, depth, ctype)
)PY";

}  // namespace

TEST(Png, DecodesToTheSamePixelsInPython) {
  const fs::path d = fresh_dir("png");
  write_file(d / "decode.py", kDecoder);
  const int channels[4] = {1, 2, 3, 4};
  const char* modes[4] = {"0", "4", "2", "6"};
  for (int i = 0; i < 4; ++i) {
    const int c = channels[i];
    const Raster r = pattern(37, 23, c);
    const auto bytes = encode_png(r);
    const fs::path png = d / ("p" + std::to_string(c) + ".png");
    write_file(png, std::string(bytes.begin(), bytes.end()));
    const auto res = run("/usr/bin/python3 " + (d / "decode.py").string() + " " + png.string() + " " +
                         (d / "pil.raw").string() + " " + (d / "own.raw").string());
    ASSERT_EQ(res.exit_code, 0) << res.output;
    EXPECT_EQ(res.output, "37 23 8 " + std::string(modes[i]) + "\n");
    const std::string expected(r.pixels.begin(), r.pixels.end());
    EXPECT_EQ(read_file(d / "pil.raw"), expected) << "channels " << c;
    EXPECT_EQ(read_file(d / "own.raw"), expected) << "channels " << c;
  }
  fs::remove_all(d);
}

TEST(Png, FlatImagesCompressAndSizeOneWorks) {
  Raster flat(200, 100, 3, 128);
  EXPECT_LT(encode_png(flat).size(), 1000u);  // 60 kB of pixels
  Raster one(1, 1, 3);
  one.pixels = {1, 2, 3};
  const auto b = encode_png(one);
  ASSERT_GT(b.size(), 8u);
  EXPECT_EQ(b[1], 'P');
}

TEST(Png, RejectsBadRasters) {
  EXPECT_THROW(encode_png(Raster(0, 5, 3)), Error);
  Raster r(4, 4, 3);
  r.pixels.pop_back();
  EXPECT_THROW(encode_png(r), Error);
  Raster c5(2, 2, 5);
  EXPECT_THROW(encode_png(c5), Error);
  try {
    encode_png(r);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("47 bytes"), std::string::npos) << e.what();
  }
}

TEST(Base64, Rfc4648Vectors) {
  auto b64 = [](const std::string& s) {
    return base64_encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  const std::vector<std::uint8_t> hi{0xff, 0xfe, 0x00};
  EXPECT_EQ(base64_encode(hi), "//4A");
  const std::string uri = png_data_uri(Raster(2, 2, 1, 9));
  EXPECT_EQ(uri.rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u) << uri;
}
