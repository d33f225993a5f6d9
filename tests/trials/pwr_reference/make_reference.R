# Reference values for phantomlab.trials.samplesize from R's pwr package.
# Run: Rscript tests/trials/pwr_reference/make_reference.R  (writes pwr_reference.json here)
# Needs r-cran-pwr and r-cran-jsonlite (Debian packages).
library(pwr)
library(jsonlite)
out_dir <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
t_cases <- list(
  list(d = 0.5, n = 64, sig = 0.05, alt = "two.sided"),
  list(d = 1.0, n = 30, sig = 0.05, alt = "two.sided"),
  list(d = 0.3, n = 100, sig = 0.01, alt = "two.sided"),
  list(d = 0.4, n = 50, sig = 0.05, alt = "greater"),
  list(d = 0.8, n = 5, sig = 0.05, alt = "two.sided")
)
t_n_cases <- list(
  list(d = 0.5, power = 0.8, sig = 0.05, alt = "two.sided"),
  list(d = 0.5, power = 0.9, sig = 0.05, alt = "two.sided"),
  list(d = 0.2, power = 0.8, sig = 0.05, alt = "two.sided"),
  list(d = 1.2, power = 0.95, sig = 0.01, alt = "two.sided"),
  list(d = 0.35, power = 0.8, sig = 0.025, alt = "greater")
)
t2n_cases <- list(
  list(d = 0.5, n1 = 40, n2 = 80, sig = 0.05, alt = "two.sided"),
  list(d = 0.6, n1 = 25, n2 = 15, sig = 0.05, alt = "two.sided"),
  list(d = 0.3, n1 = 200, n2 = 100, sig = 0.01, alt = "greater")
)
p_cases <- list(
  list(p1 = 0.5, p2 = 0.3, n = 50, sig = 0.05, alt = "two.sided"),
  list(p1 = 0.35, p2 = 0.2, n = 120, sig = 0.05, alt = "two.sided"),
  list(p1 = 0.6, p2 = 0.4, n = 80, sig = 0.05, alt = "greater")
)
p_n_cases <- list(
  list(p1 = 0.5, p2 = 0.3, power = 0.8, sig = 0.05, alt = "two.sided"),
  list(p1 = 0.35, p2 = 0.2, power = 0.9, sig = 0.05, alt = "two.sided"),
  list(p1 = 0.3, p2 = 0.15, power = 0.8, sig = 0.025, alt = "greater")
)
# unequal allocation n2 = ratio * n1: n1 solved in R on pwr.t2n.test's power (uniroot, tol 1e-10)
ratio_cases <- list(
  list(d = 0.5, ratio = 2, power = 0.8, sig = 0.05, alt = "two.sided"),
  list(d = 0.4, ratio = 0.5, power = 0.9, sig = 0.05, alt = "two.sided")
)
res <- list(pwr_version = as.character(packageVersion("pwr")), t_power = list(), t_n = list(),
            t2n_power = list(), t2n_ratio_n = list(), p_power = list(), p_n = list())
for (c in t_cases) {
  r <- pwr.t.test(n = c$n, d = c$d, sig.level = c$sig, alternative = c$alt)
  res$t_power[[length(res$t_power) + 1]] <- c(c, list(power = r$power))
}
for (c in t_n_cases) {
  r <- pwr.t.test(power = c$power, d = c$d, sig.level = c$sig, alternative = c$alt)
  res$t_n[[length(res$t_n) + 1]] <- c(c, list(n = r$n))
}
for (c in t2n_cases) {
  r <- pwr.t2n.test(n1 = c$n1, n2 = c$n2, d = c$d, sig.level = c$sig, alternative = c$alt)
  res$t2n_power[[length(res$t2n_power) + 1]] <- c(c, list(power = r$power))
}
for (c in ratio_cases) {
  f <- function(n) pwr.t2n.test(n1 = n, n2 = c$ratio * n, d = c$d, sig.level = c$sig,
                                alternative = c$alt)$power - c$power
  n1 <- uniroot(f, c(2 / min(1, c$ratio) + 1e-6, 1e6), tol = 1e-10)$root
  res$t2n_ratio_n[[length(res$t2n_ratio_n) + 1]] <- c(c, list(n1 = n1))
}
for (c in p_cases) {
  h <- ES.h(c$p1, c$p2)
  r <- pwr.2p.test(h = h, n = c$n, sig.level = c$sig, alternative = c$alt)
  res$p_power[[length(res$p_power) + 1]] <- c(c, list(h = h, power = r$power))
}
for (c in p_n_cases) {
  h <- ES.h(c$p1, c$p2)
  r <- pwr.2p.test(h = h, power = c$power, sig.level = c$sig, alternative = c$alt)
  res$p_n[[length(res$p_n) + 1]] <- c(c, list(h = h, n = r$n))
}
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "pwr_reference.json"))
