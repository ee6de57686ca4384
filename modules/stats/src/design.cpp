#include "petpipe/stats/design.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "petpipe/core/error.hpp"

namespace petpipe::stats {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

struct ParsedTerm {
  std::string column;
  bool force_factor = false;
};

}  // namespace

const Term* Design::find_term(const std::string& name) const {
  for (const auto& t : terms)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> Design::factor_values(const std::string& term) const {
  const Term* t = find_term(term);
  if (!t || !t->factor) throw make_error("design: '", term, "' is not a factor of the design");
  std::vector<std::string> out(static_cast<std::size_t>(X.rows()));
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    std::string level = t->levels.front();
    for (std::size_t l = 0; l < t->levels.size(); ++l) {
      const int col = t->columns.size() == t->levels.size() ? t->columns[l]
                      : (l == 0 ? -1 : t->columns[l - 1]);
      if (col >= 0 && X(r, col) == 1.0) level = t->levels[l];
    }
    out[static_cast<std::size_t>(r)] = level;
  }
  return out;
}

Design make_design(const Participants& participants, const std::string& formula,
                   const std::vector<std::string>& subjects, const DesignOptions& options) {
  Design d;
  d.formula = formula;
  d.coding = options.coding;
  if (subjects.empty()) throw make_error("design \"", formula, "\": no subjects");

  // Parse the formula.
  std::vector<ParsedTerm> parsed;
  bool intercept = true;
  for (std::string tok : split(formula, '+')) {
    tok = trim(tok);
    if (tok.size() >= 2 && tok.substr(tok.size() - 2) == "-1") {
      intercept = false;
      tok = trim(tok.substr(0, tok.size() - 2));
      if (!tok.empty() && tok.back() == '-') tok = trim(tok.substr(0, tok.size() - 1));
    }
    if (tok.empty()) {
      if (!intercept) continue;
      throw make_error("design \"", formula, "\": empty term");
    }
    if (tok == "1") continue;
    if (tok == "0" || tok == "-1") {
      intercept = false;
      continue;
    }
    ParsedTerm p;
    if (tok.size() > 3 && tok.rfind("C(", 0) == 0 && tok.back() == ')') {
      p.column = trim(tok.substr(2, tok.size() - 3));
      p.force_factor = true;
    } else {
      p.column = tok;
    }
    for (const auto& q : parsed)
      if (q.column == p.column) throw make_error("design \"", formula, "\": term '", p.column, "' repeated");
    if (!participants.columns.count(p.column)) {
      std::vector<std::string> known;
      for (const auto& c : participants.column_order)
        if (c != "participant_id") known.push_back(c);
      throw make_error("design \"", formula, "\": unknown column '", p.column,
                       "' (participants table has: ", join(known), ")");
    }
    parsed.push_back(p);
  }

  // Rows of the participants table.
  std::vector<std::size_t> rows;
  std::vector<std::string> absent;
  for (const auto& s : subjects) {
    const auto r = participants.find(s);
    if (!r)
      absent.push_back(s);
    else
      rows.push_back(*r);
  }
  if (!absent.empty())
    throw make_error("design: ", absent.size(), " subject(s) not in the participants table: ", join(absent));
  d.subjects = subjects;
  const std::size_t n = rows.size();

  // Missing values.
  for (const auto& p : parsed) {
    const auto& col = participants.column(p.column);
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < n; ++i) {
      const bool miss = col.numeric ? std::isnan(col.values[rows[i]]) : col.levels[rows[i]].empty();
      if (miss) missing.push_back(subjects[i]);
    }
    if (!missing.empty())
      throw make_error("design: column '", p.column, "' has missing values (n/a) for ", join(missing));
  }

  // Build columns.
  std::vector<std::vector<double>> cols;
  const bool full_first = options.coding == Coding::cell_means || !intercept;
  bool first_factor_done = false;
  bool has_factor = false;
  for (const auto& p : parsed) {
    const auto& col = participants.column(p.column);
    if (!col.numeric || p.force_factor) has_factor = true;
  }
  d.intercept = intercept && !(options.coding == Coding::cell_means && has_factor);
  if (d.intercept) {
    cols.emplace_back(n, 1.0);
    d.column_names.push_back("intercept");
  }
  for (const auto& p : parsed) {
    const auto& col = participants.column(p.column);
    Term term;
    term.name = p.column;
    if (!col.numeric || p.force_factor) {
      term.factor = true;
      std::vector<std::string> values(n);
      for (std::size_t i = 0; i < n; ++i)
        values[i] = col.numeric ? number_text(col.values[rows[i]]) : col.levels[rows[i]];
      std::set<std::string> uniq(values.begin(), values.end());
      std::vector<std::string> levels(uniq.begin(), uniq.end());
      if (col.numeric)
        std::sort(levels.begin(), levels.end(),
                  [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
      if (levels.size() < 2)
        throw make_error("design: factor '", p.column, "' has a single level ('", levels.front(),
                         "') among the ", n, " subjects");
      const auto ref = options.reference_levels.find(p.column);
      if (ref != options.reference_levels.end()) {
        auto it = std::find(levels.begin(), levels.end(), ref->second);
        if (it == levels.end())
          throw make_error("design: reference level '", ref->second, "' is not a level of '", p.column,
                           "' (levels: ", join(levels), ")");
        std::rotate(levels.begin(), it, it + 1);
      }
      term.levels = levels;
      const bool full = full_first && !first_factor_done;
      first_factor_done = true;
      for (std::size_t l = full ? 0 : 1; l < levels.size(); ++l) {
        std::vector<double> c(n, 0.0);
        for (std::size_t i = 0; i < n; ++i) c[i] = values[i] == levels[l] ? 1.0 : 0.0;
        term.columns.push_back(static_cast<int>(cols.size()));
        cols.push_back(std::move(c));
        d.column_names.push_back(p.column + "[" + levels[l] + "]");
      }
    } else {
      std::vector<double> c(n);
      for (std::size_t i = 0; i < n; ++i) c[i] = col.values[rows[i]];
      if (options.center_covariates) {
        double m = 0;
        for (double v : c) m += v;
        m /= static_cast<double>(n);
        for (double& v : c) v -= m;
        term.mean = m;
      }
      term.columns.push_back(static_cast<int>(cols.size()));
      cols.push_back(std::move(c));
      d.column_names.push_back(p.column);
    }
    d.terms.push_back(term);
  }
  if (cols.empty()) throw make_error("design \"", formula, "\": no columns (empty model)");
  d.X.resize(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(cols.size()));
  for (std::size_t j = 0; j < cols.size(); ++j)
    for (std::size_t i = 0; i < n; ++i) d.X(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = cols[j][i];

  if (d.X.rows() <= d.X.cols())
    throw make_error("design \"", formula, "\": ", d.X.rows(), " subjects for ", d.X.cols(),
                     " columns leave no residual degrees of freedom");
  // Rank: add columns one at a time and report the first that depends on the earlier ones.
  const double scale = std::max(1.0, d.X.cwiseAbs().maxCoeff());
  for (Eigen::Index j = 1; j <= d.X.cols(); ++j) {
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(d.X.leftCols(j));
    qr.setThreshold(1e-10 * scale);
    if (qr.rank() < j)
      throw make_error("design \"", formula, "\" is rank deficient: column '", d.column_names[j - 1],
                       "' is a linear combination of (", join({d.column_names.begin(), d.column_names.begin() + (j - 1)}),
                       ")");
  }
  return d;
}

namespace {

bool parse_numbers(const std::string& spec, std::vector<std::vector<double>>& rows) {
  rows.clear();
  for (const auto& part : split(spec, ';')) {
    std::string s = part;
    std::replace(s.begin(), s.end(), ',', ' ');
    std::istringstream is(s);
    std::vector<double> row;
    std::string tok;
    while (is >> tok) {
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      if (end == tok.c_str() || *end != '\0') return false;
      row.push_back(v);
    }
    if (row.empty()) return false;
    rows.push_back(row);
  }
  return !rows.empty();
}

// Design-column weights of one factor level (zero for a treatment-coded reference level).
bool level_vector(const Design& d, const std::string& text, Eigen::RowVectorXd& v, std::string& factor) {
  std::string fac, lev = trim(text);
  const auto br = lev.find('[');
  if (br != std::string::npos && lev.back() == ']') {
    fac = trim(lev.substr(0, br));
    lev = lev.substr(br + 1, lev.size() - br - 2);
  }
  int found = 0;
  for (const auto& t : d.terms) {
    if (!t.factor || (!fac.empty() && t.name != fac)) continue;
    for (std::size_t l = 0; l < t.levels.size(); ++l) {
      if (t.levels[l] != lev) continue;
      ++found;
      factor = t.name;
      v = Eigen::RowVectorXd::Zero(d.cols());
      if (t.columns.size() == t.levels.size())
        v(t.columns[l]) = 1.0;
      else if (l > 0)
        v(t.columns[l - 1]) = 1.0;
    }
  }
  if (found > 1) throw make_error("contrast: level '", lev, "' is ambiguous; write factor[level]");
  return found == 1;
}

std::string describe(const Design& d) {
  std::string s = "columns: " + join(d.column_names);
  for (const auto& t : d.terms)
    if (t.factor) s += "; " + t.name + " levels: " + join(t.levels);
  return s;
}

Eigen::MatrixXd factor_f(const Design& d, const Term& t) {
  Eigen::MatrixXd C(static_cast<Eigen::Index>(t.levels.size() - 1), d.cols());
  Eigen::RowVectorXd v0, vl;
  std::string f;
  level_vector(d, t.name + "[" + t.levels[0] + "]", v0, f);
  for (std::size_t l = 1; l < t.levels.size(); ++l) {
    level_vector(d, t.name + "[" + t.levels[l] + "]", vl, f);
    C.row(static_cast<Eigen::Index>(l - 1)) = vl - v0;
  }
  return C;
}

}  // namespace

Contrast make_contrast(const Design& d, const std::string& name, const std::string& spec_in) {
  Contrast c;
  c.name = name;
  c.spec = spec_in;
  const std::string spec = trim(spec_in);
  if (spec.empty()) throw make_error("contrast '", name, "': empty specification");

  std::vector<std::vector<double>> rows;
  if (parse_numbers(spec, rows)) {
    c.C.resize(static_cast<Eigen::Index>(rows.size()), d.cols());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].size() != static_cast<std::size_t>(d.cols()))
        throw make_error("contrast '", name, "': vector has ", rows[r].size(), " weights but the design has ",
                         d.cols(), " columns (", join(d.column_names), ")");
      for (std::size_t j = 0; j < rows[r].size(); ++j) c.C(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(j)) = rows[r][j];
    }
    if (rows.size() > 1) c.f_ = true;
  } else {
    std::string term = spec;
    bool force_f = false;
    if (spec.size() > 3 && spec.rfind("F(", 0) == 0 && spec.back() == ')') {
      term = trim(spec.substr(2, spec.size() - 3));
      force_f = true;
    }
    const Term* t = d.find_term(term);
    if (t && t->factor) {
      c.C = factor_f(d, *t);
      c.f_ = true;
    } else if (force_f) {
      throw make_error("contrast '", name, "': '", term, "' is not a factor of the design (", describe(d), ")");
    } else {
      double sign = 1.0;
      std::string cov = spec;
      if (cov[0] == '-' || cov[0] == '+') {
        sign = cov[0] == '-' ? -1.0 : 1.0;
        cov = trim(cov.substr(1));
      }
      const Term* ct = d.find_term(cov);
      if (ct && !ct->factor) {
        c.C = Eigen::RowVectorXd::Zero(d.cols());
        c.C(0, ct->columns[0]) = sign;
      } else {
        // Level difference: A>B, B<A, A-B.
        bool ok = false;
        for (char op : {'>', '<', '-'}) {
          for (std::size_t pos = spec.find(op); pos != std::string::npos && !ok; pos = spec.find(op, pos + 1)) {
            Eigen::RowVectorXd va, vb;
            std::string fa, fb;
            if (!level_vector(d, spec.substr(0, pos), va, fa) || !level_vector(d, spec.substr(pos + 1), vb, fb))
              continue;
            if (fa != fb)
              throw make_error("contrast '", name, "': levels of different factors ('", fa, "', '", fb, "')");
            c.C = op == '<' ? Eigen::MatrixXd(vb - va) : Eigen::MatrixXd(va - vb);
            ok = true;
          }
          if (ok) break;
        }
        if (!ok)
          throw make_error("contrast '", name, "': cannot resolve \"", spec, "\" against the design (", describe(d),
                           ")");
      }
    }
  }
  if (c.C.cwiseAbs().maxCoeff() == 0) throw make_error("contrast '", name, "': all weights are zero");
  // F contrast rows must be linearly independent.
  if (c.C.rows() > 1) {
    Eigen::FullPivLU<Eigen::MatrixXd> lu(c.C);
    lu.setThreshold(1e-10);
    if (lu.rank() < c.C.rows())
      throw make_error("contrast '", name, "': the ", c.C.rows(), " rows are linearly dependent");
  }
  return c;
}

}  // namespace petpipe::stats
