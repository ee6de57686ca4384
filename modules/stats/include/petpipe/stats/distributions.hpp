#pragma once
// Distribution functions used by the statistics module, implemented here (no external library):
// the regularised incomplete beta function (continued fraction, Lentz), Student t, F, normal and the
// studentized range distribution. Tail functions are computed directly (not as 1 - cdf) so that small
// p-values keep full relative precision.
namespace petpipe::stats {

// Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1.
double incomplete_beta(double a, double b, double x);
// 1 - I_x(a, b), computed without cancellation.
double incomplete_beta_complement(double a, double b, double x);

// Standard normal.
double normal_cdf(double z);
double normal_sf(double z);        // 1 - cdf
double normal_quantile(double p);  // inverse cdf, 0 < p < 1 (full double precision)
double normal_isf(double p);       // inverse survival function: normal_sf(normal_isf(p)) == p

// Student t with df > 0 degrees of freedom.
double t_cdf(double t, double df);
double t_sf(double t, double df);           // P(T > t)
double t_two_sided_p(double t, double df);  // P(|T| > |t|)
double t_isf(double p, double df);          // t such that t_sf(t) = p
// P(T > |t|) for a fixed df, with log B(df/2, 1/2) computed once (the voxelwise GLM evaluates it per voxel).
class StudentTail {
 public:
  explicit StudentTail(double df);
  double operator()(double t) const;  // P(T > |t|), equal to t_sf(|t|, df)
  double df() const { return df_; }

 private:
  double df_, log_beta_;
};
// Z score with the same upper-tail probability as t (SPM's t -> Z conversion).
double t_to_z(double t, double df);

// F with (d1, d2) degrees of freedom.
double f_cdf(double f, double d1, double d2);
double f_sf(double f, double d1, double d2);  // P(F > f)
double f_isf(double p, double d1, double d2);

// Studentized range distribution of the range of k independent standard normals divided by an
// independent sqrt(chi2_df / df) (df = +inf allowed). Numerical double integration with adaptive
// Gauss-Kronrod quadrature; absolute accuracy about 1e-12.
double studentized_range_cdf(double q, double k, double df);
double studentized_range_sf(double q, double k, double df);
double studentized_range_isf(double p, double k, double df);

}  // namespace petpipe::stats
