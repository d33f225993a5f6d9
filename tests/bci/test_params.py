"""Every BCI parameter carries its provenance."""

from phantomlab.bci import PARAMS, param_table


def test_every_parameter_has_provenance() -> None:
    """Kind is source, calibrated or assumed, with a reason; the table lists them all."""
    assert len(PARAMS) >= 15
    for p in PARAMS.values():
        assert p.kind in {"source", "calibrated", "assumed"}
        assert len(p.note) > 20 and p.unit
    assert list(param_table()["name"]) == list(PARAMS)
