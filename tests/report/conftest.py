"""Shared helpers of the report tests: HTML checks and an in-process CLI runner."""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import pytest


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]


def _parse_report(text: str) -> _Links:
    """Parse a report; assert it is one HTML document that fetches nothing."""
    parser = _Links()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert parser.tags.count("html") == 1 and parser.tags.count("body") == 1
    assert "script" not in parser.tags and "link" not in parser.tags
    assert all(v.startswith("data:") for v in parser.links), parser.links
    return parser


@pytest.fixture
def parse_report():
    """The report checker: parse, one document, nothing fetched; returns the parser."""
    return _parse_report


class _Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch, capsys):
    """Run ``phantomlab report ...`` in-process through ``main()`` (exit codes included)."""
    from phantomlab.cli import main

    def _run(*args: str, cwd: Path | None = None) -> _Result:
        monkeypatch.setattr(sys, "argv", ["phantomlab", "report", *args])
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return _Result(code, out.out, out.err)

    return _run
