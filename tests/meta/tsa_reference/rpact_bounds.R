# Reference Lan-DeMets O'Brien-Fleming-type boundaries from the R package rpact (issue #17,
# point 5): an independent implementation of alpha-spending group sequential boundaries.
# Run: Rscript rpact_bounds.R > rpact_bounds.json   (R 4.2.2, rpact 3.3.4, Debian r-cran-rpact)
# Each case: information rates, alpha, sided, and rpact's critical values (z scale) and
# cumulative alpha spent, from getDesignGroupSequential(typeOfDesign = "asOF"); null where
# rpact gives Inf (a look that spends less than its tolerance).
suppressMessages(library(rpact))
num <- function(x) paste0("[", paste(ifelse(is.finite(x), sprintf("%.17g", x), "null"), collapse = ", "), "]")
cases <- list(
  list("equal5_two_sided", c(0.2, 0.4, 0.6, 0.8, 1), 0.05, 2),
  list("equal2_two_sided", c(0.5, 1), 0.05, 2),
  list("equal10_two_sided", seq(0.1, 1, by = 0.1), 0.05, 2),
  list("unequal_two_sided", c(0.05, 0.1, 0.2, 0.35, 0.4, 0.6, 0.8, 1), 0.05, 2),
  list("close_looks_two_sided", c(0.3, 0.31, 0.32, 0.7, 0.71, 1), 0.05, 2),
  list("early_two_sided", c(0.02, 0.05, 0.06, 0.15, 0.4, 0.41, 0.7, 1), 0.05, 2),
  list("alpha01_two_sided", c(0.25, 0.5, 0.75, 1), 0.01, 2),
  list("equal4_one_sided", c(0.25, 0.5, 0.75, 1), 0.025, 1),
  list("unequal_one_sided", c(0.1, 0.3, 0.65, 1), 0.05, 1),
  # magnesium trials (dat.egger2001 without ISIS-4, D^2-adjusted RIS of the docs example):
  # the information fractions are not needed to end at 1 in rpact, so a final look at 1
  list("magnesium_like_two_sided", c(0.0068, 0.0312, 0.0672, 0.0757, 0.1025, 0.1129, 0.1172,
                                     0.1211, 0.1347, 0.1396, 0.1548, 0.1598, 0.1826, 0.3912,
                                     0.4106, 1), 0.05, 2)
)
out <- c()
for (cs in cases) {
  d <- getDesignGroupSequential(typeOfDesign = "asOF", alpha = cs[[3]], sided = cs[[4]],
                                informationRates = cs[[2]])
  out <- c(out, sprintf('  "%s": {"t": %s, "alpha": %s, "sided": %d, "critical": %s, "alpha_spent": %s}',
                        cs[[1]], num(cs[[2]]), sprintf("%.17g", cs[[3]]), cs[[4]],
                        num(d$criticalValues), num(d$alphaSpent)))
}
cat("{\n", paste(out, collapse = ",\n"), "\n}\n", sep = "")
