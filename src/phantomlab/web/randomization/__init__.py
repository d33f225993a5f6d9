"""Trial randomization service of the clinic (issue #16 point 7).

:mod:`~phantomlab.web.randomization.service` creates trials from a design YAML, enrols
participants with a concealed allocation and records emergency unblindings;
:mod:`~phantomlab.web.randomization.export` records visit values and exports the data
``phantomlab trial analyze`` reads; :mod:`~phantomlab.web.randomization.routes` serves the
pages under ``/trials``.
"""
