#include "petpipe/core/frame_table.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <string_view>

#include "petpipe/core/error.hpp"

namespace petpipe {

std::vector<double> FrameTable::mid_times_s() const {
  std::vector<double> t(size());
  for (std::size_t f = 0; f < size(); ++f) t[f] = mid_s(f);
  return t;
}

double FrameTable::decay_constant_per_s() const {
  return half_life_s > 0 ? std::log(2.0) / half_life_s : 0.0;
}

double FrameTable::decay_factor(std::size_t f) const {
  const double lambda = decay_constant_per_s();
  if (lambda <= 0) return 1.0;
  const double s = start_s[f] - decay_reference_s;
  const double d = duration_s[f];
  const double x = lambda * d;
  const double avg = x < 1e-8 ? 1.0 - 0.5 * x : (1.0 - std::exp(-x)) / x;
  return std::exp(-lambda * s) * avg;
}

void FrameTable::validate(const std::string& source) const {
  if (start_s.empty()) throw make_error(source, ": no frames in the frame table");
  if (start_s.size() != duration_s.size())
    throw make_error(source, ": ", start_s.size(), " frame start times but ", duration_s.size(),
                     " frame durations");
  for (std::size_t f = 0; f < size(); ++f) {
    if (!std::isfinite(start_s[f]) || !std::isfinite(duration_s[f]))
      throw make_error(source, ": frame ", f + 1, " has a non-finite start or duration");
    if (duration_s[f] <= 0)
      throw make_error(source, ": frame ", f + 1, " has a zero or negative duration (",
                       duration_s[f], " s)");
    if (f > 0 && start_s[f] <= start_s[f - 1])
      throw make_error(source, ": frame starts are not increasing (frame ", f, " starts at ",
                       start_s[f - 1], " s, frame ", f + 1, " at ", start_s[f], " s)");
    if (f > 0 && start_s[f] < end_s(f - 1) - 1e-3)
      throw make_error(source, ": frames ", f, " and ", f + 1, " overlap (frame ", f, " ends at ",
                       end_s(f - 1), " s, frame ", f + 1, " starts at ", start_s[f], " s)");
  }
}

namespace {
struct Nuclide {
  const char* canonical;
  const char* element;  // upper-case symbol
  int mass;
  double half_life_s;
};
// Half-lives from the NNDC / DDEP evaluations.
constexpr Nuclide kNuclides[] = {
    {"C11", "C", 11, 1221.84},     {"F18", "F", 18, 6586.2},     {"O15", "O", 15, 122.24},
    {"N13", "N", 13, 597.9},       {"Ga68", "GA", 68, 4062.6},   {"Cu64", "CU", 64, 45721.1},
    {"Zr89", "ZR", 89, 282276.0},  {"Rb82", "RB", 82, 75.45},    {"I124", "I", 124, 360806.4},
    {"Br76", "BR", 76, 58320.0},   {"Sc44", "SC", 44, 14292.0},  {"Tc99m", "TC", 99, 21624.12},
};

const std::map<std::string, std::string>& element_names() {
  static const std::map<std::string, std::string> m = {
      {"CARBON", "C"},  {"FLUORINE", "F"}, {"OXYGEN", "O"},    {"NITROGEN", "N"},
      {"GALLIUM", "GA"}, {"COPPER", "CU"}, {"ZIRCONIUM", "ZR"}, {"RUBIDIUM", "RB"},
      {"IODINE", "I"},  {"BROMINE", "BR"}, {"SCANDIUM", "SC"}, {"TECHNETIUM", "TC"}};
  return m;
}

const Nuclide* find_nuclide(const std::string& text) {
  std::string letters, digits;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c)))
      letters += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    else if (std::isdigit(static_cast<unsigned char>(c)))
      digits += c;
    else if (c != '-' && c != '^' && c != ' ' && c != '_')
      return nullptr;
  }
  if (letters.empty() || digits.empty()) return nullptr;
  if (auto it = element_names().find(letters); it != element_names().end()) {
    letters = it->second;
  } else if (letters == "TCM") {
    letters = "TC";  // metastable Tc-99m
  }
  const int mass = std::stoi(digits);
  for (const auto& n : kNuclides)
    if (letters == n.element && mass == n.mass) return &n;
  return nullptr;
}
}  // namespace

std::optional<double> half_life_seconds(const std::string& radionuclide) {
  if (const Nuclide* n = find_nuclide(radionuclide)) return n->half_life_s;
  return std::nullopt;
}

std::optional<std::string> canonical_radionuclide(const std::string& radionuclide) {
  if (const Nuclide* n = find_nuclide(radionuclide)) return std::string(n->canonical);
  return std::nullopt;
}

namespace {

// s with every occurrence of `from` replaced by `to`, scanning left to right.
std::string replace_all(const std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::optional<double> activity_to_kbq_per_ml(const std::string& units) {
  std::string u;
  for (char c : units)
    if (!std::isspace(static_cast<unsigned char>(c)))
      u += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // cc == mL; "µ" (UTF-8 0xC2 0xB5) == u
  u = replace_all(replace_all(u, "cc", "ml"), "\xc2\xb5", "u");
  static const std::map<std::string, double> table = {
      {"bq/ml", 1e-3},  {"kbq/ml", 1.0},  {"mbq/ml", 1e3},     {"gbq/ml", 1e6},
      {"bq/l", 1e-6},   {"kbq/l", 1e-3},  {"pci/ml", 3.7e-5},  {"nci/ml", 3.7e-2},
      {"uci/ml", 37.0}, {"mci/ml", 3.7e4}};
  if (auto it = table.find(u); it != table.end()) return it->second;
  return std::nullopt;
}

}  // namespace petpipe
