"""Exception types shared by every subpackage.

All user-facing errors derive from :class:`PhantomLabError`. Errors about user
input carry a list of :class:`Problem` records (field, value, limit, source,
message) so that a command-line front end can print one line per problem and a
program can read them as JSON.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

#: Longest value echoed back in an error line; longer input is cut (a user may pass a file's text).
MAX_VALUE_CHARS = 120
#: Longest message part of an error line.
MAX_TEXT_CHARS = 400

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: object, limit: int = MAX_TEXT_CHARS) -> str:
    """Return ``text`` as one printable line of at most ``limit`` characters.

    Newlines and other control characters become single spaces; a longer text is
    cut and ends with ``"..."`` followed by the number of characters left out.

    Parameters
    ----------
    text : object
        Anything; it is converted with ``str``.
    limit : int
        The most characters kept before the cut.

    Returns
    -------
    str
        One line without control characters.
    """
    s = _CONTROL.sub(" ", str(text)).strip()
    if len(s) > limit:
        s = f"{s[:limit]}... ({len(s) - limit} more characters)"
    return s


@dataclass(frozen=True)
class Problem:
    """One problem found in user input.

    Parameters
    ----------
    field : str
        Dotted path of the offending field, e.g. ``"tdcs.current"``.
    value : Any
        The value received (as written by the user where possible).
    limit : str
        The allowed values or range, in words, e.g. ``"<= 4 mA"``.
    source : str
        Where the limit comes from (a citation for safety limits), or ``""``.
    message : str
        A one-line human-readable statement of the problem.
    severity : str
        ``"error"`` or ``"warning"``.
    """

    field: str
    value: Any
    limit: str
    source: str
    message: str
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the problem."""
        d = asdict(self)
        v = d["value"]
        if not isinstance(v, str | int | float | bool | type(None)):
            d["value"] = str(v)
        return d

    def line(self) -> str:
        """Return the problem as one line: ``field = value: message [limit; source]``.

        Control characters become spaces and long values are cut, so a problem is
        always one line of bounded length whatever the user passed in.
        """
        value = one_line(self.value, MAX_VALUE_CHARS)
        parts = [f"{one_line(self.field, MAX_VALUE_CHARS)} = {value}: {one_line(self.message)}"]
        extra = "; ".join(
            p
            for p in (
                f"allowed: {self.limit}" if self.limit else "",
                f"source: {self.source}" if self.source else "",
            )
            if p
        )
        if extra:
            parts.append(f"({one_line(extra)})")
        return " ".join(parts)


class PhantomLabError(Exception):
    """Base class of every error PhantomLab raises on purpose."""


class InputError(PhantomLabError, ValueError):
    """User input is invalid; holds every :class:`Problem` found at once.

    Parameters
    ----------
    problems : list of Problem or Problem
        The problems found. At least one.
    """

    def __init__(self, problems: list[Problem] | Problem) -> None:
        if isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            problems = [Problem("?", None, "", "", "invalid input")]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(p.line() for p in self.problems))


class UnitError(InputError):
    """A quantity is missing its unit, has the wrong dimension or cannot be parsed."""


class ProtocolError(InputError):
    """A stimulation protocol is malformed or violates a safety rule."""


class ConvergenceError(PhantomLabError, RuntimeError):
    """An iterative numerical routine did not converge."""


class MissingExtraError(PhantomLabError, ImportError):
    """A feature needs an optional dependency group (an "extra") that is not installed.

    Parameters
    ----------
    feature : str
        What needs the extra, e.g. ``"phantomlab.fields.fem"``.
    extra : str
        Name of the extra, e.g. ``"fem"``.
    missing : str
        The module that could not be imported.
    """

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional '{extra}' extra ({missing} is not installed): "
            f"pip install 'phantomlab[{extra}]'",
            name=missing,
        )


class PhantomLabWarning(UserWarning):
    """Base class of every warning PhantomLab issues on purpose."""


class ModelFitWarning(PhantomLabWarning):
    """A statistical model could not be fitted; the message says why and what was left out."""
