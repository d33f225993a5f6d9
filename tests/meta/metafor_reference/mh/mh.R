# Reference outputs of metafor's rma.mh and rma.peto (issue #17, point 2).
# Run: Rscript mh.R > mh.json   (R 4.2.2, metafor 3.8-1, metadat 1.2-0; Debian packages)
# Each case holds the 2x2 tables (ai, bi, ci, di), the options passed, and metafor's output:
# beta (log scale for OR/RR/PETO), se, zval, pval, ci.lb, ci.ub, QE, QEp, I2, H2, k, k.yi,
# k.pos, yi, vi, weights (percent), and for OR the CO/MH (Cochran-Mantel-Haenszel, without/with N-1),
# BD (Breslow-Day) and TA (Tarone) statistics with p-values, and the printed text.
# A call that stops records "error" (metafor's message).
suppressMessages(library(metafor))
num <- function(x) {
  if (is.null(x) || length(x) == 0) return("null")
  s <- sapply(x, function(v) if (is.na(v)) "null" else if (is.infinite(v)) sprintf('"%s"', v)
              else sprintf("%.17g", v))
  if (length(x) == 1) s else paste0("[", paste(s, collapse = ", "), "]")
}
str_json <- function(s) {
  s <- gsub("\\\\", "\\\\\\\\", s)
  s <- gsub('"', '\\\\"', s)
  s <- gsub("\n", "\\\\n", s)
  paste0('"', s, '"')
}
opt_json <- function(o) {
  if (length(o) == 0) return("{}")
  parts <- mapply(function(n, v) {
    val <- if (is.character(v)) paste0("[", paste(sapply(v, str_json), collapse = ", "), "]")
      else if (is.logical(v)) paste0("[", paste(tolower(as.character(v)), collapse = ", "), "]")
      else paste0("[", paste(sprintf("%.17g", v), collapse = ", "), "]")
    paste0(str_json(n), ": ", val)
  }, names(o), o)
  paste0("{", paste(parts, collapse = ", "), "}")
}
case <- function(name, fun, ai, bi, ci, di, measure = NULL, opts = list(), dataset = "") {
  args <- c(list(ai = ai, bi = bi, ci = ci, di = di), opts)
  if (!is.null(measure)) args$measure <- measure
  r <- tryCatch(suppressWarnings(do.call(fun, args)), error = function(e) conditionMessage(e))
  head <- sprintf('  "%s": {"dataset": %s, "model": "%s", "measure": %s, "options": %s,\n    "ai": %s, "bi": %s, "ci": %s, "di": %s,\n',
                  name, str_json(dataset), fun, if (is.null(measure)) '"PETO"' else str_json(measure),
                  opt_json(opts), num(ai), num(bi), num(ci), num(di))
  if (is.character(r)) return(paste0(head, sprintf('    "error": %s}', str_json(r))))
  txt <- paste(capture.output(print(r)), collapse = "\n")
  body <- sprintf(paste0('    "beta": %s, "se": %s, "zval": %s, "pval": %s, "ci_lb": %s, "ci_ub": %s,\n',
                         '    "QE": %s, "QEp": %s, "I2": %s, "H2": %s, "k": %d, "k_yi": %d, "k_pos": %s,\n',
                         '    "yi": %s, "vi": %s, "weights": %s'),
                  num(c(r$beta)[1]), num(r$se), num(r$zval), num(r$pval), num(r$ci.lb), num(r$ci.ub),
                  num(r$QE), num(r$QEp), num(r$I2), num(r$H2), r$k, r$k.yi, num(r$k.pos),
                  num(c(r$yi)), num(c(r$vi)), num(unname(c(weights(r)))))
  if (!is.null(r$MH)) {
    body <- paste0(body, sprintf(paste0(',\n    "CO": %s, "COp": %s, "MH": %s, "MHp": %s, ',
                                        '"BD": %s, "BDp": %s, "TA": %s, "TAp": %s'),
                                 num(r$CO), num(r$COp), num(r$MH), num(r$MHp), num(r$BD),
                                 num(r$BDp), num(r$TA), num(r$TAp)))
  }
  paste0(head, body, sprintf(',\n    "text": %s}', str_json(txt)))
}
out <- c()
add_case <- function(...) out <<- c(out, case(...))

# dat.bcg (Colditz et al. 1994): BCG vaccine trials
b <- dat.bcg
for (m in c("OR", "RR", "RD")) {
  add_case(paste0("bcg_mh_", m), "rma.mh", b$tpos, b$tneg, b$cpos, b$cneg, m, dataset = "dat.bcg")
}
add_case("bcg_peto", "rma.peto", b$tpos, b$tneg, b$cpos, b$cneg, dataset = "dat.bcg")
add_case("bcg_mh_OR_level90_nocorrect", "rma.mh", b$tpos, b$tneg, b$cpos, b$cneg, "OR",
         list(level = 90, correct = FALSE), "dat.bcg")

# dat.egger2001 (magnesium after myocardial infarction; one zero cell: Bertschat 1989)
e <- dat.egger2001
e_b <- e$n1i - e$ai; e_d <- e$n2i - e$ci
for (m in c("OR", "RR", "RD")) {
  add_case(paste0("egger2001_mh_", m), "rma.mh", e$ai, e_b, e$ci, e_d, m, dataset = "dat.egger2001")
}
add_case("egger2001_peto", "rma.peto", e$ai, e_b, e$ci, e_d, dataset = "dat.egger2001")
s <- 1:15  # without ISIS-4
add_case("egger2001_noisis4_peto", "rma.peto", e$ai[s], e_b[s], e$ci[s], e_d[s],
         dataset = "dat.egger2001 without ISIS-4")
add_case("egger2001_noisis4_mh_OR", "rma.mh", e$ai[s], e_b[s], e$ci[s], e_d[s], "OR",
         dataset = "dat.egger2001 without ISIS-4")

# dat.collins1985b (diuretics in pregnancy, pre-eclampsia)
cl <- dat.collins1985b
cb <- cl$pre.nti - cl$pre.xti; cd <- cl$pre.nci - cl$pre.xci
for (m in c("OR", "RR", "RD")) {
  add_case(paste0("collins1985b_mh_", m), "rma.mh", cl$pre.xti, cb, cl$pre.xci, cd, m,
           dataset = "dat.collins1985b (pre-eclampsia)")
}
add_case("collins1985b_peto", "rma.peto", cl$pre.xti, cb, cl$pre.xci, cd,
         dataset = "dat.collins1985b (pre-eclampsia)")

# dat.yusuf1985, table 9 (beta blockers, sparse: single-zero and double-zero studies)
y <- dat.yusuf1985[!is.na(dat.yusuf1985$table) & dat.yusuf1985$table == "9", ]
yb <- y$n1i - y$ai; yd <- y$n2i - y$ci
ds <- "dat.yusuf1985 table 9"
for (m in c("OR", "RR", "RD")) {
  add_case(paste0("yusuf9_mh_", m), "rma.mh", y$ai, yb, y$ci, yd, m, dataset = ds)
  add_case(paste0("yusuf9_mh_", m, "_drop00F"), "rma.mh", y$ai, yb, y$ci, yd, m,
           list(drop00 = FALSE), ds)
  add_case(paste0("yusuf9_mh_", m, "_toall"), "rma.mh", y$ai, yb, y$ci, yd, m,
           list(to = "all"), ds)
  add_case(paste0("yusuf9_mh_", m, "_add2"), "rma.mh", y$ai, yb, y$ci, yd, m,
           list(add = c(0.5, 0.5), to = c("only0", "only0"), drop00 = c(TRUE, TRUE)), ds)
  add_case(paste0("yusuf9_mh_", m, "_if0all"), "rma.mh", y$ai, yb, y$ci, yd, m,
           list(to = c("if0all", "if0all"), add = c(0.25, 0.25)), ds)
  add_case(paste0("yusuf9_mh_", m, "_add0"), "rma.mh", y$ai, yb, y$ci, yd, m,
           list(add = 0), ds)
}
add_case("yusuf9_peto", "rma.peto", y$ai, yb, y$ci, yd, dataset = ds)
add_case("yusuf9_peto_drop00F", "rma.peto", y$ai, yb, y$ci, yd, opts = list(drop00 = FALSE), dataset = ds)
add_case("yusuf9_peto_toall", "rma.peto", y$ai, yb, y$ci, yd, opts = list(to = "all"), dataset = ds)
add_case("yusuf9_peto_add2", "rma.peto", y$ai, yb, y$ci, yd,
         opts = list(add = c(0.5, 0.5), to = c("all", "all"), drop00 = c(FALSE, FALSE)), dataset = ds)
add_case("yusuf9_peto_drop00TT", "rma.peto", y$ai, yb, y$ci, yd,
         opts = list(drop00 = c(TRUE, TRUE)), dataset = ds)
add_case("bcg_peto_level80", "rma.peto", b$tpos, b$tneg, b$cpos, b$cneg, opts = list(level = 80),
         dataset = "dat.bcg")

# degenerate input (synthetic)
ds <- "synthetic"
add_case("k1_mh_OR", "rma.mh", 5, 20, 9, 16, "OR", dataset = ds)
add_case("k1_peto", "rma.peto", 5, 20, 9, 16, dataset = ds)
add_case("k1_mh_RD", "rma.mh", 5, 20, 9, 16, "RD", dataset = ds)
add_case("noevents_arm1_mh_OR", "rma.mh", c(0, 0, 0), c(10, 12, 9), c(1, 3, 2), c(9, 9, 8), "OR", dataset = ds)
add_case("noevents_arm1_mh_RR", "rma.mh", c(0, 0, 0), c(10, 12, 9), c(1, 3, 2), c(9, 9, 8), "RR", dataset = ds)
add_case("noevents_arm1_mh_RD", "rma.mh", c(0, 0, 0), c(10, 12, 9), c(1, 3, 2), c(9, 9, 8), "RD", dataset = ds)
add_case("noevents_arm1_peto", "rma.peto", c(0, 0, 0), c(10, 12, 9), c(1, 3, 2), c(9, 9, 8), dataset = ds)
add_case("allzero_mh_OR", "rma.mh", c(0, 0), c(10, 12), c(0, 0), c(9, 9), "OR", dataset = ds)
add_case("allzero_mh_RD", "rma.mh", c(0, 0), c(10, 12), c(0, 0), c(9, 9), "RD", dataset = ds)
add_case("allzero_peto", "rma.peto", c(0, 0), c(10, 12), c(0, 0), c(9, 9), dataset = ds)
add_case("one00_mh_OR", "rma.mh", c(0, 3, 4), c(10, 12, 20), c(0, 6, 9), c(9, 9, 15), "OR", dataset = ds)
add_case("one00_peto", "rma.peto", c(0, 3, 4), c(10, 12, 20), c(0, 6, 9), c(9, 9, 15), dataset = ds)
add_case("null_effect_mh_OR", "rma.mh", c(5, 10), c(15, 30), c(5, 10), c(15, 30), "OR", dataset = ds)

cat("{\n")
cat(paste(out, collapse = ",\n"))
cat("\n}\n")
