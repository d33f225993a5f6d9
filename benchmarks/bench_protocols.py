"""Benchmark of protocol validation: load + dose + safety check per protocol.

Measures the throughput of :func:`load_protocol` followed by :func:`check_protocol`
on a stream of tDCS / SCS / rTMS protocols, with PhantomLab's shipped 10-05 electrode
table (read once, cached) against a baseline that builds MNE's ``colin27_1005`` montage
for every protocol to look the electrode names up (what a validator without the shipped
table does: ``make_standard_montage`` per call; needs the ``bci`` extra for MNE).

Ends with ``RESULT protocols_per_s=<n> ratio=<R>x baseline=montage_per_call``.

Run: ``.venv/bin/python benchmarks/bench_protocols.py`` (a few seconds).
"""

from __future__ import annotations

import time

import numpy as np

from phantomlab.protocols import check_protocol, load_protocol
from phantomlab.protocols._types import electrode_names

N = 300
N_BASELINE = 30


def _protocols(n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    names = ["C3", "C4", "Fp1", "Fp2", "F3", "F4", "Cz", "P3", "P4", "O1"]
    out: list[dict[str, object]] = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            a, c = rng.choice(names, size=2, replace=False)
            out.append(
                {
                    "modality": "tdcs",
                    "anode": str(a),
                    "cathode": str(c),
                    "current": f"{rng.uniform(0.5, 4):.2f} mA",
                    "electrode_area": f"{rng.choice([25, 35]):d} cm^2",
                    "duration": f"{rng.integers(10, 40)} min",
                    "schedule": {"sessions": int(rng.integers(1, 20))},
                }
            )
        elif kind == 1:
            out.append(
                {
                    "modality": "scs",
                    "vertebral_level": "T10",
                    "amplitude": f"{rng.uniform(0.5, 8):.2f} mA",
                    "pulse_width": f"{rng.integers(100, 500)} us",
                    "frequency": f"{rng.integers(20, 100)} Hz",
                    "contact_area": "12 mm^2",
                    "duration": "1 h",
                }
            )
        else:
            out.append(
                {
                    "modality": "rtms",
                    "frequency": f"{rng.choice([1, 5, 10, 20])} Hz",
                    "intensity": f"{rng.integers(80, 120)} %MT",
                    "trains": int(rng.integers(10, 30)),
                    "train_duration": "2 s",
                    "inter_train_interval": f"{rng.integers(1, 60)} s",
                }
            )
    return out


def _run(protocols: list[dict[str, object]], montage_per_call: bool) -> float:
    t0 = time.perf_counter()
    for d in protocols:
        if montage_per_call:
            import mne

            names = mne.channels.make_standard_montage("colin27_1005").ch_names
            if not {"C3", "Fp2"} <= set(names):
                raise RuntimeError("MNE montage lacks 10-20 names")
        check_protocol(load_protocol(d), require_complete=False)
    return time.perf_counter() - t0


def main() -> None:
    protos = _protocols(N)
    electrode_names()
    _run(protos[:10], montage_per_call=False)  # warm up (imports, rule table)
    _run(protos[:1], montage_per_call=True)  # warm up (MNE import)
    t_fast = _run(protos, montage_per_call=False)
    t_base = _run(protos[:N_BASELINE], montage_per_call=True) * (N / N_BASELINE)
    rate = N / t_fast
    print(f"cached montage : {N} protocols in {t_fast:.3f} s ({rate:.0f}/s)")
    print(f"montage per call: {N} protocols in {t_base:.3f} s (extrapolated from {N_BASELINE})")
    print(
        f"RESULT protocols_per_s={rate:.0f} ratio={t_base / t_fast:.1f}x baseline=montage_per_call"
    )


if __name__ == "__main__":
    main()
