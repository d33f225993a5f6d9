"""Device grids, delivered settings, report corrections and the history plot (#16 point 6)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import InputError
from phantomlab.optimize import OptimizationSession, ProtocolSafety, default_space
from phantomlab.optimize.devices import (
    apply_device,
    device_names,
    load_device,
    snap_inward,
)
from phantomlab.optimize.history import history_panels
from phantomlab.optimize.space import Real
from phantomlab.optimize.storage import SessionStore

SCS = apply_device(default_space("scs"), load_device("scs-generic"))
DRG = apply_device(default_space("drg"), load_device("axium-drg"))
SAFETY = ProtocolSafety()


def _steps_ok(p: Real, value: float, step_si: float) -> bool:
    """Independent check: ``value`` is an integer multiple of ``step_si``."""
    k = value / step_si
    return abs(k - round(k)) < 1e-6


def test_packaged_profiles_load_with_sources() -> None:
    assert {"scs-generic", "axium-drg"} <= set(device_names())
    drg = load_device("axium-drg")
    amp = drg.grids["amplitude"]
    # MN0700 manual p. 20: 25 uA steps to 2000 uA, then 50 uA to 6000 uA
    assert amp.values[:3] == (0.0, 25.0, 50.0) and amp.values[-1] == 6000.0
    assert 2025.0 not in amp.values and 2050.0 in amp.values
    assert "MN0700" in amp.source
    scs = load_device("scs-generic")
    assert all(g.source.startswith("assumed") for g in scs.grids.values())
    assert scs.contact_sets[0] == "0-1" and scs.electrodes == 8


def test_unknown_and_mismatched_devices_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown device profile"):
        load_device("no-such-device")
    with pytest.raises(InputError, match="profile is for drg"):
        apply_device(default_space("scs"), load_device("axium-drg"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nparameters:\n  amplitude: {unit: mA, ranges: [{low: 1, high: 0, step: 0.1}]}\n"
    )
    with pytest.raises(InputError, match="bad range"):
        load_device(str(bad))


def test_user_profile_file_restricts_the_grid(tmp_path: Path) -> None:
    f = tmp_path / "dev.yaml"
    f.write_text(
        "name: coarse\nmodality: scs\nparameters:\n"
        "  amplitude: {unit: mA, ranges: [{low: 0, high: 10, step: 0.5}],\n"
        "              source: 'assumed: test'}\n"
        "  frequency: {unit: Hz, values: [40, 60, 1000]}\n"
        "contacts: {electrodes: 8, sets: [2-3, 3-4]}\n"
    )
    sp = apply_device(default_space("scs"), load_device(str(f)))
    amp = sp.parameter("amplitude")
    assert isinstance(amp, Real) and amp.grid[0] == pytest.approx(0.5e-3)
    assert sp.parameter("contacts").choices == ("2-3", "3-4")  # type: ignore[union-attr]
    cols = sp.decode_columns(np.random.default_rng(0).random((200, sp.n_encoded)))
    assert set(np.round(cols["frequency"], 9)) <= {40.0, 60.0, 1000.0}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_every_candidate_is_on_the_grid(u: list[float]) -> None:
    for sp, steps in (
        (SCS, {"amplitude": 1e-4, "pulse_width": 1e-5}),
        (DRG, {"pulse_width": 1e-5}),
    ):
        X = np.asarray(u)[None, : sp.n_encoded]
        X = np.hstack([X, np.zeros((1, sp.n_encoded - X.shape[1]))])
        pt = sp.columns_to_points(sp.decode_columns(sp.snap(X)))[0]
        assert sp.off_grid(pt) == []
        for name, step in steps.items():
            assert _steps_ok(sp.parameter(name), pt[name], step)  # type: ignore[arg-type]
        assert sp.validate(pt) == pt


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    amp=st.floats(0.5e-3, 8e-3),
    pw=st.floats(100e-6, 800e-6),
    freq=st.floats(20.0, 1200.0),
    bipole=st.integers(0, 6),
)
def test_snap_inward_is_on_the_grid_safe_and_never_stronger(
    amp: float, pw: float, freq: float, bipole: int
) -> None:
    point = {"contacts": f"{bipole}-{bipole + 1}", "amplitude": amp, "pulse_width": pw,
             "frequency": freq}  # fmt: skip

    def ok(pt: dict[str, object]) -> bool:
        return not SAFETY.violations(SCS, pt)

    snapped = snap_inward(SCS, point, ok)  # no side-effect model: inward only
    if snapped is None:  # no grid neighbour passes: only when the point itself is unsafe
        assert not ok(
            SCS.snap_point({**point, "amplitude": SCS.parameter("amplitude").neighbours(amp)[0]})
        )  # type: ignore[union-attr]
        return
    assert SCS.off_grid(snapped) == [] and ok(snapped)
    assert snapped["amplitude"] <= amp * (1 + 1e-12)
    assert snapped["pulse_width"] <= pw * (1 + 1e-12)
    # and it is a neighbour: within one step
    assert amp - snapped["amplitude"] < 1e-4 + 1e-12
    assert abs(snapped["frequency"] - freq) <= 10.0 + 1e-9


def test_session_suggestions_are_on_the_grid_and_safe(tmp_path: Path) -> None:
    """Twelve visits with reports from a monotone toy patient: every suggestion programmable."""
    s = OptimizationSession.new(
        "g1", "scs", db=tmp_path / "g.sqlite", baseline_nrs=7.0,
        safe_seed={"amplitude": "1.4 mA"}, perception_threshold={"*": "1.2 mA"},
    )  # fmt: skip
    for _ in range(12):
        rec, _ = s.suggest()
        assert s.space.off_grid(rec.params) == [], rec.params
        assert ProtocolSafety().violations(s.space, rec.params) == []
        a = rec.params["amplitude"] * 1e3
        assert abs(a * 10 - round(a * 10)) < 1e-6  # 0.1 mA steps, independently
        for v in rec.info["protocol"].values():  # never "1.54217 mA"
            assert len(str(v)) < 20
        s.record(float(np.clip(round(7 - a), 0, 10)), float(np.clip(round(2 * (a - 1)), 0, 10)),
                 suggestion=rec.token)  # fmt: skip
    st_ = s.status()
    assert "mA" in st_.summary() and "µs" in st_.summary() and "0.00" not in st_.summary()


def test_off_grid_start_is_refused_with_the_nearest_values(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"start.amplitude.*1.5 mA or 1.6 mA"):
        OptimizationSession.new(
            "x", "scs", db=tmp_path / "x.sqlite", safe_seed={"amplitude": "1.54217 mA"}
        )
    # without a device grid the same start is accepted
    s = OptimizationSession.new(
        "y", "scs", db=tmp_path / "x.sqlite", safe_seed={"amplitude": "1.54217 mA"}, device="none"
    )
    assert s.space.parameter("amplitude").grid == ()  # type: ignore[union-attr]


def test_delivered_settings_are_validated_and_feed_the_model(tmp_path: Path) -> None:
    s = OptimizationSession.new("d1", "scs", db=tmp_path / "d.sqlite", baseline_nrs=7.0,
                                safe_seed={"amplitude": "1.5 mA"})  # fmt: skip
    rec, _ = s.suggest()
    with pytest.raises(InputError, match="delivered.amplitude.*nearest: 1.5 mA or 1.6 mA"):
        s.record(5, 1, suggestion=rec.token, delivered={"amplitude": "1.55 mA"})
    # 8 mA x 800 us on 12 mm^2 exceeds Shannon's k = 1.85: refused as unsafe
    with pytest.raises(InputError, match="fails the safety check"):
        s.record(
            5, 1, suggestion=rec.token, delivered={"amplitude": "8 mA", "pulse_width": "800 us"}
        )
    with pytest.raises(InputError, match="delivered.contacts"):
        s.record(5, 1, suggestion=rec.token, delivered={"contacts": "9-10"})
    assert s.status().history[0].pending  # nothing stored by the refusals
    done, applied = s.record(5, 1, suggestion=rec.token, delivered={"amplitude": "1.3 mA"})
    assert applied and done.tested["amplitude"] == pytest.approx(1.3e-3)
    assert done.params["amplitude"] == pytest.approx(1.5e-3)  # the suggestion is kept
    # the same record again (a retry) is recognised; another delivered value is refused
    _, again = s.record(5, 1, suggestion=rec.token, delivered={"amplitude": "1.3 mA"})
    assert not again
    with pytest.raises(InputError, match="already recorded"):
        s.record(5, 1, suggestion=rec.token, delivered={"amplitude": "1.4 mA"})
    policy = s.policy()
    assert policy.core.points_[0]["amplitude"] == pytest.approx(1.3e-3)  # type: ignore[attr-defined]
    df = s.status().to_frame()
    assert bool(df["delivered"].iloc[0]) and df["amplitude_mA"].iloc[0] == pytest.approx(1.3)


def test_corrections_are_new_rows_and_the_model_uses_the_latest(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    s = OptimizationSession.new(
        "c1", "scs", db=db, baseline_nrs=7.0, safe_seed={"amplitude": "1.5 mA"}
    )
    rec, _ = s.suggest()
    s.record(2, 1, suggestion=rec.token, note="typed fast")
    with pytest.raises(InputError, match="reason"):
        s.correct(rec.token, reason=" ", nrs=7)
    fixed, applied = s.correct(rec.token, reason="patient said 7, typed 2", nrs=7)
    assert applied
    o = fixed.observation
    assert o is not None and o.nrs == 2 and o.current.nrs == 7 and o.current.side_effect == 1
    assert o.current.note == "typed fast"  # fields not given are kept
    _, again = s.correct(rec.token, reason="patient said 7, typed 2", nrs=7)
    assert not again  # a retry of the same correction is not stored twice
    fixed2, _ = s.correct(
        rec.token, reason="amplitude was lowered", delivered={"amplitude": "1.4 mA"}
    )
    assert fixed2.observation is not None and len(fixed2.observation.corrections) == 2
    assert fixed2.tested["amplitude"] == pytest.approx(1.4e-3)
    pol = OptimizationSession.open("c1", db).policy()
    assert pol.core.y_[0] == pytest.approx(0.0)  # type: ignore[attr-defined]  # relief 7 - 7
    assert pol.core.points_[0]["amplitude"] == pytest.approx(1.4e-3)  # type: ignore[attr-defined]
    assert s.status().to_frame()["corrections"].iloc[0] == 2
    # nothing is edited: the rows are all there and SQLite refuses UPDATE/DELETE
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from optimize_corrections").fetchone()[0] == 2
    assert con.execute("select nrs from optimize_observations").fetchone()[0] == 2.0
    for sql in ("update optimize_corrections set nrs = 0", "delete from optimize_corrections"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()
    pending, _ = s.suggest()
    with pytest.raises(InputError, match="no report yet"):
        s.correct(pending.token, reason="x", nrs=3)


def test_database_from_before_delivered_settings_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        """
        CREATE TABLE optimize_sessions (id INTEGER PRIMARY KEY,
            patient VARCHAR(200) UNIQUE NOT NULL, modality VARCHAR(32) NOT NULL,
            created_at VARCHAR(40) NOT NULL, config TEXT NOT NULL);
        CREATE TABLE optimize_suggestions (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL,
            seq INTEGER NOT NULL, created_at VARCHAR(40) NOT NULL, params TEXT NOT NULL,
            info TEXT NOT NULL);
        CREATE TABLE optimize_observations (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL,
            suggestion_id INTEGER UNIQUE NOT NULL, created_at VARCHAR(40) NOT NULL,
            nrs FLOAT NOT NULL, side_effect FLOAT, note TEXT NOT NULL);
        """
    )
    con.close()
    SessionStore(db)
    cols = {r[1] for r in sqlite3.connect(db).execute("pragma table_info(optimize_observations)")}
    assert "delivered" in cols


def test_drg_session_is_on_the_axium_grid(tmp_path: Path) -> None:
    s = OptimizationSession.new("r1", "drg", db=tmp_path / "r.sqlite", baseline_nrs=6.0)
    assert s.config.device == "axium-drg"
    for _ in range(4):
        rec, _ = s.suggest()
        ua = rec.params["amplitude"] * 1e6
        assert abs(ua / 25 - round(ua / 25)) < 1e-6  # 25 uA steps below 2 mA (MN0700 p. 20)
        f = rec.params["frequency"]
        assert abs(f / 2 - round(f / 2)) < 1e-9  # 2 Hz steps
        s.record(4, 0, suggestion=rec.token)


def test_history_plot_has_report_and_parameter_panels(tmp_path: Path) -> None:
    s = OptimizationSession.new("h1", "scs", db=tmp_path / "h.sqlite", baseline_nrs=7.0,
                                safe_seed={"amplitude": "1.5 mA"})  # fmt: skip
    for nrs in (6, 5):
        rec, _ = s.suggest()
        s.record(nrs, 1, suggestion=rec.token, delivered={"amplitude": "1.4 mA"})
    s.correct(rec.token, reason="typo", nrs=4)
    st_ = s.status()
    assert history_panels(st_.space) == [
        "nrs",
        "side_effect",
        "amplitude",
        "pulse_width",
        "frequency",
    ]
    fig = st_.plot(path=tmp_path / "h.svg")
    assert len(fig.axes) == 5
    assert (
        fig.axes[2].get_ylabel() == "amplitude (mA)"
        and fig.axes[3].get_ylabel() == "pulse_width (µs)"
    )
    delivered = fig.axes[2].lines[1].get_ydata()
    assert list(np.round(delivered, 6)) == [1.4, 1.4]
    text = (tmp_path / "h.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_bound_store_writes_inside_the_callers_transaction(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite"
    s = OptimizationSession.new("b1", "scs", db=db, safe_seed={"amplitude": "1.5 mA"})
    rec, _ = s.suggest()
    engine = s.store.engine
    with engine.connect() as conn:
        trans = conn.begin()
        store = SessionStore.bound(conn)
        sid = store.get_session("b1").id
        store.record(sid, rec.token, 5.0, 1.0)
        assert store.history(sid)[0].observation is not None  # visible inside
        trans.rollback()  # the caller's rollback takes the record with it
    assert SessionStore(db).history(sid)[0].pending


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    modality=st.sampled_from(["scs", "drg"]),
    reports=st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), min_size=5, max_size=5),
)
def test_property_every_session_suggestion_is_on_the_grid_and_safe(
    tmp_path_factory: pytest.TempPathFactory, modality: str, reports: list[tuple[int, int]]
) -> None:
    db = tmp_path_factory.mktemp("prop") / "p.sqlite"
    s = OptimizationSession.new("q", modality, db=db, baseline_nrs=7.0)
    for nrs, side in reports:
        rec, _ = s.suggest()
        assert s.space.off_grid(rec.params) == [], rec.params
        assert SAFETY.violations(s.space, rec.params) == []
        s.record(nrs, side, suggestion=rec.token)


def test_ablation_without_a_device_grid_suggestions_are_off_grid(tmp_path: Path) -> None:
    """The grid is what puts suggestions on programmable values: without it they are not."""
    s = OptimizationSession.new("n1", "scs", db=tmp_path / "n.sqlite", baseline_nrs=7.0,
                                safe_seed={"amplitude": "1.4 mA"}, device="none",
                                perception_threshold={"*": "1.2 mA"})  # fmt: skip
    off = 0
    for _ in range(6):
        rec, _ = s.suggest()
        off += bool(SCS.off_grid(rec.params))
        a = rec.params["amplitude"] * 1e3
        s.record(float(np.clip(round(7 - a), 0, 10)), float(np.clip(round(2 * (a - 1)), 0, 10)),
                 suggestion=rec.token)  # fmt: skip
    assert off >= 3


def test_snap_inward_takes_a_stronger_neighbour_only_when_believed_safe() -> None:
    point = {"contacts": "3-4", "amplitude": 1.66e-3, "pulse_width": 200e-6, "frequency": 50.0}
    inward = snap_inward(SCS, point, lambda _: True)
    assert inward is not None and inward["amplitude"] == pytest.approx(1.6e-3)
    nearest = snap_inward(SCS, point, lambda _: True, believed_safe=lambda _: True)
    assert nearest is not None and nearest["amplitude"] == pytest.approx(1.7e-3)
    assert snap_inward(SCS, point, lambda _: False) is None


def test_a_session_stored_before_device_grids_gets_the_default_grid() -> None:
    from phantomlab.optimize import SessionConfig

    old = SessionConfig.from_dict({"modality": "scs", "safe_seed": {"amplitude": 1.54217e-3}})
    sp = old.space()
    assert old.device_name() == "scs-generic" and sp.off_grid(sp.safe_seed) == []
    assert sp.safe_seed["amplitude"] == pytest.approx(1.5e-3)  # inward: not 1.6 mA


def test_shared_safety_verdicts_equal_a_fresh_check() -> None:
    from phantomlab.protocols import check_protocol, load_protocol

    rng = np.random.default_rng(3)
    pts = SCS.columns_to_points(SCS.decode_columns(rng.random((40, SCS.n_encoded))))
    pts += pts[:10]  # repeats come from the cache
    for pt in pts:
        cached = [p.message for p in ProtocolSafety().violations(SCS, pt)]
        fresh = check_protocol(load_protocol(SCS.protocol_fields(pt)), require_complete=True)
        assert cached == [p.message for p in fresh.blocking_problems()]


def test_a_correction_of_one_setting_keeps_the_other_delivered_ones(tmp_path: Path) -> None:
    s = OptimizationSession.new("k1", "scs", db=tmp_path / "k.sqlite", baseline_nrs=7.0,
                                safe_seed={"amplitude": "1.5 mA"})  # fmt: skip
    rec, _ = s.suggest()
    s.record(5, 1, suggestion=rec, delivered={"amplitude": "1.4 mA"})
    fixed, _ = s.correct(rec, reason="pulse width was 210 us", delivered={"pulse_width": "210 us"})
    assert fixed.tested["amplitude"] == pytest.approx(1.4e-3)
    assert fixed.tested["pulse_width"] == pytest.approx(210e-6)
