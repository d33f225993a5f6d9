"""``phantomlab field ...``: sphere tDCS, TMS, TI envelope and montage optimisation.

Positions are in mm (sphere centred at the origin, z up); outputs in SI (V, V/m).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from phantomlab.cli._common import (
    FORCE,
    check_outputs,
    emit_json,
    fail,
    lazy_module,
    read_table,
    write_csv,
)
from phantomlab.exceptions import Problem

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_module("numpy")

app = typer.Typer(help="Electric fields: sphere head model, TMS, temporal interference.")


def _floats(text: str, field: str, n: int | None = None) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(Problem(field, text, "comma-separated numbers", "", "cannot parse"))
        raise  # pragma: no cover
    if n is not None and len(vals) != n:
        fail(Problem(field, text, f"{n} comma-separated numbers", "", "wrong count"))
    if not all(np.isfinite(vals)):
        fail(Problem(field, text, "finite numbers", "", "not finite"))
    return vals


def _xyz_table(path: Path, cols: tuple[str, str, str], field: str) -> tuple[Any, np.ndarray]:
    df = read_table(path)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        fail(Problem(field, str(path), f"columns {', '.join(cols)}", "", f"missing {missing}"))
    arr = df[list(cols)].to_numpy(dtype=float)
    if not np.all(np.isfinite(arr)):
        fail(Problem(field, str(path), "finite numbers", "", "NaN or non-numeric values"))
    return df, arr


def _amperes(text: str, field: str, *, positive: bool = False) -> float:
    """Return a current such as ``"2 mA"`` in A, finite (and > 0 when ``positive``)."""
    from phantomlab._units import as_si
    from phantomlab._validation import check_finite, check_range, raise_if

    value = as_si(text, "A", field=field)
    problems = check_finite(field, value)
    if not problems and positive:
        problems = check_range(field, value * 1e3, low=0.0, low_inclusive=False, unit="mA")
    raise_if(problems)
    return value


def _roi_mm(value: float, field: str = "roi-mm") -> None:
    """Check an ROI radius in mm: positive and inside a head (<= 100 mm)."""
    from phantomlab._validation import check_range, raise_if

    raise_if(check_range(field, value, low=0.0, low_inclusive=False, high=100.0, unit="mm"))


def _model(radii_mm: str | None, sigma: str | None) -> Any:
    from phantomlab.fields import SphereModel, default_model

    if radii_mm is None and sigma is None:
        return default_model()
    if radii_mm is None or sigma is None:
        fail(Problem("radii-mm/sigma", "", "both or neither", "", "give both lists"))
    r = [v * 1e-3 for v in _floats(str(radii_mm), "radii-mm")]
    s = _floats(str(sigma), "sigma")
    return SphereModel(tuple(r), tuple(s), sources=("user",))


def _electrode(name: str | None, mm: str | None, field: str) -> Any:
    if (name is None) == (mm is None):
        fail(Problem(field, name or mm, f"exactly one of --{field} or --{field}-mm", "", ""))
    if mm is not None:
        return [v * 1e-3 for v in _floats(mm, f"{field}-mm", 3)]
    return name


@app.command("sphere")
def sphere(
    points: Path = typer.Option(..., "--points", help="CSV with x_mm,y_mm,z_mm."),
    out: Path = typer.Option(..., "-o", "--out", help="Output CSV (adds phi_V,Ex,Ey,Ez)."),
    current: str = typer.Option("1 mA", "--current", help="Current, e.g. '1mA'."),
    anode: str | None = typer.Option(None, "--anode", help="Anode electrode name (source)."),
    cathode: str | None = typer.Option(None, "--cathode", help="Cathode electrode name."),
    anode_mm: str | None = typer.Option(None, "--anode-mm", help="Anode position X,Y,Z (mm)."),
    cathode_mm: str | None = typer.Option(None, "--cathode-mm", help="Cathode X,Y,Z (mm)."),
    radii_mm: str | None = typer.Option(None, "--radii-mm", help="Shell radii, inner->outer."),
    sigma: str | None = typer.Option(None, "--sigma", help="Conductivities S/m, inner->outer."),
    cap: str = typer.Option("10-10", "--cap", help="Cap for electrode names."),
    force: bool = FORCE,
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Potential and E-field of a two-electrode montage in a concentric-sphere head."""
    from phantomlab.fields import tdcs_field

    check_outputs(force, out=out)

    model = _model(radii_mm, sigma)
    cur = _amperes(current, "current")
    a = _electrode(anode, anode_mm, "anode")
    c = _electrode(cathode, cathode_mm, "cathode")
    df, xyz = _xyz_table(points, ("x_mm", "y_mm", "z_mm"), "points")
    res = tdcs_field(a, c, cur, xyz * 1e-3, model=model, cap=cap)
    df = df.copy()
    df["phi_V"] = res.potential
    df["Ex"], df["Ey"], df["Ez"] = res.efield.T if res.efield is not None else (0, 0, 0)
    write_csv(out, df, force=force, private=False)
    info = {
        "out": str(out),
        "n_points": len(df),
        "current_A": cur,
        "radii_m": list(model.radii),
        "sigma_S_per_m": list(model.sigma),
        "max_abs_E_V_per_m": float(np.max(res.magnitude)),
    }
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"wrote {len(df)} points to {out} (max |E| {info['max_abs_E_V_per_m']:.4g} V/m)")


@app.command("tms")
def tms(
    dipoles: Path = typer.Option(..., "--dipoles", help="CSV x_mm,y_mm,z_mm,mx,my,mz (A m^2)."),
    points: Path = typer.Option(..., "--points", help="CSV with x_mm,y_mm,z_mm."),
    out: Path = typer.Option(..., "-o", "--out", help="Output CSV (adds Ex,Ey,Ez in V/m)."),
    didt: str = typer.Option(
        "1e6", "--didt", help="dI/dt in A/s (bare number) or e.g. '100 A/us'."
    ),
    force: bool = FORCE,
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """E-field of magnetic dipoles above a spherical conductor (conductivity-free)."""
    from phantomlab._units import as_si
    from phantomlab._validation import check_finite, raise_if
    from phantomlab.fields import tms_efield

    check_outputs(force, out=out)

    try:
        rate = float(didt)  # the contract's bare number means A/s
    except ValueError:
        rate = as_si(didt, "A/s", field="didt")
    raise_if(check_finite("didt", rate))
    _, dpos = _xyz_table(dipoles, ("x_mm", "y_mm", "z_mm"), "dipoles")
    _, mom = _xyz_table(dipoles, ("mx", "my", "mz"), "dipoles")
    df, xyz = _xyz_table(points, ("x_mm", "y_mm", "z_mm"), "points")
    e = tms_efield(dpos * 1e-3, mom, rate, xyz * 1e-3)
    df = df.copy()
    df["Ex"], df["Ey"], df["Ez"] = e.T
    write_csv(out, df, force=force, private=False)
    info = {
        "out": str(out),
        "n_points": len(df),
        "didt_A_per_s": rate,
        "max_abs_E_V_per_m": float(np.linalg.norm(e, axis=1).max(initial=0.0)),
    }
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"wrote {len(df)} points to {out}")


@app.command("ti-envelope")
def ti_envelope(
    e1: Path = typer.Option(..., "--e1", help="CSV with Ex,Ey,Ez of pair 1 (V/m)."),
    e2: Path = typer.Option(..., "--e2", help="CSV with Ex,Ey,Ez of pair 2 (V/m)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output CSV (adds envelope, V/m)."),
    direction: Path | None = typer.Option(
        None, "--direction", help="CSV with one direction (nx,ny,nz or x,y,z) or one per row."
    ),
    force: bool = FORCE,
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """TI envelope: maximal over directions (Grossman 2017) or along --direction."""
    from phantomlab.fields import directional_envelope, max_envelope

    check_outputs(force, out=out)

    df1, f1 = _xyz_table(e1, ("Ex", "Ey", "Ez"), "e1")
    _, f2 = _xyz_table(e2, ("Ex", "Ey", "Ez"), "e2")
    if f1.shape != f2.shape:
        fail(Problem("e2", f"{len(f2)} rows", f"{len(f1)} rows (same as --e1)", "", "mismatch"))
    if direction is None:
        env = max_envelope(f1, f2)
    else:
        dtab = read_table(direction)
        for cols in (("nx", "ny", "nz"), ("x", "y", "z"), ("Ex", "Ey", "Ez")):
            if all(c in dtab.columns for c in cols):
                n = dtab[list(cols)].to_numpy(dtype=float)
                break
        else:
            fail(Problem("direction", str(direction), "columns nx,ny,nz", "", "missing columns"))
        if len(n) not in (1, len(f1)):
            fail(Problem("direction", f"{len(n)} rows", f"1 or {len(f1)} rows", "", "mismatch"))
        env = directional_envelope(f1, f2, n[0] if len(n) == 1 else n)
    keep = [c for c in df1.columns if c not in ("Ex", "Ey", "Ez")]
    res = df1[keep].copy()
    res["envelope"] = env
    write_csv(out, res, force=force, private=False)
    if json_out:
        emit_json({"out": str(out), "n_points": len(res), "max_envelope_V_per_m": float(env.max())})
    else:
        typer.echo(f"wrote {len(res)} envelopes to {out}")


@app.command("optimize-ti")
def optimize_ti_cmd(
    target: str = typer.Option(
        ..., "--target", help="Target name (e.g. thalamus_left) or x,y,z mm."
    ),
    cap: str = typer.Option("10-20", "--cap", help="Cap: 10-20, 10-10 or an MNE montage."),
    total_current: str = typer.Option("4 mA", "--total-current", help="Sum of both pair currents."),
    roi_mm: float = typer.Option(10.0, "--roi-mm", help="ROI radius around the target (mm)."),
    spacing_mm: float = typer.Option(4.8, "--spacing-mm", help="Brain grid spacing (mm)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Exhaustive TI search (all two-pair montages x current splits), focality objective."""
    from phantomlab._validation import check_memory, check_range, raise_if
    from phantomlab.fields import default_model, get_cap, optimize_ti_for_target

    cur = _amperes(total_current, "total-current", positive=True)
    _roi_mm(roi_mm)
    raise_if(check_range("spacing-mm", spacing_mm, low=1.0, high=20.0, unit="mm"))
    # the lead field: every grid point of a 100 mm ball, 3 components per electrode
    n_points = 4.0 / 3.0 * np.pi * (100.0 / spacing_mm) ** 3
    n_bytes = 2 * 8 * 3 * n_points * len(get_cap(cap, default_model()).names)
    raise_if(check_memory("spacing-mm", spacing_mm, n_bytes, what="the lead field"))
    from phantomlab.cli._common import err_console

    with err_console.status(f"TI search over the {cap} cap (lead field, bound, exact pass) ..."):
        res = optimize_ti_for_target(
            target, cap=cap, total_current=cur, roi_radius=roi_mm * 1e-3, spacing=spacing_mm * 1e-3
        )
    if json_out:
        emit_json(res)
    else:
        typer.echo(res["summary"])


@app.command("optimize-tdcs")
def optimize_tdcs_cmd(
    target: str = typer.Option(
        ..., "--target", help="Target name (e.g. m1_hand_left) or x,y,z mm."
    ),
    cap: str = typer.Option("10-10", "--cap", help="Cap: 10-20, 10-10 or an MNE montage."),
    total_current: str = typer.Option("2 mA", "--total-current", help="Total injected current."),
    max_individual: str = typer.Option("1 mA", "--max-individual", help="Per-electrode limit."),
    direction: str | None = typer.Option(
        None, "--direction", help="Field direction x,y,z (default: the target's, inward)."
    ),
    roi_mm: float = typer.Option(5.0, "--roi-mm", help="ROI radius around the target (mm)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Linear-programming tDCS optimisation (Saturnino et al. 2019)."""
    from phantomlab.fields import optimize_tdcs_for_target

    tot = _amperes(total_current, "total-current", positive=True)
    mx = _amperes(max_individual, "max-individual", positive=True)
    _roi_mm(roi_mm)
    d = None if direction is None else _floats(direction, "direction", 3)
    from phantomlab.cli._common import err_console

    with err_console.status("tDCS linear program ..."):
        res = optimize_tdcs_for_target(
            target,
            cap=cap,
            total_current=tot,
            max_individual=mx,
            direction=d,
            roi_radius=roi_mm * 1e-3,
        )
    if json_out:
        emit_json(res)
    else:
        typer.echo(res["summary"])


@app.command("evaluate")
def evaluate_cmd(
    head: str = typer.Option("template", "--head", help="template | sphere"),
    pair: list[str] = typer.Option([], "--pair", help="TI pair 'A,B' (give twice)."),
    currents: str | None = typer.Option(
        None, "--currents", help="tDCS/HD montage 'C3=1mA,Fp2=-1mA'."
    ),
    pair_current: str = typer.Option("1 mA", "--pair-current", help="Current of each TI pair."),
    pad: str = typer.Option(
        "circular:20", "--pad", help="point | circular:D_mm | rectangular:W,H_mm"
    ),
    target: str | None = typer.Option(None, "--target", help="10-10 name or 'x,y,z' in mm."),
    level: int = typer.Option(3, "--level", help="Surface icosphere level (3 coarse, 4 fine)."),
    size_mm: float = typer.Option(10.0, "--size-mm", help="Largest tetrahedron edge, mm."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (mesh, NIfTI, figure)."),
    force: bool = FORCE,
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Evaluate a given TI or HD/tDCS montage on the template head (or a sphere) by FEM."""
    from phantomlab.exceptions import InputError
    from phantomlab.fields import default_model
    from phantomlab.fields.head import Pad, load_head, target_point
    from phantomlab.fields.head_export import evaluate_montage

    if head not in ("template", "sphere"):
        fail(Problem("head", head, "template | sphere", "", "unknown head"))
    if (len(pair) == 0) == (currents is None):
        fail(Problem("montage", "", "two --pair or one --currents", "", "give one montage"))
    if out.exists() and not force:
        fail(Problem("out", str(out), "a new folder (or --force)", "", "exists"))
    shape, _, dims = pad.partition(":")
    try:
        pad_obj = Pad(shape, tuple(v / 1e3 for v in _floats(dims, "pad")) if dims else ())
        h = load_head("template" if head == "template" else default_model(), level=level,
                      size=size_mm / 1e3)  # fmt: skip
        tgt = None
        if target is not None:
            tgt = target_point(h, target if "," not in target else _floats(target, "target", 3))
        if currents is not None:
            cur = {}
            for item in currents.split(","):
                name, _, val = item.partition("=")
                cur[name.strip()] = _amperes(val, "currents")
            ev = evaluate_montage(h, currents=cur, pad=pad_obj, target=tgt)
        else:
            if len(pair) != 2:
                fail(Problem("pair", pair, "exactly two --pair A,B", "", "TI needs two pairs"))
            pairs = [tuple(p.split(",")) for p in pair]
            i = _amperes(pair_current, "pair-current", positive=True)
            ev = evaluate_montage(h, pairs=pairs, pair_currents=(i, i), pad=pad_obj, target=tgt)  # type: ignore[arg-type]
    except InputError as exc:
        fail(exc.problems)
        raise  # pragma: no cover
    out.mkdir(parents=True, exist_ok=True)
    files = {"mesh": str(ev.to_mesh(out / "field.vtu"))}
    try:
        files["nifti"] = str(ev.to_nifti(out / "field.nii.gz"))
    except Exception as exc:
        typer.echo(f"NIfTI not written: {exc}", err=True)
    fig = ev.plot()
    fig.savefig(out / "field.png", dpi=120)
    files["figure"] = str(out / "field.png")
    stats = ev.stats()
    if json_out:
        emit_json({"kind": ev.kind, "stats": stats, "files": files})
    else:
        typer.echo(f"{ev.kind}: " + ", ".join(f"{k}={v:.4g}" for k, v in stats.items()))
        typer.echo("wrote " + ", ".join(files.values()))
