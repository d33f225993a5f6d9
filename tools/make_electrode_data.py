"""Regenerate the electrode data files that PhantomLab ships instead of importing MNE.

Run once after an MNE upgrade (needs the ``bci`` extra, which installs MNE)::

    python tools/make_electrode_data.py

It writes

* ``src/phantomlab/protocols/data/electrode_names.csv``: the 10-05 electrode names of
  MNE's ``colin27_1005`` montage (the FieldTrip ``standard_1005`` layout), in MNE's
  order; the protocol language checks electrode names against it;
* ``src/phantomlab/fields/data/montages.csv``: name and position (m, MNE head
  coordinates) of every channel of the montages :func:`phantomlab.fields.get_cap`
  accepts, floats written with ``repr`` so that reading them back is exact.

``tests/test_packaging.py`` compares both files with MNE when MNE is installed.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import mne

ROOT = Path(__file__).resolve().parents[1] / "src" / "phantomlab"
#: The montages of phantomlab.fields.electrodes (non-deprecated MNE names only).
MONTAGES = (
    "spherical_1020",
    "spherical_1010",
    "spherical_1005",
    "colin27_1020",
    "colin27_1005",
    "fsaverage_1010",
)
NAMES_MONTAGE = "colin27_1005"


def montage_rows(montage: str) -> list[tuple[str, str, str, str, str]]:
    """Return ``(montage, name, x, y, z)`` rows of one MNE standard montage."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mne.channels.make_standard_montage(montage)
    pos = m.get_positions()["ch_pos"]
    return [(montage, n, *(repr(float(v)) for v in pos[n])) for n in pos]


def main() -> None:
    """Write both data files."""
    names = ROOT / "protocols" / "data" / "electrode_names.csv"
    with names.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name"])
        w.writerows([r[1]] for r in montage_rows(NAMES_MONTAGE))
    positions = ROOT / "fields" / "data" / "montages.csv"
    with positions.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["montage", "name", "x", "y", "z"])
        for montage in MONTAGES:
            w.writerows(montage_rows(montage))
    print(f"wrote {names} and {positions} from MNE {mne.__version__}")


if __name__ == "__main__":
    main()
