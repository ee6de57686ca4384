#include "petpipe/pipeline/params.hpp"

#include <cmath>
#include <set>
#include <sstream>

#include "petpipe/core/error.hpp"

namespace petpipe::params {

Range at_least(double v) { return Range{v, std::nullopt, false, false}; }
Range above(double v) { return Range{v, std::nullopt, true, false}; }
Range between(double lo, double hi) { return Range{lo, hi, false, false}; }
Range open_between(double lo, double hi) { return Range{lo, hi, true, true}; }

namespace {

std::string num_text(double v) {
  std::ostringstream os;
  os.precision(12);
  os << v;
  return os.str();
}

std::string range_text(const Range& r) {
  if (r.min && r.max)
    return std::string(r.min_exclusive ? "(" : "[") + num_text(*r.min) + ", " + num_text(*r.max) +
           (r.max_exclusive ? ")" : "]");
  if (r.min) return std::string(r.min_exclusive ? "> " : ">= ") + num_text(*r.min);
  if (r.max) return std::string(r.max_exclusive ? "< " : "<= ") + num_text(*r.max);
  return "";
}

bool in_range(const Range& r, double v) {
  if (r.min && (r.min_exclusive ? !(v > *r.min) : !(v >= *r.min))) return false;
  if (r.max && (r.max_exclusive ? !(v < *r.max) : !(v <= *r.max))) return false;
  return true;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// Strict number parsing of a whole token.
bool parse_double(const std::string& t, double& v) {
  if (t.empty()) return false;
  std::size_t used = 0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == t.size();
}

bool parse_long(const std::string& t, long long& v) {
  if (t.empty()) return false;
  std::size_t used = 0;
  try {
    v = std::stoll(t, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == t.size();
}

}  // namespace

std::string value_text(const json& value) {
  if (value.is_null()) return "none";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return num_text(value.get<double>());
  return value.dump();
}

std::string allowed_text(const Param& p) {
  std::string s;
  switch (p.type) {
    case Type::real: s = "a number" + (range_text(p.range).empty() ? "" : " " + range_text(p.range)); break;
    case Type::integer: s = "an integer" + (range_text(p.range).empty() ? "" : " " + range_text(p.range)); break;
    case Type::boolean: s = "true or false"; break;
    case Type::text: s = "a string"; break;
    case Type::choice: s = "one of " + join(p.choices, ", "); break;
    case Type::text_list: s = "a list of strings"; break;
    case Type::frame_list: s = "a list of frame numbers >= 1"; break;
    case Type::real3:
      s = "one number or three" + (range_text(p.range).empty() ? "" : " " + range_text(p.range));
      break;
  }
  if (p.optional) s += ", or null (" + p.null_means + ")";
  return s;
}

void check_value(const Param& p, const json& v, const std::string& name) {
  auto fail = [&] {
    const std::string shown = v.is_number_float() ? num_text(v.get<double>()) : v.dump();
    throw make_error(name, ": ", shown, " is not allowed (expected ", allowed_text(p), ")");
  };
  if (v.is_null()) {
    if (p.optional) return;
    fail();
  }
  switch (p.type) {
    case Type::real:
      if (!v.is_number() || !std::isfinite(v.get<double>()) || !in_range(p.range, v.get<double>())) fail();
      break;
    case Type::integer: {
      if (!v.is_number_integer()) {
        // 3.0 is accepted as an integer
        if (!v.is_number_float() || std::floor(v.get<double>()) != v.get<double>()) fail();
      }
      const double d = v.get<double>();
      if (!in_range(p.range, d) || std::abs(d) > 9.0e15) fail();
      break;
    }
    case Type::boolean:
      if (!v.is_boolean()) fail();
      break;
    case Type::text:
      if (!v.is_string()) fail();
      break;
    case Type::choice: {
      if (!v.is_string()) fail();
      bool ok = false;
      for (const auto& c : p.choices) ok = ok || c == v.get<std::string>();
      if (!ok) fail();
      break;
    }
    case Type::text_list:
      if (!v.is_array()) fail();
      for (const auto& e : v)
        if (!e.is_string()) fail();
      break;
    case Type::frame_list:
      if (!v.is_array()) fail();
      for (const auto& e : v)
        if (!e.is_number_integer() || e.get<long long>() < 1 || e.get<long long>() > 1000000) fail();
      break;
    case Type::real3: {
      const json a = v.is_array() ? v : json::array({v});
      if (a.size() != 1 && a.size() != 3) fail();
      for (const auto& e : a)
        if (!e.is_number() || !std::isfinite(e.get<double>()) || !in_range(p.range, e.get<double>())) fail();
      break;
    }
  }
}

json parse_tokens(const Param& p, const std::vector<std::string>& tokens) {
  const std::string name = "--" + p.flag;
  const std::string all = join(tokens, " ");
  auto fail = [&](const std::string& why) -> json {
    throw make_error(name, ": \"", all, "\" ", why, " (expected ", allowed_text(p), ")");
  };
  if (p.type == Type::boolean && p.switch_sets) return json(*p.switch_sets);
  json v;
  switch (p.type) {
    case Type::real: {
      double d = 0;
      if (tokens.size() != 1) return fail("is not one value");
      if (p.optional && (tokens[0] == "none" || tokens[0] == "null")) return json(nullptr);
      if (!parse_double(tokens[0], d)) return fail("is not a number");
      v = d;
      break;
    }
    case Type::integer: {
      long long i = 0;
      if (p.optional && tokens.size() == 1 && (tokens[0] == "none" || tokens[0] == "null")) return json(nullptr);
      if (tokens.size() != 1 || !parse_long(tokens[0], i)) return fail("is not an integer");
      v = i;
      break;
    }
    case Type::boolean: {
      if (tokens.size() != 1) return fail("is not one value");
      const std::string& t = tokens[0];
      if (t == "true" || t == "1" || t == "yes" || t == "on") v = true;
      else if (t == "false" || t == "0" || t == "no" || t == "off") v = false;
      else return fail("is not true or false");
      break;
    }
    case Type::text:
    case Type::choice:
      if (tokens.size() != 1) return fail("is not one value");
      v = tokens[0];
      break;
    case Type::text_list:
      v = tokens;
      break;
    case Type::real3: {
      v = json::array();
      for (const auto& t : tokens) {
        double d = 0;
        if (!parse_double(t, d)) return fail("is not one or three numbers");
        v.push_back(d);
      }
      if (v.size() == 1) v = v[0];
      break;
    }
    case Type::frame_list: {
      v = json::array();
      for (const auto& token : tokens) {
        std::stringstream ss(token);
        std::string item;
        while (std::getline(ss, item, ',')) {
          if (item.empty()) continue;
          const auto dash = item.find('-');
          long long a = 0, b = 0;
          if (!parse_long(item.substr(0, dash), a) || a < 1 ||
              (dash != std::string::npos && (!parse_long(item.substr(dash + 1), b) || b < 1)))
            throw make_error(name, ": \"", item, "\" is not a frame number (1-based) or a range such as 1-4");
          if (dash == std::string::npos) b = a;
          if (b < a) throw make_error(name, ": empty range \"", item, "\"");
          if (b - a > 1000000) throw make_error(name, ": range \"", item, "\" is too long");
          for (long long f = a; f <= b; ++f) v.push_back(f);
        }
      }
      break;
    }
  }
  check_value(p, v, name);
  return v;
}

std::string number_text(double d) {
  for (int prec = 6; prec <= 17; ++prec) {
    std::ostringstream t;
    t.precision(prec);
    t << d;
    if (std::stod(t.str()) == d) return t.str();
  }
  std::ostringstream os;
  os.precision(17);
  os << d;
  return os.str();
}

std::vector<std::string> to_tokens(const Param& p, const json& value) {
  if (value.is_null()) return {};
  switch (p.type) {
    case Type::boolean:
      if (p.switch_sets) return {};
      return {value.get<bool>() ? "true" : "false"};
    case Type::text_list: return value.get<std::vector<std::string>>();
    case Type::frame_list: {
      std::vector<std::string> t;
      for (const auto& f : value) t.push_back(std::to_string(f.get<long long>()));
      return t;
    }
    case Type::real3: {
      const json a = value.is_array() ? value : json::array({value});
      std::vector<std::string> t;
      Param scalar;
      scalar.type = Type::real;
      for (const auto& e : a) t.push_back(to_tokens(scalar, e).front());
      return t;
    }
    case Type::real: return {number_text(value.get<double>())};
    default: return {value_text(value)};
  }
}

Table::Table(std::string section, std::vector<Param> rows, std::function<std::shared_ptr<void>()> make_default)
    : section_(std::move(section)), rows_(std::move(rows)), make_default_(std::move(make_default)) {
  std::set<std::string> keys, flags;
  for (const auto& r : rows_) {
    if (r.key.empty() || r.flag.empty() || !r.get || !r.set)
      throw make_error("parameter table ", section_, ": a row without key, flag or accessors");
    if (!keys.insert(r.key).second || !flags.insert(r.flag).second)
      throw make_error("parameter table ", section_, ": row ", r.key, " declared twice");
  }
}

const Param* Table::find_key(const std::string& key) const {
  for (const auto& r : rows_)
    if (r.key == key) return &r;
  return nullptr;
}

const Param* Table::find_flag(const std::string& flag) const {
  for (const auto& r : rows_)
    if (r.flag == flag) return &r;
  return nullptr;
}

json Table::defaults() const { return to_json_void(make_default_().get()); }

json Table::to_json_void(const void* o) const {
  json j = json::object();
  for (const auto& r : rows_) j[r.key] = r.get(o);
  return j;
}

void Table::check_section(const json& section, const std::string& source, const std::vector<std::string>& extra) const {
  if (!section.is_object()) throw make_error(source, ": \"", section_, "\" must be an object, not ", section.dump());
  for (auto it = section.begin(); it != section.end(); ++it) {
    const Param* p = find_key(it.key());
    if (!p) {
      bool ok = false;
      for (const auto& e : extra) ok = ok || e == it.key();
      if (ok) continue;
      std::vector<std::string> known;
      for (const auto& r : rows_) known.push_back(r.key);
      for (const auto& e : extra) known.push_back(e);
      throw make_error(source, ": unknown configuration key \"", section_, ".", it.key(), "\" (known in ", section_,
                       ": ", join(known, ", "), ")");
    }
    check_value(*p, *it, source + ": " + section_ + "." + it.key());
  }
}

void Table::apply_json_void(const json& section, void* o, const std::string& source) const {
  if (section.is_null()) return;
  check_section(section, source);
  for (const auto& r : rows_)
    if (section.contains(r.key)) r.set(o, section[r.key]);
}

namespace {
bool skipped(const std::vector<std::string>& skip, const std::string& key) {
  for (const auto& k : skip)
    if (k == key) return true;
  return false;
}
}  // namespace

void Table::add_options(po::options_description& d, const std::vector<std::string>& skip) const {
  const json defs = defaults();
  for (const auto& r : rows_) {
    if (skipped(skip, r.key)) continue;
    std::string help = r.doc;
    std::string meta;
    if (!r.unit.empty()) meta += r.unit;
    if (r.type == Type::choice) meta += std::string(meta.empty() ? "" : "; ") + join(r.choices, " | ");
    else if ((r.type == Type::real || r.type == Type::integer || r.type == Type::real3) && !range_text(r.range).empty()) {
      const Range& g = r.range;
      const std::string text = (g.min && g.max && !g.min_exclusive && !g.max_exclusive)
                                   ? num_text(*g.min) + ".." + num_text(*g.max)
                                   : range_text(g);
      meta += std::string(meta.empty() ? "" : "; ") + text;
    }
    const json& dv = defs[r.key];
    if (!(r.type == Type::boolean && r.switch_sets)) {
      std::string shown = dv.is_null() ? r.null_means : value_text(dv);
      if ((dv.is_array() && dv.empty()) || (dv.is_string() && dv.get<std::string>().empty())) shown = "none";
      meta += std::string(meta.empty() ? "" : "; ") + "default: " + shown;
    }
    if (!meta.empty()) help += " [" + meta + "]";
    help += " (config: " + section_ + "." + r.key + ")";
    if (r.type == Type::boolean && r.switch_sets) {
      d.add_options()(r.flag.c_str(), po::bool_switch(), help.c_str());
    } else if (r.type == Type::text_list || r.type == Type::frame_list) {
      d.add_options()(r.flag.c_str(), po::value<std::vector<std::string>>()->multitoken()->composing(), help.c_str());
    } else if (r.type == Type::real3) {
      d.add_options()(r.flag.c_str(), po::value<std::vector<std::string>>()->multitoken(), help.c_str());
    } else {
      d.add_options()(r.flag.c_str(), po::value<std::string>(), help.c_str());
    }
  }
}

json Table::overrides(const po::variables_map& vm) const {
  json j = json::object();
  for (const auto& r : rows_) {
    if (!vm.count(r.flag)) continue;
    const auto& v = vm[r.flag];
    if (v.defaulted()) continue;
    if (r.type == Type::boolean && r.switch_sets) {
      if (v.as<bool>()) j[r.key] = *r.switch_sets;
    } else if (r.type == Type::text_list || r.type == Type::frame_list || r.type == Type::real3) {
      j[r.key] = parse_tokens(r, v.as<std::vector<std::string>>());
    } else {
      j[r.key] = parse_tokens(r, {v.as<std::string>()});
    }
  }
  return j;
}

void Table::apply_vm_void(const po::variables_map& vm, void* o) const {
  const json given = overrides(vm);
  for (const auto& r : rows_)
    if (given.contains(r.key)) r.set(o, given[r.key]);
}

std::vector<std::string> Table::to_args_void(const void* o, const std::vector<std::string>& skip) const {
  std::vector<std::string> args;
  for (const auto& r : rows_) {
    if (skipped(skip, r.key)) continue;
    const json v = r.get(o);
    if (r.type == Type::boolean && r.switch_sets) {
      if (v.get<bool>() == *r.switch_sets) args.push_back("--" + r.flag);
      continue;
    }
    if ((r.type == Type::text || r.type == Type::choice) && v.is_string() && v.get<std::string>().empty())
      continue;  // an empty text is "not given"
    const auto tokens = to_tokens(r, v);
    if (tokens.empty()) continue;  // unset optional value or an empty list
    // "--flag=value" keeps values that start with '-' from being read as options
    if (tokens.size() == 1 && !tokens[0].empty() && tokens[0][0] == '-')
      args.push_back("--" + r.flag + "=" + tokens[0]);
    else {
      args.push_back("--" + r.flag);
      args.insert(args.end(), tokens.begin(), tokens.end());
    }
  }
  return args;
}

}  // namespace petpipe::params
