#pragma once
// BIDS-style TSV: tab-separated, a header row, "n/a" for missing values.
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace petpipe {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  std::size_t column_index(const std::string& name) const;  // throws if absent
  bool has_column(const std::string& name) const;
  // Numeric column; "n/a" and empty cells become NaN; other non-numbers throw.
  std::vector<double> numeric_column(const std::string& name) const;
  std::vector<std::string> string_column(const std::string& name) const;
  void add_row(std::vector<std::string> row);
};

Table read_tsv(const std::filesystem::path& path);
void write_tsv(const std::filesystem::path& path, const Table& table);  // atomic
std::string format_number(double value, int precision = 8);          // NaN -> "n/a"
bool is_missing(const std::string& cell);                             // "n/a" or empty

// participants.tsv with typed columns: numeric where every non-missing cell parses as a number,
// categorical otherwise.
struct Participants {
  struct Column {
    bool numeric = false;
    std::vector<double> values;       // numeric columns (NaN = missing)
    std::vector<std::string> levels;  // categorical columns (empty string = missing)
  };
  std::vector<std::string> ids;  // participant_id values, "sub-" prefix kept as in the file
  std::vector<std::string> column_order;
  std::map<std::string, Column> columns;

  std::size_t size() const { return ids.size(); }
  const Column& column(const std::string& name) const;  // throws naming known columns
  std::optional<std::size_t> find(const std::string& participant) const;  // "01" or "sub-01"
};

Participants read_participants(const std::filesystem::path& path);

}  // namespace petpipe
