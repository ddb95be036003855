import numpy as np
import pytest

from ltrr.simulate.click_models import CascadeModel, PositionBasedModel

RANKING = [f"d{i}" for i in range(10)]


def test_pbm_click_rate_follows_position_bias():
    m = PositionBasedModel(attractiveness=(0.0, 1.0), eta=1.0, convert_prob=0.0, seed=0)
    n = 4000
    at1 = sum("d0" in m.click(RANKING, {"d0": 1}) for _ in range(n)) / n
    at5 = sum("d4" in m.click(RANKING, {"d4": 1}) for _ in range(n)) / n
    assert at1 == pytest.approx(1.0)
    assert at5 == pytest.approx(0.2, abs=0.03)


def test_cascade_clicks_at_most_once_and_stops():
    m = CascadeModel(attractiveness=(0.0, 1.0), convert_prob=0.0, seed=0)
    assert m.click(RANKING, {"d3": 1, "d7": 1}) == ["d3"]
    assert m.click(RANKING, {}) == []


def test_conversion_reveals_a_wanted_item_only_without_relevant_click():
    m = PositionBasedModel(attractiveness=(0.0, 1.0), convert_prob=1.0, seed=0)
    clicked, conv = m.session(RANKING, {"zz": 2, "yy": 1})
    assert clicked == [] and conv == ["zz"]
    clicked, conv = m.session(RANKING, {"d0": 1})
    assert clicked == ["d0"] and conv == []


def test_same_seed_same_clicks():
    a, b = PositionBasedModel(seed=4), PositionBasedModel(seed=4)
    rel = {d: int(i % 3) for i, d in enumerate(RANKING)}
    assert [a.click(RANKING, rel) for _ in range(50)] == [b.click(RANKING, rel) for _ in range(50)]


@pytest.mark.parametrize("kwargs", [dict(attractiveness=(0.1, 1.5)), dict(convert_prob=-0.1)])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        PositionBasedModel(**kwargs)
