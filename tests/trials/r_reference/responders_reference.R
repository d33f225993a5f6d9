# Reference values for phantomlab.trials.responders.two_by_two, computed in R.
# Run: Rscript tests/trials/r_reference/responders_reference.R
#   (writes responders_reference.json next to this script; needs r-cran-jsonlite).
# * odds ratio: fisher.test (conditional MLE, exact conditional interval, exact p);
#   fisher.test finds the estimate and limits with uniroot's default tolerance
#   (about 1e-4), so the same conditional equations are also solved here with
#   tol = 1e-14 (or_exact_*): those are compared at 1e-6, fisher.test's at 1e-3;
# * risk difference: Newcombe (1998, Stat Med 17:873) method 10, coded here by hand
#   from the paper's formula on top of prop.test's Wilson limits (correct = FALSE);
# * risk ratio: Koopman (1984, Biometrics 40:513) score interval, coded by hand: the
#   restricted MLE under p1 = theta * p2 is maximised numerically with optimize()
#   (not the closed form the Python code uses), the limits found with uniroot().
# PropCIs / exact2x2 are not installed here, hence the hand-coded references.
library(jsonlite)
out_dir <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))

wilson <- function(x, n, conf) {
  as.numeric(prop.test(x, n, conf.level = conf, correct = FALSE)$conf.int)
}
newcombe <- function(x1, n1, x2, n2, conf) {
  p1 <- x1 / n1; p2 <- x2 / n2; w1 <- wilson(x1, n1, conf); w2 <- wilson(x2, n2, conf)
  d <- p1 - p2
  c(d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2), d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2))
}
koopman_stat <- function(theta, x1, n1, x2, n2) {
  nll <- function(p) {
    -(dbinom(x1, n1, theta * p, log = TRUE) + dbinom(x2, n2, p, log = TRUE))
  }
  up <- min(1, 1 / theta)
  p2 <- optimize(nll, c(0, up), tol = 1e-15)$minimum
  p1 <- theta * p2
  (x1 / n1 - theta * x2 / n2)^2 / (p1 * (1 - p1) / n1 + theta^2 * p2 * (1 - p2) / n2)
}
koopman <- function(x1, n1, x2, n2, conf) {
  crit <- qchisq(conf, 1)
  f <- function(lt) koopman_stat(exp(lt), x1, n1, x2, n2) - crit
  c0 <- log((x1 / n1) / (x2 / n2))
  lo <- if (x1 > 0) exp(uniroot(f, c(c0 - 20, c0), tol = 1e-13)$root) else 0
  hi <- if (x2 > 0) exp(uniroot(f, c(c0, c0 + 20), tol = 1e-13)$root) else Inf
  c(lo, hi)
}
# The conditional (noncentral hypergeometric) distribution of the [1,1] cell.
cond_or <- function(x1, n1, x2, n2, conf) {
  m <- x1 + x2; n <- n1 + n2 - m; k <- n1
  support <- max(0, k - n):min(k, m)
  logdc <- dhyper(support, m, n, k, log = TRUE)
  dn <- function(ncp) { d <- logdc + log(ncp) * support; d <- exp(d - max(d)); d / sum(d) }
  mean_at <- function(ncp) sum(support * dn(ncp))
  tail_le <- function(ncp) sum(dn(ncp)[support <= x1])
  tail_ge <- function(ncp) sum(dn(ncp)[support >= x1])
  a <- (1 - conf) / 2
  solve_log <- function(f) exp(uniroot(f, c(-60, 60), tol = 1e-14)$root)
  est <- if (x1 == min(support)) 0 else if (x1 == max(support)) Inf else
    solve_log(function(l) mean_at(exp(l)) - x1)
  lo <- if (x1 == min(support)) 0 else solve_log(function(l) tail_ge(exp(l)) - a)
  hi <- if (x1 == max(support)) Inf else solve_log(function(l) tail_le(exp(l)) - a)
  c(est, lo, hi)
}
fin <- function(v) if (is.finite(v)) v else "Inf"
cases <- list(
  c(56, 70, 48, 80, 0.95),   # Newcombe 1998 Table II example (a)
  c(9, 10, 3, 10, 0.95),
  c(12, 40, 5, 40, 0.95),
  c(30, 61, 18, 59, 0.95),
  c(5, 56, 0, 29, 0.95),     # a zero cell: OR and RR upper limits infinite
  c(23, 45, 11, 44, 0.90),
  c(7, 30, 10, 31, 0.99),
  c(20, 20, 7, 9, 0.95)      # p1 = 1: statsmodels' score CI fails here, this one does not
)
out <- lapply(cases, function(k) {
  x1 <- k[1]; n1 <- k[2]; x2 <- k[3]; n2 <- k[4]; conf <- k[5]
  ft <- fisher.test(matrix(c(x1, x2, n1 - x1, n2 - x2), 2), conf.level = conf)
  rd <- newcombe(x1, n1, x2, n2, conf)
  co <- cond_or(x1, n1, x2, n2, conf)
  rr <- if (x2 > 0) koopman(x1, n1, x2, n2, conf) else c(NA, NA)
  list(r1 = x1, n1 = n1, r2 = x2, n2 = n2, conf = conf,
       or = fin(unname(ft$estimate)), or_low = ft$conf.int[1], or_high = fin(ft$conf.int[2]),
       or_exact = fin(co[1]), or_exact_low = co[2], or_exact_high = fin(co[3]),
       fisher_p = ft$p.value, rd_low = rd[1], rd_high = rd[2],
       rr_low = rr[1], rr_high = rr[2])
})
writeLines(toJSON(list(r_version = R.version.string, cases = out), digits = NA, auto_unbox = TRUE,
                  na = "null", pretty = TRUE),
           file.path(out_dir, "responders_reference.json"))
