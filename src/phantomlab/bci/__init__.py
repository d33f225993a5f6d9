"""Brain-computer interfaces for phantom limb pain (see docs/bci.md).

* :mod:`~phantomlab.bci.head` — spherical EEG head, S1 source strips, MNE forward model;
* :mod:`~phantomlab.bci.activity` — S1 task activity from the virtual patient's map;
* :mod:`~phantomlab.bci.simulate` — EEG epochs (ERD of sensorimotor rhythms, 1/f
  background, sensor noise, trial-to-trial variability) as :class:`mne.EpochsArray`;
* :mod:`~phantomlab.bci.decode` — CSP + LDA and tangent space + LR, MOABB-style
  within-session cross-validation, reading of real ``.fif``/``.edf`` files;
* :mod:`~phantomlab.bci.loop` — closed-loop decoder training of a virtual cohort
  (phantom vs intact vs random decoder; Yanagisawa 2016, 2020).
"""

from phantomlab.bci._params import PARAMS, param_table
from phantomlab.bci.activity import TaskActivity, healthy_activity, patient_activity
from phantomlab.bci.decode import PIPELINES, DecodingResult, decode, load_epochs, make_pipeline
from phantomlab.bci.head import HeadModel, head_model
from phantomlab.bci.loop import DECODERS, BCICourse, CourseResult, run_course
from phantomlab.bci.simulate import SignalModel, simulate_epochs

__all__ = [
    "DECODERS",
    "PARAMS",
    "PIPELINES",
    "BCICourse",
    "CourseResult",
    "DecodingResult",
    "HeadModel",
    "SignalModel",
    "TaskActivity",
    "decode",
    "head_model",
    "healthy_activity",
    "load_epochs",
    "make_pipeline",
    "param_table",
    "patient_activity",
    "run_course",
    "simulate_epochs",
]
