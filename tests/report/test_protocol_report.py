"""``phantomlab protocol report --html``: the printable protocol report (issue #16)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import yaml

from phantomlab.protocols import check_protocol, load_protocol, safety_rules
from phantomlab.report import dose_card

ISSUE = {
    "modality": "rtms",
    "name": "issue 16 <b>bold</b> & co",
    "target": "M1 <script>alert(1)</script>",
    "frequency": "25 Hz",
    "intensity": "130 %MT",
    "trains": 40,
    "train_duration": "10 s",
    "inter_train_interval": "2 s",
}


class _Cells(HTMLParser):
    """Text of every table cell, per row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


def test_report_lists_every_rule_with_status_and_source(parse_report) -> None:
    p = load_protocol(ISSUE)
    html = dose_card(p).html
    parse_report(html)
    cells = _Cells()
    cells.feed(html)
    rule_rows = {r[1]: r for r in cells.rows if len(r) == 8 and r[0] != "status"}
    concerned = {r.id: r for r in safety_rules() if "rtms" in r.modalities or "*" in r.modalities}
    assert set(rule_rows) == set(concerned)
    check = {o.rule: o for o in check_protocol(p, require_complete=False).rules}
    for rule, row in rule_rows.items():
        assert row[0] == check[rule].status
        assert row[7] == concerned[rule].citation
    assert rule_rows["rtms_train_rossi2009"][0] == "not assessable"
    assert "NOT ASSESSABLE" in html and "Not a clinical recommendation" in html
    # parameters in clinical units, and the dose card
    params = {r[0]: r[1] for r in cells.rows if len(r) == 2}
    assert params["frequency"] == "25 Hz" and params["intensity"] == "130 %MT"
    assert params["train_duration"] == "10 s"
    assert "Reporting checklist" in html and "pulses per session" in html


def test_report_escapes_user_text(parse_report) -> None:
    html = dose_card(load_protocol(ISSUE)).html
    parser = parse_report(html)  # no <script> tag: the check would fail
    assert "script" not in parser.tags and "b" not in parser.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html


def test_cli_html_to_file_atomic_and_force(cli, tmp_path: Path, parse_report) -> None:
    f = _write(tmp_path, ISSUE)
    out = tmp_path / "report.html"
    r = cli("protocol", "report", str(f), "--html", "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    parse_report(text)
    assert "rtms_train_rossi2009" in text
    # an existing file is kept unless --force
    out.write_text("keep me")
    r = cli("protocol", "report", str(f), "--html", "-o", str(out))
    assert r.returncode == 2 and "--force" in r.stderr and "Traceback" not in r.stderr
    assert out.read_text() == "keep me"
    r = cli("protocol", "report", str(f), "--html", "-o", str(out), "--force")
    assert r.returncode == 0 and out.read_text(encoding="utf-8") == text
    assert not list(tmp_path.glob(".*tmp*")) and sorted(p.name for p in tmp_path.iterdir()) == [
        "p.yaml",
        "report.html",
    ]


def test_cli_html_to_stdout_and_bad_options(cli, tmp_path: Path, parse_report) -> None:
    f = _write(tmp_path, ISSUE)
    r = cli("protocol", "report", str(f), "--html")
    assert r.returncode == 0
    parse_report(r.stdout)
    for args, field in (
        (("-o", str(tmp_path / "x.html")), "--out"),
        (("--html", "-o", str(tmp_path / "x.txt")), "--out"),
        (("--html", "--json"), "--json"),
        (("--partial",), "--partial"),
    ):
        r = cli("protocol", "report", str(f), *args)
        assert r.returncode == 2 and f"error: {field}" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    # the checklist without --html is unchanged
    r = cli("protocol", "report", str(f))
    assert r.returncode == 0 and "parameters missing" in r.stdout


def test_html_verdict_matches_protocol_check(cli, tmp_path: Path) -> None:
    # a protocol missing what it needs to be delivered: invalid, as `protocol check` says
    f = _write(tmp_path, {"modality": "tdcs", "current": "2 mA"})
    assert cli("protocol", "check", str(f)).returncode == 2
    r = cli("protocol", "report", str(f), "--html")
    assert r.returncode == 0 and "INVALID" in r.stdout and "duration" in r.stdout
    r = cli("protocol", "report", str(f), "--html", "--partial")
    assert "INVALID" not in r.stdout
