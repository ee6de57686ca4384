// Opens generated reports in headless Chromium: every image must load (naturalWidth > 0 after the load
// event, checked by a script injected into a test copy of the page; the report itself has no script),
// the console must show nothing but the checker's own control message, and a screenshot is saved
// (PETPIPE_QC_SCREENSHOT_DIR keeps it for inspection). A copy with a corrupted image must be caught.
// Skipped only when chromium is not installed (scripts/setup.sh installs it).
#include <gtest/gtest.h>

#include <cstdlib>

#include "petpipe/qc/report.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc;
using namespace petpipe::qc::test;

namespace {

std::string chromium_path() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return {};
}

const char* kChecker = R"JS(
<script>
window.addEventListener('load', function () {
  var imgs = document.images, broken = [];
  for (var i = 0; i < imgs.length; i++)
    if (!imgs[i].complete || imgs[i].naturalWidth === 0 || imgs[i].naturalHeight === 0) broken.push(i);
  document.body.setAttribute('data-qc-images', String(imgs.length));
  document.body.setAttribute('data-qc-broken', broken.length ? broken.join(',') : 'none');
  console.error('qc-check-control');
});
</script>
)JS";

struct BrowserResult {
  int exit_code = -1;
  std::string dom;
  std::vector<std::string> console;  // console lines (any level)
};

std::string base_flags(const fs::path& profile) {
  return " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --user-data-dir=" + profile.string();
}

// Loads `page` with logging to stderr and returns the DOM after the load event.
BrowserResult load_page(const std::string& chromium, const fs::path& dir, const fs::path& page) {
  const fs::path profile = dir / ("profile_" + page.stem().string());
  fs::create_directories(profile);
  const fs::path dom = dir / (page.stem().string() + ".dom"), err = dir / (page.stem().string() + ".err");
  // A subshell keeps the DOM (stdout) and the log (stderr) apart from run()'s own 2>&1.
  const std::string cmd = "( timeout 90 " + chromium + base_flags(profile) +
                          " --enable-logging=stderr --v=0 --dump-dom file://" +
                          page.string() + " > " + dom.string() + " 2> " + err.string() + " )";
  BrowserResult r;
  r.exit_code = run(cmd).exit_code;
  r.dom = read_file(dom);
  std::istringstream lines(read_file(err));
  for (std::string line; std::getline(lines, line);)
    if (line.find(":CONSOLE") != std::string::npos) r.console.push_back(line);
  return r;
}

std::string with_checker(std::string html) {
  const std::size_t at = html.rfind("</body>");
  html.insert(at == std::string::npos ? html.size() : at, kChecker);
  return html;
}

void expect_all_images_loaded(const BrowserResult& r, std::size_t images, const std::string& what) {
  EXPECT_EQ(r.exit_code, 0) << what;
  EXPECT_NE(r.dom.find("data-qc-images=\"" + std::to_string(images) + "\""), std::string::npos)
      << what << ": image count; DOM begins " << r.dom.substr(0, 300);
  EXPECT_NE(r.dom.find("data-qc-broken=\"none\""), std::string::npos) << what << ": a broken image";
  // The control message proves the console is captured; nothing else may be logged.
  std::size_t control = 0;
  for (const auto& line : r.console) {
    if (line.find("qc-check-control") != std::string::npos) ++control;
    else ADD_FAILURE() << what << ": console: " << line;
  }
  EXPECT_EQ(control, 1u) << what << ": console output not captured";
}

SubjectReportInputs subject_with_everything() {
  SubjectReportInputs in;
  in.subject = "05";
  in.tracer = "carfentanil";
  in.status = "complete";
  in.motion = motion_table(3.0);
  in.tacs = tac_table(false);
  in.fitted_tacs = tac_table(true, "putamen");
  in.theta3_edge_fraction = 0.04;
  const Geometry g = ras_grid(40, 48, 36, 2.5, 2.5, 2.5);
  in.bpnd_native = ellipsoid_image(g, 45, 55, 40, 0.6f, {15, 12, 4}, 10, 3.2f);
  in.mean_pet = ellipsoid_image(g, 45, 55, 40, 6.0f, {-15, 12, 4}, 10, 18.0f);
  in.atlas_native = LabelImage(g, 0);
  for (std::size_t v = 0; v < g.voxel_count(); ++v)
    in.atlas_native->data[v] = in.bpnd_native->data[v] > 2 ? 2 : in.bpnd_native->data[v] > 0 ? 1 : 0;
  in.reference_mask = Mask(g, 0);
  for (std::size_t k = 6; k < 12; ++k)
    for (std::size_t j = 3; j < 10; ++j)
      for (std::size_t i = 12; i < 28; ++i) in.reference_mask->at(i, j, k) = 1;
  const Geometry t1g = ras_grid(80, 96, 72, 1.25, 1.25, 1.25);
  in.t1 = ellipsoid_image(t1g, 46, 56, 41, 110.0f, {0, -5, 5}, 9, 40.0f);
  const Geometry mni = ras_grid(91, 109, 91, 2, 2, 2);
  in.t1_mni = ellipsoid_image(mni, 68, 90, 60, 110.0f, {0, -5, 5}, 12, 40.0f);
  in.template_t1 = ellipsoid_image(mni, 70, 92, 62, 100.0f, {0, -5, 5}, 12, 30.0f);
  in.bpnd_mni = ellipsoid_image(mni, 68, 90, 60, 0.6f, {20, 15, 5}, 14, 3.2f);
  in.atlas_mni = LabelImage(mni, 0);
  for (std::size_t v = 0; v < mni.voxel_count(); ++v)
    in.atlas_mni->data[v] = in.bpnd_mni->data[v] > 2 ? 2 : in.bpnd_mni->data[v] > 0 ? 1 : 0;
  return in;
}

}  // namespace

TEST(Chromium, ReportsOpenWithEveryImageLoadedAndNoConsoleErrors) {
  const std::string chromium = chromium_path();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  const fs::path dir = fresh_dir("chromium");

  const SubjectReport subject = subject_report(subject_with_everything());
  const std::size_t subject_images = count(subject.html, "<img ");
  ASSERT_EQ(subject_images, 15u);  // BPND native + MNI, coregistration, normalization, reference
  write_file(dir / "subject.html", subject.html);
  write_file(dir / "subject_check.html", with_checker(subject.html));

  GroupReportInputs gin;
  const Geometry mni = ras_grid(45, 54, 45, 4, 4, 4);
  gin.stat_maps.push_back({"patients > controls", ellipsoid_image(mni, 70, 90, 60, 0.4f, {-24, 10, 12}, 12, 5.0f), "t", 3.1,
                           "p < 0.001", ""});
  gin.underlay = ellipsoid_image(mni, 70, 90, 60, 100.0f, {0, 0, 0}, 0, 100.0f);
  for (int s = 0; s < 10; ++s)
    for (const char* r : {"caudate", "putamen", "thalamus"})
      gin.roi_values.push_back({"sub-" + std::to_string(s), s < 5 ? "control" : "patient", r,
                                (s < 5 ? 1.0 : 1.3) + 0.04 * (s % 5) + (s == 2 && r[0] == 't' ? 3.0 : 0.0)});
  const GroupReport group = group_report(gin);
  write_file(dir / "group.html", group.html);
  write_file(dir / "group_check.html", with_checker(group.html));

  // Negative control: a corrupted PNG must be reported as broken.
  std::string corrupted = with_checker(subject.html);
  const std::size_t png = corrupted.find("data:image/png;base64,iVBOR");
  ASSERT_NE(png, std::string::npos);
  corrupted.replace(png + 22, 5, "AAAAA");
  write_file(dir / "corrupted_check.html", corrupted);

  const BrowserResult s = load_page(chromium, dir, dir / "subject_check.html");
  expect_all_images_loaded(s, subject_images, "subject report");
  const BrowserResult g = load_page(chromium, dir, dir / "group_check.html");
  expect_all_images_loaded(g, count(group.html, "<img "), "group report");
  const BrowserResult c = load_page(chromium, dir, dir / "corrupted_check.html");
  EXPECT_NE(c.dom.find("data-qc-broken=\"0\""), std::string::npos) << "the checker missed a corrupted image";

  // Screenshot of the report itself (no checker), decoded and checked for content.
  const char* keep = std::getenv("PETPIPE_QC_SCREENSHOT_DIR");
  const fs::path shots = keep ? fs::path(keep) : dir;
  fs::create_directories(shots);
  for (const auto& [name, min_coloured] : {std::pair<const char*, long>{"subject", 20000}, {"group", 5000}}) {
    const fs::path shot = shots / (std::string(name) + "_report.png");
    fs::remove(shot);
    const fs::path profile = dir / (std::string("profile_shot_") + name);
    const auto r = run("timeout 90 " + chromium + base_flags(profile) + " --hide-scrollbars --window-size=1150,3200 --screenshot=" +
                       shot.string() + " file://" + (dir / (std::string(name) + ".html")).string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(fs::exists(shot)) << r.output;
    const auto py = run("/usr/bin/python3 -c \"from PIL import Image; im = Image.open('" + shot.string() +
                        "').convert('RGB'); px = im.getdata(); "
                        "print(im.size[0], im.size[1], sum(1 for p in px if max(p) - min(p) > 40))\"");
    ASSERT_EQ(py.exit_code, 0) << py.output;
    int w = 0, h = 0;
    long coloured = 0;
    ASSERT_EQ(std::sscanf(py.output.c_str(), "%d %d %ld", &w, &h, &coloured), 3) << py.output;
    EXPECT_EQ(w, 1150);
    EXPECT_EQ(h, 3200);
    EXPECT_GT(coloured, min_coloured) << name << ": the screenshot shows almost no coloured content";
  }
  if (!keep) fs::remove_all(dir);
}
