"""Dose and safety table of the reference protocol library, and one dose card.

Prints one row per reference protocol of the published PLP studies (modality,
dose metrics in clinical units, safety verdict) and writes into the output folder:

* ``protocols_reference_dose_safety.csv`` / ``.html`` -- the table (SI columns in the CSV);
* ``protocols_safety_rules.csv`` / ``.html`` -- the safety rules (published limits and
  PLP-study ranges);
* ``report_dose_card.html`` -- the dose card of Malavera 2016's active rTMS protocol
  (:func:`phantomlab.report.dose_card`).

Only parameters the sources state are set; an empty cell is not reported by the source.

Run: ``python examples/01_protocols.py [OUT]``.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from phantomlab.protocols import (
    check_protocol,
    get_reference,
    list_reference,
    reference_entry,
    safety_table,
)
from phantomlab.protocols.dose import display_value
from phantomlab.report import dose_card

SHOWN = (
    "current_A",
    "charge_per_phase_C",
    "shannon_k",
    "current_density_A_per_m2",
    "pulses_per_session",
    "session_duration_s",
    "charge_per_session_C",
    "sessions",
    "cumulative_charge_C",
    "cumulative_pulses",
)
CARD = "malavera2016_active"


def reference_dose_table() -> pd.DataFrame:
    """Return the dose and safety table of the reference library (SI columns).

    One row per reference protocol: name, study_id, arm, modality, the dose metrics
    (SI, ``None`` where the source does not determine them), ``valid``, ``n_errors``,
    ``n_warnings``, ``missing`` (parameters needed to deliver the protocol that the
    source does not state) and ``problems``.
    """
    rows: list[dict[str, Any]] = []
    for name in list_reference():
        p = get_reference(name)
        e = reference_entry(name)
        rep = check_protocol(p, require_complete=False)
        dose = rep.dose.to_dict()
        if rep.dose.components:  # combination: sum over components where known
            for key in ("charge_per_session_C", "session_duration_s", "cumulative_charge_C"):
                vals = [getattr(c, key) for c in rep.dose.components]
                known = [v for v in vals if v is not None]
                dose[key] = sum(known) if known else None
        missing = [w.field for w in rep.warnings if "required to deliver" in w.message]
        others = [w for w in rep.warnings if "required to deliver" not in w.message]
        rows.append(
            {
                "name": name,
                "study_id": e.study_id,
                "arm": e.arm,
                "modality": p.modality_key(),
                **{k: dose.get(k) for k in SHOWN},
                "valid": rep.valid,
                "verdict": rep.verdict,
                "n_errors": len(rep.errors),
                "n_warnings": len(others),
                "missing": "; ".join(m.split(".", 1)[-1] for m in missing),
                "problems": " | ".join(x.line() for x in rep.errors + others),
            }
        )
    return pd.DataFrame(rows)


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """Return the table with dose metrics in clinical units and short column names."""
    out = df[["name", "modality", *SHOWN, "valid", "n_warnings"]].copy()
    for key in SHOWN:
        out[key] = [
            "" if v is None or pd.isna(v) else display_value(key, float(v)) for v in df[key]
        ]
    return out.rename(
        columns={
            "current_A": "current",
            "charge_per_phase_C": "Q/phase",
            "shannon_k": "k",
            "current_density_A_per_m2": "J",
            "pulses_per_session": "pulses",
            "session_duration_s": "session",
            "charge_per_session_C": "Q/session",
            "cumulative_charge_C": "Q total",
            "cumulative_pulses": "pulses total",
            "n_warnings": "warn",
        }
    )


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    table = reference_dose_table()
    shown = display_table(table)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.to_string(index=False, max_colwidth=36))
    rules = safety_table()
    errors = rules[rules["severity"] == "error"]
    published = errors[~errors["plausibility"]]
    n_plaus = int(errors["plausibility"].sum())
    print(
        f"\nSafety rules: {len(published)} published limits, {n_plaus} plausibility bounds, "
        f"{len(rules) - len(errors)} PLP-study range rules"
    )
    for _, r in published.iterrows():
        print(f"  {r['id']}: {r['modality']} {r['quantity']} {r['limit_display']}")
    table.to_csv(out / "protocols_reference_dose_safety.csv", index=False)
    rules.to_csv(out / "protocols_safety_rules.csv", index=False)
    page = (
        "<html><head><meta charset='utf-8'><title>PhantomLab reference protocols</title>"
        "</head><body><h1>Reference protocols of published PLP studies: dose and safety</h1>"
        "<p>Only parameters the sources state are set; empty cells are not reported "
        "by the source. Dose metrics in clinical units.</p>"
        + shown.to_html(index=False, na_rep="")
        + "<h2>Safety rules</h2>"
        + rules.to_html(index=False, na_rep="")
        + f"<p>{html.escape('Generated by examples/01_protocols.py.')}</p>"
        "</body></html>"
    )
    (out / "protocols_reference_dose_safety.html").write_text(page, encoding="utf-8")
    (out / "protocols_safety_rules.html").write_text(
        "<html><body>" + rules.to_html(index=False, na_rep="") + "</body></html>",
        encoding="utf-8",
    )
    dose_card(get_reference(CARD)).save(out / "report_dose_card.html")
    print(
        "wrote protocols_reference_dose_safety.csv/.html, protocols_safety_rules.csv/.html "
        f"and report_dose_card.html ({CARD}) to {out}"
    )
    row = table.set_index("name")
    return {
        "protocols": len(table),
        "valid": int(table["valid"].sum()),
        "not_assessable": int((table["verdict"] == "not assessable").sum()),
        "published_limits": len(published),
        "plausibility_bounds": n_plaus,
        "range_rules": len(rules) - len(errors),
        "bolognini2015_cumulative_charge_C": row.at["bolognini2015_active", "cumulative_charge_C"],
        "malavera2016_pulses_per_session": row.at["malavera2016_active", "pulses_per_session"],
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
