# Reference values for phantomlab.trials.imputation, computed with R's mice.
# Run: Rscript tests/trials/r_reference/mi_reference.R   (mice 3.15, jsonlite; Debian packages)
# Inputs (written by mi_make_data.py, committed): mi_trial.csv, mi_completed.csv.
# Writes mi_reference.json next to this script with
# * "pool_completed": mice::pool of lm(primary ~ arm + baseline + center) fitted to the
#   5 completed data sets that phantomlab imputed (exact check of the ANCOVA fits and
#   Rubin's rules with Barnard-Rubin df);
# * "pool_scalar": mice::pool.scalar on random estimates/variances (edge cases: small
#   and large between-imputation variance, dfcom finite and infinite);
# * "mice_norm": the whole MI done by mice (method "norm", Bayesian linear regression,
#   within arm, predictors baseline + center, m = 2000), pooled: the statistical check.
library(mice)
library(jsonlite)
out_dir <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
rd <- function(f) {
  d <- read.csv(file.path(out_dir, f))
  d$arm <- factor(d$arm, levels = c("sham", "active"))
  d$center <- factor(d$center)
  d
}
tidy_pool <- function(p) {
  s <- summary(p, conf.int = TRUE)
  pp <- p$pooled
  list(term = as.character(pp$term), estimate = pp$estimate, ubar = pp$ubar, b = pp$b,
       t = pp$t, dfcom = pp$dfcom, df = pp$df, riv = pp$riv, lambda = pp$lambda,
       fmi = pp$fmi, p = s$p.value, ci_low = s[["2.5 %"]], ci_high = s[["97.5 %"]])
}

# 1. the 5 completed data sets from phantomlab
done <- rd("mi_completed.csv")
fits <- lapply(1:5, function(i) {
  dd <- done; dd$primary <- dd[[paste0("y", i)]]
  lm(primary ~ arm + baseline + center, data = dd)
})
pool_completed <- tidy_pool(pool(as.mira(fits)))

# 2. pool.scalar on random inputs
set.seed(18)
scalar <- lapply(list(c(5, 100), c(20, 40), c(3, Inf), c(50, 1000), c(2, 10)), function(k) {
  m <- k[1]; dfcom <- k[2]
  q <- rnorm(m, 1, runif(1, 0.01, 1)); u <- runif(m, 0.05, 0.5)
  r <- pool.scalar(q, u, n = dfcom + 1, k = 1)
  list(m = m, dfcom = if (is.finite(dfcom)) dfcom else "Inf", q = q, u = u,
       qbar = r$qbar, ubar = r$ubar, b = r$b, t = r$t, df = r$df, r = r$r, fmi = r$fmi)
})

# 3. the whole MI in mice, within arm
trial <- rd("mi_trial.csv")
m <- 2000
imp_arm <- function(sub, seed) {
  sub <- sub[, c("center", "baseline", "primary")]
  pred <- make.predictorMatrix(sub); pred[, ] <- 0; pred["primary", c("baseline", "center")] <- 1
  meth <- make.method(sub); meth[] <- ""; meth["primary"] <- "norm"
  mice(sub, m = m, method = meth, predictorMatrix = pred, maxit = 1, seed = seed,
       printFlag = FALSE)
}
arms <- split(trial, trial$arm)
imps <- mapply(imp_arm, arms, c(11, 12), SIMPLIFY = FALSE)
fits <- lapply(1:m, function(i) {
  dd <- do.call(rbind, lapply(names(arms), function(a) {
    x <- complete(imps[[a]], i); x$arm <- a; x
  }))
  dd$arm <- factor(dd$arm, levels = c("sham", "active"))
  lm(primary ~ arm + baseline + center, data = dd)
})
mice_norm <- tidy_pool(pool(as.mira(fits)))

writeLines(toJSON(list(r_version = R.version.string,
                       mice_version = as.character(packageVersion("mice")),
                       pool_completed = pool_completed, pool_scalar = scalar,
                       mice_norm = c(list(m = m), mice_norm)),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "mi_reference.json"))
