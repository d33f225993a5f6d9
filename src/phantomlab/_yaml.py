"""The one loader of YAML and JSON input files (protocols, designs, specs, cohorts, configs).

Every file a user writes is read here, so every input gets the same guards:

* **size**: the file's size is checked before it is read (default 2 MB);
* **encoding**: the bytes must be UTF-8; otherwise one error names the byte offset
  (never the bytes themselves);
* **duplicate keys**: a key given twice in one mapping is an error naming both lines
  (PyYAML and :mod:`json` silently keep the last value);
* **depth**: nesting deeper than 64 levels is refused before anything is built;
* **aliases**: YAML anchors and aliases are allowed, but the size of the document
  with every alias expanded is bounded (default 100,000 nodes), so a "billion
  laughs" alias bomb fails in milliseconds instead of growing in memory later;
* **errors** name the file (or the field that was being read), the line and column
  and what is wrong, and never echo the file's contents.

Every error is an :class:`~phantomlab.exceptions.InputError` (or the subclass the
caller asks for).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from phantomlab.exceptions import InputError, Problem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "load_data",
    "load_file",
    "load_text",
    "read_text",
]

#: Largest input file read (bytes).
MAX_BYTES = 2_000_000
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64
#: Most nodes in a document once every alias is expanded.
MAX_NODES = 100_000

_KEY_SHOWN = 40


def _fail(error: type[InputError], field: str, value: Any, limit: str, message: str) -> None:
    raise error(Problem(field, value, limit, "", message))


def _show_key(key: Any) -> str:
    text = str(key)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text[:_KEY_SHOWN] + ("..." if len(text) > _KEY_SHOWN else ""))


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class _Recursive(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<' merges: explicit keys may override merged ones
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base constructor reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key, seen[key], line)
            seen[key] = line
        return dict(super().construct_mapping(node, deep=deep))


def _scan_events(text: str, field: str, error: type[InputError], max_nodes: int) -> None:
    """Check depth and event count on the parser's event stream (no recursion)."""
    depth = events = 0
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line = f"line {mark.line + 1}" if mark is not None else "?"
                _fail(error, field, line, f"nesting depth <= {MAX_DEPTH}", "too deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        events += 1
        if events > 4 * max_nodes:
            _fail(error, field, f"> {max_nodes} nodes", f"<= {max_nodes} nodes", "too many nodes")


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Return the node count with aliases expanded (shared nodes counted each time)."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in active:
            raise _Recursive(node.start_mark.line + 1)
        if key in memo:
            return memo[key]
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > limit:
                    break
        active.discard(key)
        memo[key] = total
        return total

    return size(root)


def _mark_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"


def load_text(
    text: str,
    *,
    field: str = "file",
    error: type[InputError] = InputError,
    max_nodes: int = MAX_NODES,
) -> Any:
    """Parse YAML (or JSON, which is YAML) text with the input guards.

    Parameters
    ----------
    text : str
        The document.
    field : str
        Name used in error messages (the option or file role, e.g. ``"design"``).
    error : type of InputError
        Exception class raised (e.g. ``ProtocolError``).
    max_nodes : int
        Most nodes once aliases are expanded.

    Returns
    -------
    Any
        The data (``None`` for an empty document).

    Raises
    ------
    InputError
        On a syntax error, a duplicate key, too deep nesting or too many nodes.
    """
    if len(text) > MAX_BYTES:
        _fail(error, field, f"{len(text)} characters", f"<= {MAX_BYTES} characters", "too long")
    try:
        _scan_events(text, field, error, max_nodes)
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            n = _expanded_size(node, max_nodes)
            if n > max_nodes:
                _fail(
                    error,
                    field,
                    f"> {max_nodes} nodes with aliases expanded",
                    f"<= {max_nodes} nodes",
                    "too many nodes once YAML aliases are expanded (alias bomb?)",
                )
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except InputError:
        raise
    except _DuplicateKey as exc:
        _fail(
            error,
            field,
            f"key {_show_key(exc.key)}",
            "each key once per mapping",
            f"duplicate key (first at line {exc.first}, again at line {exc.again})",
        )
    except _Recursive as exc:
        _fail(error, field, f"line {exc.line}", "no recursive alias", "recursive YAML alias")
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        problem = "".join(c if c.isprintable() else "?" for c in str(problem))[:120]
        _fail(error, field, _mark_text(exc), "valid YAML or JSON", f"syntax error: {problem}")
    except yaml.YAMLError:
        _fail(error, field, "?", "valid YAML or JSON", "syntax error")
    except RecursionError:
        _fail(error, field, "?", f"nesting depth <= {MAX_DEPTH}", "too deep")
    except (ValueError, TypeError, OverflowError) as exc:  # bad timestamps, huge integers
        _fail(
            error, field, "?", "valid YAML or JSON", f"cannot convert a value: {type(exc).__name__}"
        )
    return None  # pragma: no cover - _fail always raises


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key, 0, 0)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _load_json(text: str, field: str, error: type[InputError]) -> Any:
    if len(text) > MAX_BYTES:
        _fail(error, field, f"{len(text)} characters", f"<= {MAX_BYTES} characters", "too long")
    depth = 0
    in_str = esc = False
    for ch in text:  # bound nesting before json recurses
        if in_str:
            esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                _fail(error, field, "?", f"nesting depth <= {MAX_DEPTH}", "too deep")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_no_constant)
    except InputError:
        raise
    except _DuplicateKey as exc:
        _fail(
            error, field, f"key {_show_key(exc.key)}", "each key once per object", "duplicate key"
        )
    except json.JSONDecodeError as exc:
        _fail(error, field, f"line {exc.lineno}, column {exc.colno}", "valid JSON", exc.msg)
    except (RecursionError, ValueError) as exc:
        _fail(error, field, "?", "valid JSON", f"cannot parse: {type(exc).__name__}")
    return None  # pragma: no cover


def read_text(
    path: str | Path,
    *,
    field: str = "file",
    error: type[InputError] = InputError,
    max_bytes: int = MAX_BYTES,
) -> str:
    """Read a UTF-8 text file after checking that it exists and is not too large.

    Parameters
    ----------
    path : str or Path
        The file.
    field : str
        Name used in error messages.
    error : type of InputError
        Exception class raised.
    max_bytes : int
        Largest size accepted, checked before reading.

    Returns
    -------
    str
        The text (a leading byte-order mark is removed).

    Raises
    ------
    InputError
        Missing file, a directory, too large, unreadable, or not UTF-8.
    """
    p = Path(path)
    try:
        if not p.exists():
            _fail(error, field, str(p), "an existing file", "file not found")
        if not p.is_file():
            what = "is a directory" if p.is_dir() else "not a regular file"
            _fail(error, field, str(p), "an existing file", what)
        size = p.stat().st_size
        if size > max_bytes:
            _fail(error, field, str(p), f"<= {max_bytes} bytes", f"file too large ({size} bytes)")
        raw = p.read_bytes()[: max_bytes + 1]
    except OSError as exc:
        _fail(error, field, str(p), "a readable file", f"cannot read ({exc.strerror or 'error'})")
    if len(raw) > max_bytes:  # grew while being read, or a special file
        _fail(error, field, str(p), f"<= {max_bytes} bytes", "file too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(
            error,
            field,
            str(p),
            "UTF-8 text",
            f"not UTF-8 text (invalid byte at offset {exc.start}; binary file?)",
        )
    if "\x00" in text:
        _fail(error, field, str(p), "UTF-8 text", "contains NUL bytes (binary file?)")
    return text.removeprefix("\ufeff")


def load_file(
    path: str | Path,
    *,
    field: str = "file",
    error: type[InputError] = InputError,
    max_bytes: int = MAX_BYTES,
    max_nodes: int = MAX_NODES,
) -> Any:
    """Read and parse a YAML or JSON file (JSON if its name ends in ``.json``).

    Parameters
    ----------
    path : str or Path
        The file.
    field : str
        Name used in error messages (e.g. ``"design"``, ``"--features"``).
    error : type of InputError
        Exception class raised (e.g. ``ProtocolError``).
    max_bytes : int
        Largest file accepted.
    max_nodes : int
        Most YAML nodes once aliases are expanded.

    Returns
    -------
    Any
        The data.

    Raises
    ------
    InputError
        See :func:`read_text` and :func:`load_text`; also for duplicate JSON keys.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.yaml"
    >>> _ = f.write_text("a: 1" + chr(10) + "a: 2" + chr(10))
    >>> try:
    ...     load_file(f, field="x")
    ... except InputError as exc:
    ...     print(exc.problems[0].message)
    duplicate key (first at line 1, again at line 2)
    """
    text = read_text(path, field=field, error=error, max_bytes=max_bytes)
    if Path(path).suffix.lower() == ".json":
        return _load_json(text, field, error)
    return load_text(text, field=field, error=error, max_nodes=max_nodes)


def load_data(
    source: Any,
    *,
    field: str = "file",
    error: type[InputError] = InputError,
) -> Any:
    """Return ``source`` parsed: a path is read with :func:`load_file`, a dict passes through.

    Parameters
    ----------
    source : dict, str or Path
        A mapping (returned as is), a path, or YAML text (a ``str`` with a newline or
        not ending in ``.yaml``/``.yml``/``.json``).
    field : str
        Name used in error messages.
    error : type of InputError
        Exception class raised.

    Returns
    -------
    Any
        The data.
    """
    if isinstance(source, dict):
        return source
    if isinstance(source, Path):
        return load_file(source, field=field, error=error)
    if isinstance(source, str):
        stripped = source.strip()
        if "\n" not in stripped and stripped.lower().endswith((".yaml", ".yml", ".json")):
            return load_file(stripped, field=field, error=error)
        return load_text(source, field=field, error=error)
    _fail(error, field, type(source).__name__, "a mapping, a path or YAML text", "cannot read")
    return None  # pragma: no cover
