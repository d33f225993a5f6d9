# Reference values for phantomlab.trials (stratified ANCOVA and MMRM) from R's lm, nlme::gls
# and emmeans (Satterthwaite df), on trial.csv (written by make_data.py).
# Run: Rscript tests/trials/r_reference/make_reference.R  (writes reference.json here)
# Needs r-cran-nlme, r-cran-emmeans and r-cran-jsonlite (Debian packages).
library(nlme)
library(emmeans)
library(jsonlite)
out_dir <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(out_dir, "trial.csv"), stringsAsFactors = FALSE)
d$arm <- factor(d$arm, levels = c("sham", "active"))
d$center <- factor(d$center, levels = c("A", "B", "C", "D"))
d$severity <- factor(d$severity, levels = c("moderate", "severe"))
base <- d[d$week == 0, c("patient", "pain")]
names(base)[2] <- "baseline"
post <- merge(d[d$week > 0, ], base, by = "patient")
post <- post[order(post$patient, post$week), ]

# ---- ANCOVA at the primary visit (week 12): outcome ~ arm + baseline + strata + center
w12 <- post[post$week == 12, ]
lm_ref <- function(fit_lm) {
  s <- summary(fit_lm)$coefficients
  ci <- confint(fit_lm)["armactive", ]
  list(
    estimate = unname(s["armactive", "Estimate"]), se = unname(s["armactive", "Std. Error"]),
    df = fit_lm$df.residual, ci_low = unname(ci[1]), ci_high = unname(ci[2]),
    p = unname(s["armactive", "Pr(>|t|)"]), n = nrow(fit_lm$model)
  )
}
ancova <- lm_ref(lm(pain ~ arm + baseline + severity + center, data = w12))
# the same without the stratification factor (analysis.strata: none)
ancova_center_only <- lm_ref(lm(pain ~ arm + baseline + center, data = w12))

# ---- MMRM: week as a factor with the primary visit (12) as reference
post$visit <- relevel(factor(post$week), ref = "12")
post$vis <- match(post$week, c(4, 8, 12))
form <- pain ~ arm * visit + baseline * visit + severity + center
mmrm_ref <- function(fit, satt) {
  co <- summary(fit)$tTable
  runs <- NULL
  ct12 <- list(estimate = NA, SE = NA, df = NA, lower.CL = NA, upper.CL = NA, p.value = NA)
  if (satt) {
    # emmeans has no analytic Satterthwaite for gls: it uses "appx-satterthwaite" (numerical
    # derivatives of the covariance); it segfaults on the corAR1 fit here, so UN only.
    # Its df varies from run to run (random perturbations): 20 seeded runs are kept.
    set.seed(20261208)
    runs <- sapply(1:20, function(i) {
      em <- emmeans(fit, ~ arm | visit, mode = "appx-satterthwaite", data = post)
      ct <- summary(contrast(em, "revpairwise"), infer = TRUE)
      ct12 <<- ct[ct$visit == "12", ]
      ct12$df
    })
  }
  list(
    estimate = unname(co["armactive", "Value"]), se = unname(co["armactive", "Std.Error"]),
    reml_loglik = as.numeric(logLik(fit)),
    coef = as.list(coef(fit)), se_all = as.list(sqrt(diag(vcov(fit)))),
    sigma = matrix(as.numeric(getVarCov(fit, individual = names(which(table(post$patient) == 3))[1])), 3, 3),
    emmeans_estimate = ct12$estimate, emmeans_se = ct12$SE, satterthwaite_df = ct12$df,
    appx_satterthwaite_df_runs = if (satt) runs else NULL,
    ci_low = ct12$lower.CL, ci_high = ct12$upper.CL, p = ct12$p.value,
    n_obs = nrow(post)
  )
}
fit_un <- gls(form, data = post, correlation = corSymm(form = ~ vis | patient),
              weights = varIdent(form = ~ 1 | visit), method = "REML",
              control = glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500))
fit_ar <- gls(form, data = post, correlation = corAR1(form = ~ vis | patient), method = "REML",
              control = glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500))
out <- list(
  note = paste("R", R.version$major, R.version$minor, "nlme", as.character(packageVersion("nlme")),
               "emmeans", as.character(packageVersion("emmeans"))),
  ancova = ancova, ancova_center_only = ancova_center_only, mmrm_un = mmrm_ref(fit_un, TRUE), mmrm_ar1 = mmrm_ref(fit_ar, FALSE)
)
write_json(out, file.path(out_dir, "reference.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
