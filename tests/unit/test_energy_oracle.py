"""The oracle (DP over the discretised voltage) against brute force, and never beaten by a policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import _core
from agent.energy.policies import load_table

STEP_S = 60.0
DECISION_S = 600.0  # 10 steps per decision keeps brute force (6^decisions) small


def tiny_trace(seed: int, decisions: int, light: float) -> _core.Trace:
    """A short trace near the cut-off: a dark stretch, then light, events throughout."""
    rng = np.random.default_rng(seed)
    steps = decisions * int(DECISION_S / STEP_S)
    lux = np.where(rng.random(steps) < 0.4, rng.uniform(0, light, steps), 0.0)
    return _core.Trace(lux, rng.poisson(rng.uniform(0.2, 4.0), steps).astype(np.int32), STEP_S)


def oracle_detections(p: _core.NodeParams, trace: _core.Trace, exact: bool = True, grid: int = 256) -> int:
    plan = _core.oracle_plan(p, trace, DECISION_S, grid, exact)
    return int(_core.simulate(p, trace, _core.PlanPolicy(plan.tolist()), DECISION_S).events_detected)


# Close to the cut-off (2.3 V) the node's choices decide whether it browns out.
tight = st.floats(2.3005, 2.33)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), decisions=st.integers(1, 4), v0=tight, light=st.floats(0, 3000))
def test_dp_matches_brute_force_on_tiny_cases(seed: int, decisions: int, v0: float, light: float) -> None:
    p = _core.NodeParams(v_initial=v0)
    trace = tiny_trace(seed, decisions, light)
    assert oracle_detections(p, trace) == _core.brute_force_best(p, trace, DECISION_S)


def test_brute_force_sees_the_trade_off() -> None:
    """A case where sensing everything browns the node out: the best plan is not 'always on'."""
    p = _core.NodeParams(v_initial=2.302)
    trace = _core.Trace(np.zeros(30), np.full(30, 3, dtype=np.int32), STEP_S)
    always_on = _core.simulate(p, trace, _core.FixedPolicy(5), DECISION_S).events_detected
    best = _core.brute_force_best(p, trace, DECISION_S)
    assert best >= always_on
    assert oracle_detections(p, trace) == best


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), decisions=st.integers(1, 8), v0=tight, light=st.floats(0, 3000),
       mode=st.integers(0, 5))
def test_no_policy_beats_the_oracle(seed: int, decisions: int, v0: float, light: float, mode: int) -> None:
    p = _core.NodeParams(v_initial=v0)
    trace = tiny_trace(seed, decisions, light)
    bound = oracle_detections(p, trace)
    for policy in (_core.FixedPolicy(mode), _core.GreedyPolicy(), load_table()):
        assert _core.simulate(p, trace, policy, DECISION_S).events_detected <= bound


@pytest.mark.parametrize(("v0", "harvest_a"), [(2.32, 18e-6), (2.45, 20e-6), (3.5, 33.3e-6)])
def test_exact_oracle_bounds_the_year_long_one_on_a_day(v0: float, harvest_a: float) -> None:
    """On a real day of hourly decisions the exact search is optimal: the lumped DP (what a
    year needs) and every fixed mode detect at most as much."""
    from agent.energy.scenarios import build_scenario

    p = _core.NodeParams(v_initial=v0, harvest_a=harvest_a)
    trace = build_scenario("dim_corridor", 1, 5)
    exact = _core.simulate(p, trace, _core.PlanPolicy(_core.oracle_plan(p, trace, 3600.0, 256, True).tolist()))
    lumped = _core.simulate(p, trace, _core.PlanPolicy(_core.oracle_plan(p, trace, 3600.0, 256, False).tolist()))
    assert lumped.events_detected <= exact.events_detected
    for mode in range(6):
        assert _core.simulate(p, trace, _core.FixedPolicy(mode)).events_detected <= exact.events_detected


def test_exact_search_refuses_to_explode() -> None:
    from agent.energy.scenarios import build_scenario

    p = _core.NodeParams(v_initial=2.5, harvest_a=15e-6)
    with pytest.raises(ValueError, match="too large a search"):
        _core.oracle_plan(p, build_scenario("dim_corridor", 2, 5), 3600.0, 256, True, max_nodes=10_000)


def test_plan_shorter_than_run_is_an_error() -> None:
    trace = tiny_trace(1, 3, 100.0)
    with pytest.raises(ValueError, match="shorter"):
        _core.simulate(_core.NodeParams(), trace, _core.PlanPolicy([3]), DECISION_S)


def test_decision_must_be_whole_steps() -> None:
    with pytest.raises(ValueError, match="whole number of steps"):
        _core.simulate(_core.NodeParams(), tiny_trace(1, 1, 0.0), _core.FixedPolicy(), 90.0)
