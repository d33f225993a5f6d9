"""PhantomLab: neuromodulation of phantom limb pain, in silico and in evidence.

Subpackages follow ``DESIGN.md``: ``protocols``, ``fields``, ``mechanisms``,
``evidence`` depend only on the thin core (``_units``, ``_validation``, ``_rng``,
``exceptions``); ``therapies`` bridges them; ``cohorts``, ``trials`` and
``optimize`` sit above; ``report`` and ``cli`` are leaves.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
