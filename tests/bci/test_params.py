"""Every BCI parameter carries its provenance."""

from phantomlab._params import Param
from phantomlab.bci import PARAMS, param_table


def test_every_parameter_has_provenance() -> None:
    """Kind is source, calibrated or assumed, with a reason; the table lists them all."""
    assert len(PARAMS) >= 15
    for name, p in PARAMS.items():
        assert isinstance(p, Param) and p.module == "bci" and p.name == name
        assert p.kind in {"source", "calibrated", "assumed"}
        assert len(p.note) > 20 and p.unit
        assert p.kind == "assumed" or p.source
    assert list(param_table()["name"]) == list(PARAMS)
    assert list(param_table().columns) == ["name", "value", "unit", "kind", "source", "note"]
