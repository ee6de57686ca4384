#pragma once
// Design matrices from a participants table and a formula, and contrasts by name or by vector.
//
// Formula: terms separated by '+', e.g. "group + age + sex". A column is a factor (categorical) when
// it is non-numeric in participants.tsv or written C(column); otherwise a covariate. "1" / "0" / "-1"
// add or remove the intercept (it is included by default).
//
// Coding (DesignOptions::coding):
//  - treatment (default, as R and patsy/statsmodels): intercept + one indicator column per level except
//    the reference level (the first level in sorted order, or the one given in reference_levels);
//  - cell_means: one indicator column per level of the first factor and no intercept (further factors
//    are treatment coded). Contrasts and F tests are the same under both codings.
// Covariates are mean-centred by default (over the subjects in the design), so the intercept and the
// group columns refer to the mean covariate value.
//
// Column names: "intercept", "<factor>[<level>]", "<covariate>".
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "petpipe/core/tsv.hpp"

namespace petpipe::stats {

enum class Coding { treatment, cell_means };

struct DesignOptions {
  Coding coding = Coding::treatment;
  bool center_covariates = true;
  std::map<std::string, std::string> reference_levels;  // factor -> reference level (treatment coding)
};

struct Term {
  std::string name;                 // participants.tsv column
  bool factor = false;
  std::vector<std::string> levels;  // factors: levels in order (reference first)
  std::vector<int> columns;         // design columns that belong to this term
  double mean = 0.0;                // covariates: the mean that was subtracted (0 if not centred)
};

struct Design {
  Eigen::MatrixXd X;                      // subjects x columns
  std::vector<std::string> column_names;
  std::vector<std::string> subjects;      // row order (as given to make_design)
  std::vector<Term> terms;
  bool intercept = true;
  Coding coding = Coding::treatment;
  std::string formula;

  Eigen::Index rows() const { return X.rows(); }
  Eigen::Index cols() const { return X.cols(); }
  double residual_df() const { return static_cast<double>(X.rows() - X.cols()); }
  const Term* find_term(const std::string& name) const;
  // Group label of each subject for a factor term.
  std::vector<std::string> factor_values(const std::string& term) const;
};

// Builds the design for `subjects` (participant ids with or without "sub-", in the row order wanted).
// Throws petpipe::Error for: an unknown column (naming the known ones), subjects absent from the table,
// missing values in a used column (naming the subjects), a factor with a single level, a rank-deficient
// design (naming the columns involved), or fewer subjects than columns + 1.
Design make_design(const Participants& participants, const std::string& formula,
                   const std::vector<std::string>& subjects, const DesignOptions& options = {});

// A contrast: one row (t test) or several rows (F test), over the design columns.
struct Contrast {
  std::string name;
  std::string spec;
  Eigen::MatrixXd C;  // rows x design columns
  bool is_f() const { return C.rows() > 1 || f_; }
  bool f_ = false;    // force an F test for a single row (e.g. a two-level factor given by name)
};

// Contrast specifications:
//  "secure>insecure", "secure-insecure", "insecure<secure": difference of two levels of one factor
//    (levels may be qualified: "group[secure]>group[insecure]");
//  "F(group)" or a factor name "group": F test of the factor's main effect (all level differences);
//  "1,-1,0,0": a t contrast vector over the design columns; "1,0,0;0,1,0": an F contrast (rows by ';').
// Throws naming the design's columns and factor levels when the specification does not resolve.
Contrast make_contrast(const Design& design, const std::string& name, const std::string& spec);

}  // namespace petpipe::stats
