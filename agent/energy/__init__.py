"""Energy-budgeted sensing for light-harvesting sensor nodes (issue 6).

A battery-free node stores light in a supercapacitor; sensing too much browns
it out (and every event until it recovers is missed), sensing too little
misses events.  The gateway chooses each node's sensing mode once per decision
step from what it knows (time of day, the light and voltage the node last
reported).  The physics, the simulator, the policies, the offline optimum and
the learner are native (``agent._core``, cpp/src/energy.cpp) so that a
simulated node-year takes milliseconds; this package gives them names, reads
the configuration and the users' CSV traces, and builds the seeded scenarios.
See docs/energy-harvesting.md.
"""

from __future__ import annotations

from agent.energy.model import DEFAULT_NODE_TYPE, MODES, node_params
from agent.energy.policies import POLICY_NAMES, load_table, make_policy, save_table
from agent.energy.scenarios import SCENARIOS, ScenarioError, build_scenario, load_csv_trace
from agent.energy.simulate import PolicyResult, run_policy

__all__ = [
    "DEFAULT_NODE_TYPE", "MODES", "POLICY_NAMES", "SCENARIOS", "PolicyResult", "ScenarioError", "build_scenario",
    "load_csv_trace", "load_table", "make_policy", "node_params", "run_policy", "save_table",
]
