# Reference outputs for phantomlab.meta.escalc_paired (paired / crossover effect sizes with an
# explicit within-patient correlation ri) and for rma_subgroups(tau2 = "common"), from R 4.2.2 and
# metafor 3.8-1 (Debian packages). Run here: Rscript paired.R > paired.json
# The crossover table is synthetic (numbers typed below, no randomness): 8 small crossover
# trials, pain on a 0-10 NRS under active (a) and sham (b) stimulation; sd_diff is a reported
# SD of the paired differences, t a reported paired t statistic.
suppressPackageStartupMessages(library(metafor))
to_json <- function(x) {
  if (is.list(x)) {
    if (!is.null(names(x))) {
      return(paste0("{", paste0('"', names(x), '": ', sapply(x, to_json), collapse = ", "), "}"))
    }
    return(paste0("[", paste(sapply(x, to_json), collapse = ", "), "]"))
  }
  if (is.factor(x)) x <- as.character(x)
  if (is.character(x)) v <- paste0('"', x, '"')
  else v <- ifelse(is.na(x), "null", sprintf("%.17g", as.numeric(x)))
  paste0("[", paste(v, collapse = ", "), "]")
}
co <- data.frame(
  study = paste0("c", 1:8),
  ni = c(8, 12, 10, 15, 9, 20, 14, 11),
  m_a = c(4.1, 5.2, 3.8, 4.9, 5.5, 4.0, 3.6, 5.1),
  sd_a = c(1.9, 2.2, 1.6, 2.4, 2.0, 1.8, 1.5, 2.6),
  m_b = c(5.3, 5.9, 5.6, 5.4, 6.8, 5.1, 4.4, 6.0),
  sd_b = c(2.1, 1.8, 1.9, 2.2, 2.3, 2.0, 1.7, 2.2),
  sd_diff = c(1.7, 2.0, 1.5, 2.5, 1.6, 1.9, 1.4, 2.1)
)
co$t <- (co$m_a - co$m_b) / (co$sd_diff / sqrt(co$ni))
out <- list(data = as.list(co))
r0 <- 0.5
for (m in c("MC", "SMCC", "SMCRH", "ROMC")) {
  e <- escalc(m, m1i = m_a, m2i = m_b, sd1i = sd_a, sd2i = sd_b, ni = ni, ri = rep(r0, 8), data = co)
  out[[paste0(m, "_r05")]] <- list(yi = as.vector(e$yi), vi = as.vector(e$vi))
}
# ri implied by a reported SD of the differences, then MC with it, against MN on the differences
ri_imp <- (co$sd_a^2 + co$sd_b^2 - co$sd_diff^2) / (2 * co$sd_a * co$sd_b)
e <- escalc("MC", m1i = m_a, m2i = m_b, sd1i = sd_a, sd2i = sd_b, ni = ni, ri = ri_imp, data = co)
d <- escalc("MN", mi = m_a - m_b, sdi = sd_diff, ni = ni, data = co)
s <- escalc("SMCC", m1i = m_a, m2i = m_b, sd1i = sd_a, sd2i = sd_b, ni = ni, ri = ri_imp, data = co)
out$implied <- list(ri = ri_imp, MC_yi = as.vector(e$yi), MC_vi = as.vector(e$vi),
                    MN_yi = as.vector(d$yi), MN_vi = as.vector(d$vi),
                    SMCC_yi = as.vector(s$yi), SMCC_vi = as.vector(s$vi))
# sensitivity sweep over ri: REML random-effects model refitted per ri
rs <- seq(0.2, 0.8, by = 0.1)
for (m in c("MC", "SMCRH")) {
  est <- lb <- ub <- t2 <- c()
  for (r in rs) {
    e <- escalc(m, m1i = m_a, m2i = m_b, sd1i = sd_a, sd2i = sd_b, ni = ni, ri = rep(r, 8), data = co)
    f <- rma(yi, vi, data = e, method = "REML")
    est <- c(est, f$b[1]); lb <- c(lb, f$ci.lb); ub <- c(ub, f$ci.ub); t2 <- c(t2, f$tau2)
  }
  out[[paste0("sweep_", m)]] <- list(ri = rs, estimate = est, ci_lb = lb, ci_ub = ub, tau2 = t2)
}
# percent change on the log ratio of means scale, back-transformed
e <- escalc("ROMC", m1i = m_a, m2i = m_b, sd1i = sd_a, sd2i = sd_b, ni = ni, ri = rep(r0, 8), data = co)
f <- rma(yi, vi, data = e, method = "REML")
p <- predict(f, transf = function(x) 100 * (exp(x) - 1))
out$ROMC_pct <- list(pred = p$pred, ci_lb = p$ci.lb, ci_ub = p$ci.ub)
# subgroups with a common tau^2: rma(mods = ~ factor(g) - 1) on the BCG data (log RR)
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
f <- rma(yi, vi, mods = ~ factor(alloc) - 1, data = bcg, method = "REML")
out$bcg_common <- list(group = sort(unique(bcg$alloc)), estimate = as.vector(f$b),
                       se = f$se, ci_lb = f$ci.lb, ci_ub = f$ci.ub, tau2 = f$tau2)
f2 <- rma(yi, vi, mods = ~ factor(alloc), data = bcg, method = "REML")
out$bcg_common$QM <- f2$QM
out$bcg_common$QMp <- f2$QMp
cat(to_json(out), "\n")
