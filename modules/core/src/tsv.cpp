#include "petpipe/core/tsv.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"

namespace petpipe {

namespace {
std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return out;
}

bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (*b == '+') ++b;
  auto [ptr, ec] = std::from_chars(b, e, *out);
  return ec == std::errc() && ptr == e;
}
}  // namespace

bool is_missing(const std::string& cell) { return cell.empty() || cell == "n/a"; }

std::string format_number(double value, int precision) {
  if (std::isnan(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, value);
  return buf;
}

bool Table::has_column(const std::string& name) const {
  for (const auto& c : columns)
    if (c == name) return true;
  return false;
}

std::size_t Table::column_index(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  std::string known;
  for (const auto& c : columns) known += (known.empty() ? "" : ", ") + c;
  throw make_error("no column \"", name, "\" (columns: ", known, ")");
}

std::vector<double> Table::numeric_column(const std::string& name) const {
  const std::size_t c = column_index(name);
  std::vector<double> out(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::string& cell = rows[r][c];
    if (is_missing(cell)) {
      out[r] = std::nan("");
    } else if (!parse_double(cell, &out[r])) {
      throw make_error("column \"", name, "\", row ", r + 1, ": \"", cell, "\" is not a number");
    }
  }
  return out;
}

std::vector<std::string> Table::string_column(const std::string& name) const {
  const std::size_t c = column_index(name);
  std::vector<std::string> out(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) out[r] = rows[r][c];
  return out;
}

void Table::add_row(std::vector<std::string> row) {
  if (row.size() != columns.size())
    throw make_error("table row has ", row.size(), " cells for ", columns.size(), " columns");
  rows.push_back(std::move(row));
}

Table read_tsv(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw make_error(path.string(), ": table not found");
  std::ifstream in(path);
  if (!in) throw make_error(path.string(), ": cannot open");
  Table t;
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lineno == 1) {
      if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // BOM
      t.columns = split_tabs(line);
      if (t.columns.size() == 1 && line.find(',') != std::string::npos)
        throw make_error(path.string(), ": header has no tabs (comma-separated? BIDS tables use tabs)");
      continue;
    }
    if (line.empty()) continue;
    auto cells = split_tabs(line);
    if (cells.size() != t.columns.size())
      throw make_error(path.string(), ": line ", lineno, " has ", cells.size(), " cells but the header has ",
                       t.columns.size());
    t.rows.push_back(std::move(cells));
  }
  if (t.columns.empty() || (t.columns.size() == 1 && t.columns[0].empty()))
    throw make_error(path.string(), ": empty table (no header)");
  return t;
}

void write_tsv(const std::filesystem::path& path, const Table& table) {
  std::ostringstream os;
  for (std::size_t i = 0; i < table.columns.size(); ++i) os << (i ? "\t" : "") << table.columns[i];
  os << '\n';
  for (const auto& row : table.rows) {
    if (row.size() != table.columns.size())
      throw make_error(path.string(), ": row with ", row.size(), " cells for ", table.columns.size(),
                       " columns");
    for (std::size_t i = 0; i < row.size(); ++i) os << (i ? "\t" : "") << (row[i].empty() ? "n/a" : row[i]);
    os << '\n';
  }
  write_text(path, os.str());
}

const Participants::Column& Participants::column(const std::string& name) const {
  auto it = columns.find(name);
  if (it == columns.end()) {
    std::string known;
    for (const auto& c : column_order) known += (known.empty() ? "" : ", ") + c;
    throw make_error("participants table has no column \"", name, "\" (columns: ", known, ")");
  }
  return it->second;
}

std::optional<std::size_t> Participants::find(const std::string& participant) const {
  const std::string want = participant.rfind("sub-", 0) == 0 ? participant : "sub-" + participant;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string id = ids[i].rfind("sub-", 0) == 0 ? ids[i] : "sub-" + ids[i];
    if (id == want) return i;
  }
  return std::nullopt;
}

Participants read_participants(const std::filesystem::path& path) {
  const Table t = read_tsv(path);
  if (!t.has_column("participant_id"))
    throw make_error(path.string(), ": no participant_id column");
  Participants p;
  p.ids = t.string_column("participant_id");
  for (std::size_t r = 0; r < p.ids.size(); ++r) {
    if (is_missing(p.ids[r])) throw make_error(path.string(), ": row ", r + 1, " has no participant_id");
    for (std::size_t q = 0; q < r; ++q)
      if (p.ids[q] == p.ids[r]) throw make_error(path.string(), ": participant ", p.ids[r], " listed twice");
  }
  for (const auto& name : t.columns) {
    if (name == "participant_id") continue;
    Participants::Column col;
    const auto cells = t.string_column(name);
    bool numeric = true;
    std::size_t present = 0;
    for (const auto& c : cells) {
      if (is_missing(c)) continue;
      ++present;
      double v;
      if (!parse_double(c, &v)) numeric = false;
    }
    col.numeric = numeric && present > 0;
    if (col.numeric) {
      for (const auto& c : cells) {
        double v = std::nan("");
        if (!is_missing(c)) parse_double(c, &v);
        col.values.push_back(v);
      }
    } else {
      for (const auto& c : cells) col.levels.push_back(is_missing(c) ? std::string() : c);
    }
    p.column_order.push_back(name);
    p.columns.emplace(name, std::move(col));
  }
  return p;
}

}  // namespace petpipe
