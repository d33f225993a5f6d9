"""Print the therapy model card.

Usage: ``python -m phantomlab.therapies.card > docs/therapies_model_card.md``.
"""

from __future__ import annotations

import phantomlab.therapies  # noqa: F401  (registers every therapy's parameters)
from phantomlab.therapies._params import model_card

__all__ = ["card_markdown"]

_HEAD = (
    "# Therapy model card (generated)\n\n"
    "Generated from the provenance records of `phantomlab.therapies` by\n"
    "`python -m phantomlab.therapies.card > docs/therapies_model_card.md`; do not edit by hand.\n"
    "`kind`: `source` (read in the cited publication), `calibrated` (set by PhantomLab to a\n"
    "named target), `assumed` (not read; the reason is given). `prior` is the range a\n"
    "calibration may explore.\n"
)


def card_markdown() -> str:
    """Return the full Markdown model card of the therapies.

    Returns
    -------
    str
        Header and one table row per parameter.
    """
    return _HEAD + "\n" + model_card() + "\n"


if __name__ == "__main__":
    print(card_markdown(), end="")
