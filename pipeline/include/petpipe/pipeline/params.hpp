#pragma once
// Parameter tables: every tunable option of a stage is one row, declared once. A row names the
// configuration key (within the stage's section of a study configuration), the command-line flag, the
// type, the unit, the allowed range or choices and a one-line description; its default is read from a
// default-constructed Options struct of the stage. From the table come the command's options and
// --help, the configuration defaults (`petpipe run --print-config`), the validation of a configuration,
// the provenance JSON and the equivalent command line of a stage run in-process.
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

namespace petpipe::params {

namespace po = boost::program_options;
using json = nlohmann::json;

enum class Type {
  real,        // floating point (json number); may be optional (null = not set)
  integer,     // integer (json integer)
  boolean,     // json true/false; on the command line a switch (see Param::switch_sets) or true|false
  text,        // free text (json string)
  choice,      // one of Param::choices (json string)
  text_list,   // json array of strings; several command-line tokens
  frame_list,  // json array of 1-based frame numbers; command-line tokens such as 3, 1-4 or 1,2,7-9
  real3,       // one number (isotropic) or three (per axis); json number or array of 3
};

struct Range {
  std::optional<double> min, max;
  bool min_exclusive = false, max_exclusive = false;
};

// Range helpers: at_least(0) = [0, inf), above(0) = (0, inf), between(1, 8) = [1, 8].
Range at_least(double v);
Range above(double v);
Range between(double lo, double hi);
Range open_between(double lo, double hi);  // (lo, hi)

struct Param {
  std::string key;   // configuration key within the stage section, e.g. "fwhm_mm"
  std::string flag;  // command-line flag without dashes, e.g. "fwhm"
  Type type = Type::real;
  std::string unit;  // "mm", "1/min", ... ("" for none)
  std::string doc;   // one line
  Range range;
  std::vector<std::string> choices;  // Type::choice
  bool optional = false;             // null allowed (real): "not set"
  std::string null_means;            // what null means, for --help ("the tracer preset's")
  std::optional<bool> switch_sets;   // boolean: the flag takes no value and sets this value
  // Access to the stage's Options object (a void* to the typed struct of the table).
  std::function<json(const void*)> get;
  std::function<void(void*, const json&)> set;  // called with checked values only
};

// Checks `value` against the row: type, range, choices. Throws petpipe::Error naming `name`
// (a configuration key path or a --flag) with the value and what is allowed.
void check_value(const Param& p, const json& value, const std::string& name);
// Parses a command-line value (tokens) of a row to JSON, checked. Throws petpipe::Error naming --flag.
json parse_tokens(const Param& p, const std::vector<std::string>& tokens);
// Command-line tokens of a value (the inverse of parse_tokens); empty for an unset optional value.
std::vector<std::string> to_tokens(const Param& p, const json& value);
// The shortest decimal text that reads back to exactly `v`.
std::string number_text(double v);
// What the row allows, as text: ">= 0", "one of: a, b", "true or false".
std::string allowed_text(const Param& p);
// Value as text for --help ("7", "bspline", "[]", "none").
std::string value_text(const json& value);

class Table {
 public:
  Table(std::string section, std::vector<Param> rows, std::function<std::shared_ptr<void>()> make_default);
  const std::string& section() const { return section_; }
  const std::vector<Param>& rows() const { return rows_; }
  const Param* find_key(const std::string& key) const;
  const Param* find_flag(const std::string& flag) const;

  // Defaults of every row as a JSON object keyed by configuration key.
  json defaults() const;
  // Checks a configuration section (an object): unknown key, wrong type, out of range, unknown choice.
  // Errors name `source: section.key`. Keys in `extra_keys` are accepted unchecked (e.g. keys of another
  // table sharing the section).
  void check_section(const json& section, const std::string& source,
                     const std::vector<std::string>& extra_keys = {}) const;
  // Adds one command-line option per row to `d`, with the unit, allowed values and default in its help.
  // `skip`: configuration keys whose rows are left out (rows another command does not take).
  void add_options(po::options_description& d, const std::vector<std::string>& skip = {}) const;

  // The rows given on the command line, as a configuration section (parsed and checked).
  json overrides(const po::variables_map& vm) const;

  // Untyped access (the typed wrappers below cast).
  json to_json_void(const void* o) const;
  void apply_json_void(const json& section, void* o, const std::string& source) const;
  void apply_vm_void(const po::variables_map& vm, void* o) const;
  std::vector<std::string> to_args_void(const void* o, const std::vector<std::string>& skip = {}) const;

 private:
  std::string section_;
  std::vector<Param> rows_;
  std::function<std::shared_ptr<void>()> make_default_;
};

// A table over one Options struct O.
template <class O>
class StageTable : public Table {
 public:
  StageTable(std::string section, std::vector<Param> rows)
      : Table(std::move(section), std::move(rows), [] { return std::static_pointer_cast<void>(std::make_shared<O>()); }) {}
  // Every row's value, keyed by configuration key (provenance, --print-config).
  json to_json(const O& o) const { return to_json_void(&o); }
  // Options from a configuration section (checked first); rows not in the section keep their default.
  O from_json(const json& section, const std::string& source) const {
    O o{};
    apply_json_void(section, &o, source);
    return o;
  }
  void apply_json(const json& section, O& o, const std::string& source) const { apply_json_void(section, &o, source); }
  // Options from parsed command-line options; flags not given keep the value already in `o`.
  void apply_vm(const po::variables_map& vm, O& o) const { apply_vm_void(vm, &o); }
  O from_vm(const po::variables_map& vm) const {
    O o{};
    apply_vm(vm, o);
    return o;
  }
  // The command-line arguments giving exactly these options (every row with a value).
  std::vector<std::string> to_args(const O& o, const std::vector<std::string>& skip = {}) const {
    return to_args_void(&o, skip);
  }
};

namespace detail {
// The Options object behind a row's accessor (rows read through a const pointer and write through a
// non-const one; the field accessors take O&).
template <class O>
O& object(const void* o) {
  return *const_cast<O*>(static_cast<const O*>(o));
}
inline Param row(std::string key, std::string flag, std::string unit, std::string doc, Type type, Range range = {}) {
  Param p;
  p.key = std::move(key), p.flag = std::move(flag), p.unit = std::move(unit), p.doc = std::move(doc);
  p.type = type, p.range = range;
  return p;
}
}  // namespace detail

// Row builders. `access` is a callable O& -> T& for the field behind the row.
template <class O, class F>
Param real(std::string key, std::string flag, std::string unit, Range range, std::string doc, F access) {
  Param p = detail::row(std::move(key), std::move(flag), std::move(unit), std::move(doc), Type::real, range);
  p.get = [access](const void* o) { return json(access(detail::object<O>(o))); };
  p.set = [access](void* o, const json& v) { access(detail::object<O>(o)) = v.get<double>(); };
  return p;
}

// A real value that may be unset (NaN in the struct, null in JSON): `null_means` says what then applies.
template <class O, class F>
Param optional_real(std::string key, std::string flag, std::string unit, Range range, std::string doc,
                    std::string null_means, F access) {
  Param p = real<O>(std::move(key), std::move(flag), std::move(unit), range, std::move(doc), access);
  p.optional = true;
  p.null_means = std::move(null_means);
  p.get = [access](const void* o) {
    const double v = access(detail::object<O>(o));
    return v == v ? json(v) : json(nullptr);
  };
  p.set = [access](void* o, const json& v) {
    access(detail::object<O>(o)) = v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
  };
  return p;
}

template <class O, class F>
Param integer(std::string key, std::string flag, std::string unit, Range range, std::string doc, F access) {
  Param p = detail::row(std::move(key), std::move(flag), std::move(unit), std::move(doc), Type::integer, range);
  p.get = [access](const void* o) {
    return json(static_cast<long long>(access(detail::object<O>(o))));
  };
  p.set = [access](void* o, const json& v) {
    auto& field = access(detail::object<O>(o));
    field = static_cast<std::remove_reference_t<decltype(field)>>(v.get<long long>());
  };
  return p;
}

// A boolean. With `switch_sets`, the command line has a flag without value that sets that value
// (e.g. --affine-only sets deformable = false); otherwise --flag true|false.
template <class O, class F>
Param boolean(std::string key, std::string flag, std::string doc, F access, std::optional<bool> switch_sets = {}) {
  Param p = detail::row(std::move(key), std::move(flag), "", std::move(doc), Type::boolean);
  p.switch_sets = switch_sets;
  p.get = [access](const void* o) { return json(static_cast<bool>(access(detail::object<O>(o)))); };
  p.set = [access](void* o, const json& v) { access(detail::object<O>(o)) = v.get<bool>(); };
  return p;
}

template <class O, class F>
Param text(std::string key, std::string flag, std::string doc, F access) {
  Param p = detail::row(std::move(key), std::move(flag), "", std::move(doc), Type::text);
  p.get = [access](const void* o) { return json(access(detail::object<O>(o))); };
  p.set = [access](void* o, const json& v) { access(detail::object<O>(o)) = v.get<std::string>(); };
  return p;
}

// One of a fixed set of names, each mapped to a value of the field's type (an enum or a string).
template <class O, class E, class F>
Param choice(std::string key, std::string flag, std::vector<std::pair<std::string, E>> names, std::string doc,
             F access) {
  Param p = detail::row(std::move(key), std::move(flag), "", std::move(doc), Type::choice);
  for (const auto& n : names) p.choices.push_back(n.first);
  p.get = [access, names](const void* o) {
    const E& v = access(detail::object<O>(o));
    for (const auto& n : names)
      if (n.second == v) return json(n.first);
    return json(nullptr);
  };
  p.set = [access, names](void* o, const json& v) {
    const std::string s = v.get<std::string>();
    for (const auto& n : names)
      if (n.first == s) access(detail::object<O>(o)) = n.second;
  };
  return p;
}

template <class O, class F>
Param text_list(std::string key, std::string flag, std::string doc, F access) {
  Param p = detail::row(std::move(key), std::move(flag), "", std::move(doc), Type::text_list);
  p.get = [access](const void* o) { return json(access(detail::object<O>(o))); };
  p.set = [access](void* o, const json& v) { access(detail::object<O>(o)) = v.get<std::vector<std::string>>(); };
  return p;
}

// Three reals (per axis) in the struct (an indexable [3]); one number when all three are equal.
template <class O, class F>
Param real3(std::string key, std::string flag, std::string unit, Range range, std::string doc, F access) {
  Param p = detail::row(std::move(key), std::move(flag), std::move(unit), std::move(doc), Type::real3, range);
  p.get = [access](const void* o) {
    const auto& v = access(detail::object<O>(o));
    if (v[0] == v[1] && v[1] == v[2]) return json(v[0]);
    return json::array({v[0], v[1], v[2]});
  };
  p.set = [access](void* o, const json& v) {
    auto& field = access(detail::object<O>(o));
    for (int i = 0; i < 3; ++i) field[i] = v.is_array() ? v[static_cast<std::size_t>(i)].get<double>() : v.get<double>();
  };
  return p;
}

// 0-based frame indices in the struct, 1-based frame numbers to the user.
template <class O, class F>
Param frame_list(std::string key, std::string flag, std::string doc, F access) {
  Param p = detail::row(std::move(key), std::move(flag), "", std::move(doc), Type::frame_list);
  p.range = at_least(1);
  p.get = [access](const void* o) {
    json a = json::array();
    for (auto f : access(detail::object<O>(o))) a.push_back(static_cast<long long>(f) + 1);
    return a;
  };
  p.set = [access](void* o, const json& v) {
    auto& field = access(detail::object<O>(o));
    field.clear();
    for (const auto& f : v) field.push_back(static_cast<std::size_t>(f.get<long long>() - 1));
  };
  return p;
}

}  // namespace petpipe::params
