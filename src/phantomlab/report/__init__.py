"""HTML reports built from PhantomLab's result objects.

Each function takes a public result (or a protocol, or the calibration record)
and returns a :class:`Report`: one self-contained HTML file (figures embedded,
nothing fetched when it is opened) with ``.html``, ``.save(path)`` and notebook
display. Reports hold no science: they lay out what the results' ``summary()``,
``to_frame()`` and ``plot()`` give, and say "in silico" wherever they show model
output.

* :func:`dose_card` -- a protocol's dose metrics, safety check and reporting checklist;
* :func:`meta_report` -- a meta-analysis (``rma``) or the PLP evidence synthesis;
* :func:`trial_report` -- a trial analysis (real or simulated);
* :func:`calibration_report` -- calibration and validation of the virtual cohort.

Examples
--------
>>> from phantomlab.protocols import get_reference
>>> from phantomlab.report import dose_card
>>> card = dose_card(get_reference("malavera2016_active"))
>>> "Dose card" in card.html
True
"""

from phantomlab.report._render import Report
from phantomlab.report.calibration import calibration_report
from phantomlab.report.dose import dose_card
from phantomlab.report.meta import meta_report
from phantomlab.report.trial import trial_report

__all__ = [
    "Report",
    "calibration_report",
    "dose_card",
    "meta_report",
    "trial_report",
]
