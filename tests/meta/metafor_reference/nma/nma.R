# Reference outputs for phantomlab.meta.nma (contrast-based random-effects network
# meta-analysis) from R metafor 3.8-1 rma.mv, on metadat's dat.hasselblad1998
# (smoking cessation, 24 studies, 4 treatments; Hasselblad 1998, Med Decis Making 18:37-43).
# The model is the one of the dat.hasselblad1998 help page ("contrast-based random-effects
# model", rho = 1/2), with the log odds ratios and their covariance built as on that page
# (add = 1/2 to every cell, Gleser & Olkin 2009 eq. 19.11 for the shared-arm covariance).
# Run: Rscript nma.R   (writes hasselblad1998_arms.csv, hasselblad1998.json, senn2013_arms.csv
# and senn2013.json here; R 4.2.2, metafor 3.8-1, Debian packages; jsonlite is not needed)
suppressPackageStartupMessages(library(metafor))

# a minimal JSON writer (jsonlite is not installed): named list -> object, matrix -> array of
# rows, vector -> array (length 1 -> scalar), numbers with 17 significant digits
to_json <- function(x) {
  if (is.list(x)) {
    if (!is.null(names(x))) {
      return(paste0("{", paste0('"', names(x), '": ', sapply(x, to_json), collapse = ", "), "}"))
    }
    return(paste0("[", paste(sapply(x, to_json), collapse = ", "), "]"))
  }
  if (is.matrix(x)) return(to_json(lapply(seq_len(nrow(x)), function(i) as.vector(x[i, ]))))
  if (is.factor(x)) x <- as.character(x)
  if (is.character(x)) v <- paste0('"', x, '"')
  else if (is.logical(x)) v <- ifelse(x, "true", "false")
  else v <- ifelse(is.na(x), "null", sprintf("%.17g", as.numeric(x)))
  if (length(v) == 1) v else paste0("[", paste(v, collapse = ", "), "]")
}
arms <- dat.hasselblad1998
write.csv(arms[, c("study", "trt", "xi", "ni")], "hasselblad1998_arms.csv", row.names = FALSE)

dat <- to.wide(arms, study = "study", grp = "trt", ref = "no_contact", grpvars = 6:7)
dat <- escalc(measure = "OR", ai = xi.1, n1i = ni.1, ci = xi.2, n2i = ni.2, add = 1/2, to = "all",
              data = dat)
calc.v <- function(x) {
  v <- matrix(1/(x$xi.2[1] + 1/2) + 1/(x$ni.2[1] - x$xi.2[1] + 1/2), nrow = nrow(x), ncol = nrow(x))
  diag(v) <- x$vi
  v
}
V <- bldiag(lapply(split(dat, dat$study), calc.v))
dat <- contrmat(dat, grp1 = "trt.1", grp2 = "trt.2")
trts <- c("self_help", "ind_counseling", "grp_counseling")
X <- as.matrix(dat[, trts])
ctrl <- list(optimizer = "nlm", gradtol = 1e-12)

fit_one <- function(method, control = ctrl) {
  res <- rma.mv(yi, V, mods = ~ self_help + ind_counseling + grp_counseling - 1,
                random = ~ comp | study, rho = 1/2, data = dat, method = method, control = control)
  # all pairwise comparisons j vs i (column order of trts, reference no_contact first)
  L <- rbind(diag(3), c(-1, 1, 0), c(-1, 0, 1), c(0, -1, 1))
  pr <- predict(res, newmods = L)
  list(beta = unname(as.vector(res$beta)), se = unname(res$se), vb = unname(res$vb),
       tau2 = res$tau2, logLik = as.numeric(logLik(res)), QE = res$QE, QEp = res$QEp,
       k = res$k, p = res$p,
       pred = list(contrast = unname(L), pred = unname(pr$pred), se = unname(pr$se),
                   ci_lb = unname(pr$ci.lb), ci_ub = unname(pr$ci.ub),
                   pi_lb = unname(pr$pi.lb), pi_ub = unname(pr$pi.ub)))
}

# design-by-treatment interaction: every design (set of treatments in a study) has its own
# contrasts; columns of the consistency model first, so that lm's pivoting drops the redundant
# interaction columns and btt = the rest tests inconsistency (Higgins et al. 2012).
dat$design <- sapply(split(arms$trt, arms$study), function(t) paste(sort(t), collapse = ":"))[
  as.character(dat$study)]
key <- paste(dat$design, dat$trt.1, dat$trt.2, sep = "|")
Xfull <- sapply(sort(unique(key)), function(u) as.numeric(key == u))
Xaug <- cbind(X, Xfull)
inc_fit <- function(method) {
  res <- suppressWarnings(rma.mv(yi, V, mods = Xaug, intercept = FALSE, random = ~ comp | study,
                                 rho = 1/2, data = dat, method = method, control = ctrl,
                                 btt = 4:ncol(Xaug)))
  list(tau2 = res$tau2, QM = res$QM, QMdf = res$QMdf[1], QMp = res$QMp, logLik = as.numeric(logLik(res)),
       p = res$p)
}
# node-splitting (Dias et al. 2010, side-splitting parametrisation): for each directly
# compared pair (a, b), a in front of b in the order no_contact, self_help, ind_counseling,
# grp_counseling, one extra column shifts arm b in every study that has both arms: +1 on the
# b row where another arm is the baseline, -1 on every row where b is the baseline (none here:
# the baseline is the first arm in that order). Fitted with its own tau^2 (REML, nlm).
lev1 <- c("no_contact", trts)
node_split <- list()
for (i in 1:3) for (j in (i + 1):4) {
  a <- lev1[i]; b <- lev1[j]
  both <- sapply(as.character(dat$study), function(s) all(c(a, b) %in% arms$trt[arms$study == s]))
  col <- ifelse(both & dat$trt.1 == b, 1, ifelse(both & dat$trt.2 == b, -1, 0))
  if (!any(col != 0)) next
  Xs <- cbind(X, split = col)
  res <- rma.mv(yi, V, mods = Xs, intercept = FALSE, random = ~ comp | study, rho = 1/2,
                data = dat, control = ctrl)
  node_split[[paste(b, a, sep = " vs ")]] <- list(treat1 = b, treat2 = a, beta = unname(as.vector(res$beta)),
    vb = unname(res$vb), tau2 = res$tau2, logLik = as.numeric(logLik(res)))
}
fe_cons <- rma.mv(yi, V, mods = X, intercept = FALSE, data = dat)
fe_full <- suppressWarnings(rma.mv(yi, V, mods = Xfull, intercept = FALSE, data = dat))

out <- list(
  dataset = "dat.hasselblad1998", metafor_version = as.character(packageVersion("metafor")),
  r_version = R.version.string,
  control = "optimizer nlm, gradtol 1e-12 (REML_default: metafor default control, nlminb)",
  treatments = c("no_contact", trts),
  contrasts = list(study = dat$study, treat1 = dat$trt.1, treat2 = dat$trt.2,
                   yi = as.vector(dat$yi), vi = dat$vi, design = unname(dat$design)),
  V = unname(V),
  REML = fit_one("REML"), ML = fit_one("ML"), REML_default = fit_one("REML", list()),
  inconsistency = list(REML = inc_fit("REML"), ML = inc_fit("ML"),
                       Q_total = fe_cons$QE, df_total = fe_cons$k - fe_cons$p,
                       Q_within = fe_full$QE, df_within = fe_full$k - fe_full$p),
  node_split = node_split
)
writeLines(to_json(out), "hasselblad1998.json")

# ------------------------------------------------------------------------------------------
# Second network: dat.senn2013 (glucose-lowering agents; 26 studies, 10 treatments, one
# three-arm study), mean differences in HbA1c change from arm-level means and SDs, contrasts
# against each study's first arm in the order placebo first, then alphabetical; covariance
# of two contrasts of one study = sdi^2/ni of the shared arm. Same contrast-based model.
arms2 <- dat.senn2013
write.csv(arms2[, c("study", "treatment", "ni", "mi", "sdi")], "senn2013_arms.csv", row.names = FALSE)
lev <- c("placebo", sort(setdiff(unique(arms2$treatment), "placebo")))
arms2$rank <- match(arms2$treatment, lev)
rows <- list()
for (s in unique(arms2$study)) {
  a <- arms2[arms2$study == s, ]
  a <- a[order(a$rank), ]
  for (j in 2:nrow(a)) {
    rows[[length(rows) + 1]] <- data.frame(study = s, treat1 = a$treatment[j], treat2 = a$treatment[1],
      yi = a$mi[j] - a$mi[1], vi = a$sdi[j]^2 / a$ni[j] + a$sdi[1]^2 / a$ni[1],
      vbase = a$sdi[1]^2 / a$ni[1], stringsAsFactors = FALSE)
  }
}
con <- do.call(rbind, rows)
V2 <- bldiag(lapply(split(con, factor(con$study, levels = unique(con$study))), function(x) {
  v <- matrix(x$vbase[1], nrow(x), nrow(x)); diag(v) <- x$vi; v }))
X2 <- sapply(lev[-1], function(t) (con$treat1 == t) - (con$treat2 == t))
con$comp <- paste(con$treat1, con$treat2)
fit2 <- function(method, control = ctrl) {
  res <- rma.mv(con$yi, V2, mods = X2, intercept = FALSE, random = ~ comp | study, rho = 1/2,
                data = con, method = method, control = control)
  list(beta = unname(as.vector(res$beta)), se = unname(res$se), tau2 = res$tau2,
       logLik = as.numeric(logLik(res)), QE = res$QE, QEp = res$QEp, k = res$k, p = res$p)
}
out2 <- list(dataset = "dat.senn2013", metafor_version = as.character(packageVersion("metafor")),
  treatments = lev, contrasts = list(study = con$study, treat1 = con$treat1, treat2 = con$treat2,
  yi = con$yi, vi = con$vi), REML = fit2("REML"), ML = fit2("ML"), REML_default = fit2("REML", list()))
writeLines(to_json(out2), "senn2013.json")
