"""Shared helpers of the report tests: HTML checks and an in-process CLI runner."""

from __future__ import annotations

from html.parser import HTMLParser

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


@pytest.fixture
def run(cli):
    """Run ``phantomlab report ...`` in-process (see the root conftest's ``cli``)."""
    return lambda *args, cwd=None: cli("report", *args, cwd=cwd)
