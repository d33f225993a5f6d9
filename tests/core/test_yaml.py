"""The one YAML/JSON input loader: duplicate keys, alias bombs, depth, size, encoding."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from phantomlab._yaml import MAX_BYTES, load_file, load_text, read_text
from phantomlab.exceptions import InputError, ProtocolError

# The 9-level "billion laughs": 9**9 = 387,420,489 strings once expanded, ~340 bytes.
BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _problem(exc: pytest.ExceptionInfo[InputError]) -> str:
    assert len(exc.value.problems) == 1
    return exc.value.problems[0].line()


def test_plain_yaml_and_merge_keys_load() -> None:
    assert load_text("a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}
    # an explicit key may override a merged one: that is not a duplicate
    data = load_text("base: &b {x: 1, y: 2}\nd: {<<: *b, x: 3}\n")
    assert data["d"] == {"x": 3, "y": 2}


def test_duplicate_key_is_an_error_naming_both_lines() -> None:
    text = "modality: tdcs\ncurrent: 9 mA\nduration: 20 min\ncurrent: 2 mA\n"
    with pytest.raises(InputError) as exc:
        load_text(text, field="protocol")
    line = _problem(exc)
    assert "duplicate key" in line and "'current'" in line
    assert "line 2" in line and "line 4" in line


def test_duplicate_key_in_nested_mapping_and_json() -> None:
    with pytest.raises(InputError, match="line 3"):
        load_text("arms:\n  a: {n: 1}\n  a: {n: 2}\n")
    with pytest.raises(InputError, match="duplicate key"):
        load_text('{"n": 260, "n": 38}')  # JSON text is YAML: same loader


def test_duplicate_key_in_json_file(tmp_path: Path) -> None:
    f = tmp_path / "design.json"
    f.write_text('{"n_per_arm": 130, "n_per_arm": 19}')
    with pytest.raises(InputError, match="duplicate key"):
        load_file(f, field="design")


def test_alias_bomb_fails_fast_and_small() -> None:
    assert len(BOMB) < 400
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(InputError) as exc:
        load_text(BOMB)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "alias" in _problem(exc)
    assert elapsed < 2.0
    assert peak < 20e6  # bytes


def test_small_aliases_are_allowed_but_recursion_is_not() -> None:
    assert load_text("x: &v [1, 2]\ny: *v\n") == {"x": [1, 2], "y": [1, 2]}
    with pytest.raises(InputError, match="recursive"):
        load_text("x: &x [*x]\n")


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 70 + "1\n", "{a: " * 70 + "1" + "}" * 70])
def test_deep_nesting_is_refused_before_building(text: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="too deep"):
        load_text(text)
    assert time.perf_counter() - t0 < 5.0


def test_deep_json_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "deep.json"
    f.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(InputError, match="too deep"):
        load_file(f)


def test_binary_file_is_one_clear_error_without_content(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_bytes(b"modality: tdcs\n\xff\xfe\x00SECRET\x89PNG")
    with pytest.raises(InputError) as exc:
        load_file(f, field="protocol")
    line = _problem(exc)
    assert "UTF-8" in line and "offset 15" in line
    assert "SECRET" not in line and "modality" not in line


def test_nul_bytes_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_bytes(b"a: 1\x00\x00")
    with pytest.raises(InputError, match="NUL"):
        read_text(f)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    with f.open("wb") as fh:  # sparse: no disk used, size checked by stat
        fh.truncate(10 * MAX_BYTES)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="too large"):
        load_file(f)
    assert time.perf_counter() - t0 < 1.0


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="directory"):
        load_file(tmp_path)


def test_syntax_error_names_line_not_content() -> None:
    with pytest.raises(InputError) as exc:
        load_text("secret_value_here: [1, 2\nother: 3\n")
    line = _problem(exc)
    assert "line" in line and "syntax error" in line
    assert "secret_value_here" not in line


def test_unsafe_tags_and_bad_values_are_errors() -> None:
    with pytest.raises(InputError, match="constructor"):
        load_text("x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(InputError, match="cannot convert"):
        load_text("t: 2001-13-45\n")
    with pytest.raises(InputError, match="cannot convert"):
        load_text("n: " + "9" * 10_000 + "\n")


def test_json_nan_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"n": NaN}')
    with pytest.raises(InputError):
        load_file(f)


def test_error_class_is_the_callers() -> None:
    with pytest.raises(ProtocolError):
        load_text("a: 1\na: 2\n", error=ProtocolError)


def test_every_input_file_goes_through_the_one_loader() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "phantomlab"
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if p.name != "_yaml.py"
        and any(s in p.read_text() for s in ("yaml.safe_load", "yaml.load(", "yaml.full_load"))
    ]
    assert offenders == []


def test_duplicate_key_in_protocol_and_design_files(tmp_path: Path) -> None:
    from phantomlab.protocols import load_protocol
    from phantomlab.trials.design import load_design

    p = tmp_path / "p.yaml"
    p.write_text("modality: tdcs\ncurrent: 9 mA\ncurrent: 2 mA\n")
    with pytest.raises(ProtocolError, match="duplicate key"):
        load_protocol(p)
    d = tmp_path / "d.yaml"
    d.write_text("n_per_arm: 130\nn_per_arm: 19\n")
    with pytest.raises(InputError, match="duplicate key"):
        load_design(d)
