// SVG plots: well-formed XML (parsed by Python's xml.etree), the expected elements, and the numbers
// behind them (quantiles as numpy's default, box-plot whiskers, tick values).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "petpipe/qc/svg.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc;
using namespace petpipe::qc::test;

TEST(Svg, QuantileMatchesNumpyDefault) {
  // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.9]) = [1.75, 2.5, 3.7]
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_NEAR(quantile({4, 1, 3, 2}, 0.9), 3.7, 1e-12);
  EXPECT_DOUBLE_EQ(quantile({5, std::nan(""), 1}, 0.5), 3.0);
  EXPECT_TRUE(std::isnan(quantile({}, 0.5)));
}

TEST(Svg, BoxStatsWhiskersStopAtOneAndAHalfIqr) {
  const BoxStats s = box_stats({1, 2, 3, 4, 10});
  EXPECT_DOUBLE_EQ(s.q1, 2);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.q3, 4);
  EXPECT_DOUBLE_EQ(s.whisker_low, 1);
  EXPECT_DOUBLE_EQ(s.whisker_high, 4);  // 10 > 4 + 1.5 * 2
  EXPECT_EQ(s.n, 5u);
}

TEST(Svg, NiceTicks) {
  const auto t = nice_ticks(0, 1, 5);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_NEAR(t[1], 0.2, 1e-12);
  EXPECT_NEAR(t[5], 1.0, 1e-12);
  const auto u = nice_ticks(-3.7, 12.2, 5);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0], 0.0);
  EXPECT_EQ(u[2], 10.0);
  const auto v = nice_ticks(0.0013, 0.0051, 4);
  EXPECT_NEAR(v.front(), 0.002, 1e-15);
  EXPECT_NEAR(v.back(), 0.005, 1e-15);
}

TEST(Svg, PlotsAreWellFormedXmlWithTheExpectedElements) {
  const fs::path d = fresh_dir("svg");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Series a{"tx <mm> & \"more\"", {0, 1, 2, 3, 4, 5}, {0, 0.5, nan, 1.5, 2.0, 1.0}, "#1f77b4", true, true};
  Series b{"fit", {0, 1, 2, 3, 4, 5}, {1, 1, 1, 1, 1, 1}, "#d62728", true, false, true};
  PlotOptions po;
  po.title = "Motion & <stuff>";
  po.x_label = "time (min)";
  po.y_label = "mm";
  const std::string lp = line_plot({a, b}, po, {{1.5, 2.5, "excluded frame"}, {3.5, 4.5, "excluded frame"}},
                                   {{1.8, "threshold", "#c0392b"}});
  write_file(d / "line.svg", lp);
  std::vector<BoxCategory> cats(2);
  cats[0].name = "caudate";
  cats[0].groups = {{{1.0, "sub-01"}, {1.2, "sub-02"}, {1.1, "sub-03"}, {3.0, "sub-04", true}}, {{0.8, "sub-05"}, {0.9, "sub-06"}}};
  cats[1].name = "putamen & co";
  cats[1].groups = {{{2.0, "sub-01"}}, {}};
  write_file(d / "box.svg", box_plot(cats, {"control", "patient"}, po));
  write_file(d / "bar.svg", colour_bar(Colormap::inferno, 0, 3.2, "BPND"));
  write_file(d / "check.py", R"PY(
import sys, xml.etree.ElementTree as ET
ns = '{http://www.w3.org/2000/svg}'
for name in ['line', 'box', 'bar']:
    root = ET.parse(sys.argv[1] + '/' + name + '.svg').getroot()
    assert root.tag == ns + 'svg', root.tag
    tags = [e.tag[len(ns):] for e in root.iter()]
    texts = [e.text for e in root.iter(ns + 'text')]
    print(name, 'circle', tags.count('circle'), 'path', tags.count('path'), 'stop', tags.count('stop'),
          'title', tags.count('title'), 'legendtext', any(t == 'tx <mm> & "more"' for t in texts),
          'heading', any(t == 'Motion & <stuff>' for t in texts))
)PY");
  const auto r = run("/usr/bin/python3 " + (d / "check.py").string() + " " + d.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // line: 5 finite markers of series a plus 1 legend marker? No: legend uses lines for line series.
  EXPECT_NE(r.output.find("line circle 5 path 2 stop 0 title 0 legendtext True heading True"), std::string::npos)
      << r.output;
  // box: 7 subject points, each with a tooltip.
  EXPECT_NE(r.output.find("box circle 7 path 0 stop 0 title 7"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bar circle 0 path 0 stop 17"), std::string::npos) << r.output;
  // The NaN breaks the line of series a into two sub-paths.
  EXPECT_EQ(count(lp, " M"), 1u) << "one move-to after the first";
  // The flagged point is drawn as a red ring.
  EXPECT_EQ(count(read_file(d / "box.svg"), "stroke=\"#d00000\""), 1u);
  fs::remove_all(d);
}
