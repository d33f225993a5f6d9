# Reference for the unpooled two-proportion sample size (phantomlab.trials.samplesize,
# method = "unpooled"). R's power.prop.test uses the pooled variance under H0, so the
# unpooled Wald-test formula is written out here, independently of the Python code:
#   power(n1) = P(Z > z_a - delta / se) + P(Z < -z_a - delta / se),
#   se = sqrt(p1 q1 / n1 + p2 q2 / (r n1)),   z_a = qnorm(1 - alpha / 2) (two-sided)
#   closed form (far tail ignored): n1 = (z_a + z_b)^2 (p1 q1 + p2 q2 / r) / (p1 - p2)^2
# Run: Rscript samplesize_unpooled.R  (writes samplesize_unpooled.json; R 4.2.2, jsonlite)
library(jsonlite)
pw <- function(n1, p1, p2, r, alpha, alt) {
  se <- sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / (r * n1))
  shift <- (p1 - p2) / se
  if (alt == "greater") return(pnorm(qnorm(1 - alpha) - shift, lower.tail = FALSE))
  z <- qnorm(1 - alpha / 2)
  pnorm(z - shift, lower.tail = FALSE) + pnorm(-z - shift)
}
cases <- expand.grid(p1 = c(0.5, 0.3, 0.15), p2 = c(0.3, 0.25, 0.1), r = c(1, 2, 0.5),
                     alpha = c(0.05), power = c(0.8, 0.9), alt = c("two.sided", "greater"),
                     stringsAsFactors = FALSE)
cases <- cases[cases$p1 > cases$p2, ]
out <- lapply(seq_len(nrow(cases)), function(i) {
  cs <- cases[i, ]
  za <- if (cs$alt == "greater") qnorm(1 - cs$alpha) else qnorm(1 - cs$alpha / 2)
  zb <- qnorm(cs$power)
  closed <- (za + zb)^2 * (cs$p1 * (1 - cs$p1) + cs$p2 * (1 - cs$p2) / cs$r) / (cs$p1 - cs$p2)^2
  root <- uniroot(function(n) pw(n, cs$p1, cs$p2, cs$r, cs$alpha, cs$alt) - cs$power,
                  c(2, 1e6), tol = 1e-10)$root
  list(p1 = cs$p1, p2 = cs$p2, ratio = cs$r, sig = cs$alpha, power = cs$power, alt = cs$alt,
       n_closed = closed, n_root = root,
       power_at_50 = pw(50, cs$p1, cs$p2, cs$r, cs$alpha, cs$alt))
})
writeLines(toJSON(list(r_version = R.version.string, cases = out), digits = NA, auto_unbox = TRUE,
                  pretty = TRUE), "samplesize_unpooled.json")
