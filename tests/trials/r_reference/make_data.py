"""Write trial.csv: a synthetic 2-arm, 4-center PLP trial with dropout (reference data).

Run: python tests/trials/r_reference/make_data.py  (seeded; numpy only). The values are
synthetic (assumed): baseline NRS ~ N(6.5, 1.2) + 0.8 if severe, visit effects -0.3/-0.6/-0.8,
active arm -0.5/-1.0/-1.4 NRS at weeks 4/8/12, center offsets, correlated within-patient
errors (AR-like, SD 1.2, rho 0.6), then 5 % intermittently missed visits and monotone
dropout that depends on the last observed pain (missing at random), rounded to 0.1 and
clipped to 0-10.
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261208)
n = 90
arm = np.where(rng.permutation(n) < n // 2, "active", "sham")
center = rng.choice(list("ABCD"), size=n, p=[0.35, 0.25, 0.25, 0.15])
severe = rng.random(n) < 0.4
c_off = {"A": 0.0, "B": 0.4, "C": -0.3, "D": 0.2}
base = 6.5 + 0.8 * severe + np.array([c_off[c] for c in center]) + rng.normal(0, 1.2, n)
weeks = [4, 8, 12]
lag = np.abs(np.subtract.outer(range(3), range(3)))
sd = 1.2 * np.sqrt([1.0, 1.1, 1.25])
err = rng.multivariate_normal(np.zeros(3), np.outer(sd, sd) * 0.6**lag, size=n)
vis = np.array([-0.3, -0.6, -0.8])
eff = np.array([-0.5, -1.0, -1.4])
post = 1.5 + 0.75 * base[:, None] + vis + (arm == "active")[:, None] * eff + err
post += 0.3 * severe[:, None] + np.array([c_off[c] for c in center])[:, None]
rows = []
for i in range(n):
    rows.append((f"P{i + 1:03d}", arm[i], center[i], severe[i], 0, base[i]))
    for j, w in enumerate(weeks):
        last = base[i] if j == 0 else post[i, j - 1]
        if rng.random() < 1 / (1 + np.exp(-(-3.0 + 0.3 * (last - 6)))):
            break
        if rng.random() > 0.05:  # intermittent missed visit
            rows.append((f"P{i + 1:03d}", arm[i], center[i], severe[i], w, post[i, j]))
df = pd.DataFrame(rows, columns=["patient", "arm", "center", "severe", "week", "pain"])
df["severity"] = np.where(df.pop("severe"), "severe", "moderate")
df["pain"] = df["pain"].clip(0, 10).round(1)
df = df[["patient", "arm", "center", "severity", "week", "pain"]]
df.to_csv(Path(__file__).with_name("trial.csv"), index=False)
