"""Field physics: a tDCS M1 montage and the best TI montage for a deep target.

Writes into the output folder:

* ``fields_tdcs_c3_fp2.png`` -- |E| of C3 (anode) / Fp2 (right supraorbital,
  approximated by Fp2) at 2 mA, slice through the left M1 hand target and a top
  view of the brain surface;
* ``fields_ti_thalamus.png`` -- envelope of the best TI montage of the 10-20 cap
  for a thalamus-like deep point (4 mA total);
* ``fields_summary.json`` -- target values.

All values are in silico, on a concentric-sphere head with point electrodes.

Run: ``python examples/02_fields.py [OUT]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from phantomlab.fields import (
    brain_points,
    default_model,
    get_target,
    optimize_ti_for_target,
    tdcs_field,
    tdcs_field_at,
    ti_field,
)


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    model = default_model()
    pts = brain_points(model, spacing=0.003)
    m1 = get_target("m1_hand_left")
    tdcs = tdcs_field("C3", "Fp2", 2e-3, pts, model=model, target=m1.position, roi_radius=0.005)
    e_target = tdcs_field_at("C3", "Fp2", 2e-3, m1.position, model=model)
    fig = tdcs.plot()
    fig.savefig(out / "fields_tdcs_c3_fp2.png", dpi=110)
    plt.close(fig)

    deep = get_target("thalamus_left")
    best = optimize_ti_for_target("thalamus_left", cap="10-20", total_current=4e-3)
    ti = ti_field(
        tuple(best["pair1"]),
        tuple(best["pair2"]),
        tuple(best["currents_A"]),
        pts,
        model=model,
        cap="10-20",
        target=deep.position,
        roi_radius=0.01,
    )
    fig = ti.plot()
    fig.savefig(out / "fields_ti_thalamus.png", dpi=110)
    plt.close(fig)

    summary = {
        "model": {
            "radii_m": list(model.radii),
            "sigma_S_per_m": list(model.sigma),
            "sources": list(model.sources),
        },
        "tdcs": {
            "montage": "C3 anode, Fp2 cathode (right supraorbital approximated by Fp2), 2 mA",
            "target": m1.name,
            "target_note": m1.note,
            "E_at_target_V_per_m": e_target,
            "roi_mean_V_per_m": tdcs.roi_mean,
            "max_brain_E_V_per_m": float(np.max(tdcs.magnitude)),
        },
        "ti": {
            "target": deep.name,
            "target_note": deep.note,
            "pair1": best["pair1"],
            "pair2": best["pair2"],
            "currents_A": best["currents_A"],
            "envelope_at_target_V_per_m": best["envelope_at_target_V_per_m"],
            "roi_mean_V_per_m": best["roi_mean_V_per_m"],
            "off_target_p95_V_per_m": best["off_target_p95_V_per_m"],
            "focality": best["objective"],
            "candidates": best["n_candidates"],
            "search_s": best["seconds"],
        },
        "note": "in silico, concentric-sphere head, point electrodes; not a clinical prediction",
    }
    (out / "fields_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{'montage':<44s} {'target':<15s} {'value (V/m)':>12s}")
    print(f"{'tDCS C3-Fp2 2 mA, |E|':<44s} {m1.name:<15s} {e_target:12.3f}")
    label = f"TI {'-'.join(best['pair1'])} / {'-'.join(best['pair2'])}, envelope"
    print(f"{label:<44s} {deep.name:<15s} {best['envelope_at_target_V_per_m']:12.3f}")
    print(
        f"TI focality (ROI mean / off-target P95) {best['objective']:.3f}; "
        f"{best['n_candidates']} candidates searched in {best['seconds']:.1f} s"
    )
    print("files: fields_tdcs_c3_fp2.png, fields_ti_thalamus.png, fields_summary.json")
    return {
        "tdcs_E_at_target_V_per_m": e_target,
        "ti_pairs": ("-".join(best["pair1"]), "-".join(best["pair2"])),
        "ti_envelope_at_target_V_per_m": best["envelope_at_target_V_per_m"],
        "ti_focality": best["objective"],
        "ti_candidates": best["n_candidates"],
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
