"""A minimal EDF+ writer for tests (EDF+ specification, Kemp & Olivan 2003)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray


def _f(value: object, width: int) -> bytes:
    return str(value).ljust(width)[:width].encode("ascii")


def write_edf(
    path: Path,
    data: NDArray[np.float64],
    sfreq: int,
    ch_names: list[str],
    onsets: list[float],
    labels: list[str],
) -> None:
    """Write ``data`` (n_channels, n_times; volts) with annotations as EDF+C, 1-s records."""
    n_ch, n_t = data.shape
    n_rec = n_t // sfreq
    data = data[:, : n_rec * sfreq] * 1e6  # microvolts
    phys = float(np.abs(data).max()) * 1.01
    tal0 = b"".join(
        b"+%s\x15%s\x14%s\x14\x00" % (f"{o:.3f}".encode(), b"0", lab.encode())
        for o, lab in zip(onsets, labels, strict=True)
    )
    ann_bytes = 2 * ((len(tal0) + 64) // 2 + 1)
    ns = n_ch + 1
    hdr = b"".join(
        [
            _f("0", 8),
            _f("X X X X", 80),
            _f("Startdate 01-JAN-2020 X X X", 80),
            _f("01.01.20", 8),
            _f("00.00.00", 8),
            _f(256 * (ns + 1), 8),
            _f("EDF+C", 44),
            _f(n_rec, 8),
            _f(1, 8),
            _f(ns, 4),
        ]
    )
    names = [*ch_names, "EDF Annotations"]
    sig = b"".join(_f(n, 16) for n in names)
    sig += b"".join(_f("AgAgCl", 80) for _ in ch_names) + _f("", 80)
    sig += b"".join(_f("uV", 8) for _ in ch_names) + _f("", 8)
    sig += b"".join(_f(f"{-phys:.2f}", 8) for _ in ch_names) + _f(-1, 8)
    sig += b"".join(_f(f"{phys:.2f}", 8) for _ in ch_names) + _f(1, 8)
    sig += b"".join(_f(-32768, 8) for _ in names)
    sig += b"".join(_f(32767, 8) for _ in names)
    sig += b"".join(_f("", 80) for _ in names)
    sig += b"".join(_f(sfreq, 8) for _ in ch_names) + _f(ann_bytes // 2, 8)
    sig += b"".join(_f("", 32) for _ in names)
    dig = np.round((data + phys) / (2 * phys) * 65535 - 32768).astype("<i2")
    body = []
    for r in range(n_rec):
        body.append(dig[:, r * sfreq : (r + 1) * sfreq].tobytes())
        tal = b"+%d\x14\x14\x00" % r + (tal0 if r == 0 else b"")
        body.append(tal.ljust(ann_bytes, b"\x00"))
    path.write_bytes(hdr + sig + b"".join(body))
