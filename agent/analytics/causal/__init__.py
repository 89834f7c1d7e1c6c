"""How much did it save? Panel-data causal estimators (docs/savings.md).

Available now: ``did``, ``sc``, ``sc-intercept`` and ``sdid`` on a balanced
panel with block adoption, with placebo, bootstrap and jackknife standard
errors where each is valid.  Matrix completion, TROP and the ``edgewise
savings`` command are not built yet.
"""

from agent.analytics.causal.estimators import METHODS, Estimate, did, noise_level, sc, sc_intercept, sdid
from agent.analytics.causal.inference import InferenceError, Interval, standard_error
from agent.analytics.causal.panel import Panel, PanelError, from_arrays, load_long_csv

__all__ = [
    "METHODS", "Estimate", "InferenceError", "Interval", "Panel", "PanelError", "did", "from_arrays",
    "load_long_csv", "noise_level", "sc", "sc_intercept", "sdid", "standard_error",
]
