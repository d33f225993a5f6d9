"""Atomic outputs, explicit overwrite, private modes, CSV formula escaping, user data folder."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from phantomlab._io import (
    atomic_write,
    check_output,
    escape_csv_frame,
    frame_csv_bytes,
    private_file,
    user_data_dir,
)
from phantomlab.exceptions import InputError


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_write_keeps_existing_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    atomic_write(out, "first\n")
    with pytest.raises(InputError, match="exists; kept") as err:
        atomic_write(out, "second\n")
    assert "--force" in str(err.value)
    assert out.read_text() == "first\n"
    atomic_write(out, b"second\n", overwrite=True)
    assert out.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # no temporary left over


def test_atomic_write_callback_sees_the_suffix_and_failure_leaves_nothing(tmp_path: Path) -> None:
    seen: list[Path] = []

    def writer(p: Path) -> None:
        seen.append(p)
        p.write_text("x")

    out = atomic_write(tmp_path / "fig-epo.fif", writer)
    assert seen[0].name.endswith("fig-epo.fif") and seen[0].parent == tmp_path
    assert out.read_text() == "x"

    def broken(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "b.csv", broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig-epo.fif"]


def test_modes_private_and_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert _mode(atomic_write(tmp_path / "pub.txt", "x")) == 0o644
        assert _mode(atomic_write(tmp_path / "priv.txt", "x", private=True)) == 0o600
        assert _mode(private_file(tmp_path / "db.sqlite")) == 0o600
    finally:
        os.umask(old)


def test_check_output_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder not found"):
        check_output(tmp_path / "nope" / "x.csv")
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path, overwrite=True)
    assert check_output(tmp_path / "new.csv") == tmp_path / "new.csv"


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from phantomlab._io import atomic_write

    def slow(p):
        with open(p, "w") as fh:
            fh.write("row\\n" * 1000)
            fh.flush()
            print("HALF", flush=True)
            sys.stdin.readline()  # killed here, half written
            fh.write("end\\n")

    atomic_write(Path(sys.argv[1]), slow, overwrite=True)
    """
)


def test_killed_writer_leaves_no_truncated_file(tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    out.write_text("old complete content\n")
    p = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "HALF"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert out.read_text() == "old complete content\n"  # the final path is untouched
    # ablation: a plain write (what the CLI did before) leaves the truncated file there
    plain = WRITER.replace(
        "atomic_write(Path(sys.argv[1]), slow, overwrite=True)", "slow(Path(sys.argv[1]))"
    )
    q = subprocess.Popen(
        [sys.executable, "-c", plain, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert q.stdout is not None and q.stdout.readline().strip() == "HALF"
    time.sleep(0.05)
    q.send_signal(signal.SIGKILL)
    q.wait()
    assert out.read_text().startswith("row\n") and not out.read_text().endswith("end\n")


def test_csv_formula_cells_are_escaped_numbers_are_not() -> None:
    df = pd.DataFrame(
        {
            "label": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok"],
            "value": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    esc = escape_csv_frame(df)
    assert list(esc["label"]) == [
        "'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok"
    ]  # fmt: skip
    assert list(esc["value"]) == list(df["value"])  # a negative number stays a number
    text = frame_csv_bytes(df.rename(columns={"label": "=cmd"})).decode()
    assert text.splitlines()[0] == "'=cmd,value"
    assert "\n-1.5" not in text and ",-1.5" in text


def test_user_data_dir_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOMLAB_DATA_DIR", str(tmp_path / "data"))
    d = user_data_dir(create=True)
    assert d == tmp_path / "data" and d.is_dir()
    monkeypatch.delenv("PHANTOMLAB_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert user_data_dir() == tmp_path / "xdg" / "phantomlab"
    import phantomlab

    assert Path(phantomlab.__file__).parent not in user_data_dir().parents


SECRET = "SECRETPATIENT Jane Doe 1970-01-01 NRS 7"


@pytest.mark.parametrize(
    "args",
    [
        ["protocol", "check", "{f}"],
        ["meta", "rma", "{f}"],
        ["optimize", "rank", "--features", "{f}"],
        ["trial", "cohort", "--spec", "{f}"],
        ["trial", "replicate", "{f}"],
        ["trial", "randomize", "{f}", "--seed", "1", "-o", "{d}/o.csv"],
        ["trial", "calibration", "--file", "{f}"],
        ["report", "dose", "{f}", "-o", "{d}/r.html"],
    ],
)
@pytest.mark.parametrize("content", [f"{SECRET}\nmore {SECRET}\n", f"a: {SECRET}: b: [\n"])
def test_errors_never_echo_file_contents(cli, tmp_path: Path, args: list[str], content: str):
    f = tmp_path / "input.yaml"
    f.write_text(content)
    r = cli(*[a.replace("{f}", str(f)).replace("{d}", str(tmp_path)) for a in args])
    assert r.returncode == 2, r.stderr
    text = r.stderr + r.stdout
    assert "SECRET" not in text and "Jane" not in text, r.stderr


def test_cli_export_is_private_kept_without_force_and_atomic(cli, tmp_path: Path):
    """A per-patient CSV export: 0600, an existing file kept (exit 2) unless --force."""
    out = tmp_path / "cohort.csv"
    old = os.umask(0o022)
    try:
        r = cli("trial", "cohort", "--n", "20", "--seed", "1", "--csv", str(out))
        assert r.returncode == 0, r.stderr
        assert _mode(out) == 0o600
        first = out.read_bytes()
        r = cli("trial", "cohort", "--n", "30", "--seed", "2", "--csv", str(out))
        assert r.returncode == 2 and "exists; kept" in r.stderr and "--force" in r.stderr
        assert out.read_bytes() == first
        r = cli("trial", "cohort", "--n", "30", "--seed", "2", "--csv", str(out), "--force")
        assert r.returncode == 0, r.stderr
        assert len(pd.read_csv(out)) == 30 and _mode(out) == 0o600
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]  # no temporaries
