"""docs/clinic.md: its screenshots exist and are small, its commands are real commands."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "clinic.md"


def test_screenshots_exist_and_stay_small() -> None:
    text = DOC.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\((img/[^)]+)\)", text)
    assert len(images) >= 7
    for rel in images:
        path = DOC.parent / rel
        assert path.is_file() and 0 < path.stat().st_size < 200_000, rel


def test_every_phantomlab_command_in_the_doc_exists(cli) -> None:
    text = DOC.read_text(encoding="utf-8")
    commands = set(re.findall(r"phantomlab (serve|(?:admin|audit) [a-z-]+)\b", text))
    assert {"serve", "admin create-center", "admin create-user", "audit verify"} <= commands
    for command in sorted(commands):
        res = cli(*command.split(), "--help")
        assert res.returncode == 0, (command, res)


def test_nginx_example_proxies_to_the_default_serve_address() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "proxy_pass http://127.0.0.1:8000;" in text
    assert "phantomlab serve --host 127.0.0.1 --port 8000" in text
    assert "PHANTOMLAB_CLINIC_COOKIE_SECURE=1" in text
