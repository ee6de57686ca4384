#pragma once
// HTML building blocks shared by the subject and group reports (internal).
#include <string>
#include <vector>

#include "petpipe/core/tsv.hpp"
#include "petpipe/qc/checks.hpp"
#include "petpipe/qc/slices.hpp"

namespace petpipe::qc::html {

std::string page_begin(const std::string& title);
std::string page_end(const std::string& footer);
std::string esc(const std::string& text);
// A row of the three orthogonal views with L/R/A/P/S/I labels and captions; `legend` is placed after.
std::string views(const OrthoViews& v, int view_px, const std::string& caption, const std::string& legend = "");
std::string not_available(const std::string& what, const std::string& reason);
// A table; numeric cells formatted to 4 significant digits; at most max_rows rows (a note says how
// many were left out).
std::string table(const Table& t, std::size_t max_rows = 200);
std::string warnings_block(const std::vector<QcWarning>& warnings);

}  // namespace petpipe::qc::html
