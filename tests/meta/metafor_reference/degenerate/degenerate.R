# Reference behaviour of metafor on degenerate input (issue #21, point 8).
# Run: Rscript degenerate.R > degenerate.json   (R 4.2.2, metafor 3.8-1, Debian packages)
# Each case: "error" (metafor's message) or estimate, se, tau2, k, QE, I2, H2 (k0, side for trimfill).
# A fit that does not return within 20 s is recorded as "does not return".
suppressMessages(library(metafor))
num <- function(x) if (is.null(x) || is.na(x)) "null" else if (is.infinite(x)) sprintf('"%s"', x) else sprintf("%.17g", x)
case <- function(name, expr) {
  setTimeLimit(elapsed = 20, transient = TRUE)
  on.exit(setTimeLimit(elapsed = Inf))
  r <- tryCatch(suppressWarnings(expr), error = function(e) conditionMessage(e))
  if (is.character(r)) {
    msg <- if (grepl("time limit", r)) "does not return" else gsub('"', "'", r)
    return(sprintf('  "%s": {"error": "%s"}', name, msg))
  }
  extra <- if (!is.null(r$k0)) sprintf(', "k0": %d, "side": "%s"', r$k0, r$side) else
    sprintf(', "QE": %s, "I2": %s, "H2": %s', num(r$QE), num(r$I2), num(r$H2))
  sprintf('  "%s": {"estimate": %s, "se": %s, "tau2": %s, "k": %d%s}', name,
          num(c(r$beta)[1]), num(r$se[1]), num(r$tau2), r$k, extra)
}
out <- c()
for (m in c("EE", "DL", "REML", "ML", "PM", "HS", "SJ", "EB", "HE")) {
  out <- c(out,
    case(paste0("vi_1e300_", m), rma(c(0.1, 0.5, 0.3), rep(1e300, 3), method = m)),
    case(paste0("yi_inf_", m), rma(c(Inf, 0.5, 0.3), c(0.01, 0.01, 0.03), method = m)),
    case(paste0("yi_1e200_", m), rma(c(1e200, -1e200, 3), c(1, 1, 1), method = m)),
    case(paste0("yi_na_", m), rma(c(NA, 0.5, 0.3), c(0.01, 0.01, 0.03), method = m)),
    # an infinite sampling variance: metafor keeps the study with weight 0 (it still counts
    # in k and in the degrees of freedom); homogeneous and heterogeneous data
    case(paste0("vi_inf_hom_", m), rma(c(0.1, 0.2, 0.3, 0.4), c(0.01, 0.02, 0.03, Inf), method = m)),
    case(paste0("vi_inf_het_", m),
         rma(c(0.1, 0.5, 0.3, 0.9, 0.2), c(0.01, 0.02, 0.03, 0.015, Inf), method = m)))
}
out <- c(out,
  case("trimfill_k2_EE", trimfill(rma(c(0.1, 0.5), c(0.01, 0.02), method = "EE"))),
  case("trimfill_k2_REML", trimfill(rma(c(0.1, 0.5), c(0.01, 0.02)))),
  case("trimfill_k2_DL", trimfill(rma(c(0.1, 0.5), c(0.01, 0.02), method = "DL"))),
  case("trimfill_k2_REML_left", trimfill(rma(c(0.1, 0.5), c(0.01, 0.02)), side = "left")),
  case("trimfill_k2_REML_right", trimfill(rma(c(0.1, 0.5), c(0.01, 0.02)), side = "right")),
  case("trimfill_equal_vi_REML", trimfill(rma(c(0.1, 0.5, 0.3, 0.2), rep(0.01, 4)))),
  case("trimfill_equal_vi_EE", trimfill(rma(c(0.1, 0.5, 0.3, 0.2), rep(0.01, 4), method = "EE"))))
# downstream of a fit with an infinite sampling variance (study 5): leave1out and confint
# answer, trimfill / regtest / funnel stop
inf_fit <- rma(c(0.1, 0.5, 0.3, 0.9, 0.2, 0.4), c(0.01, 0.02, 0.03, 0.015, Inf, 0.02), method = "DL")
vec <- function(x) paste(sapply(x, num), collapse = ", ")
out <- c(out,
  sprintf('  "vi_inf_leave1out_DL": {"estimate": [%s], "tau2": [%s]}',
          vec(leave1out(inf_fit)$estimate), vec(leave1out(inf_fit)$tau2)),
  sprintf('  "vi_inf_confint_DL": {"tau2": [%s]}', vec(confint(inf_fit)$random[1, ])),
  case("vi_inf_trimfill_DL", trimfill(inf_fit)),
  case("vi_inf_regtest_DL", regtest(inf_fit)))
cat("{\n", paste(out, collapse = ",\n"), "\n}\n", sep = "")
