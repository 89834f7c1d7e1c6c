"""How much did it save? Panel-data causal estimators (docs/savings.md).

Six estimators on a balanced panel — ``did``, ``sc``, ``sc-intercept``,
``mc`` (matrix completion), ``sdid`` and ``trop`` — with placebo, bootstrap
and jackknife standard errors where each is valid.  Block adoption gives a
:class:`Panel` for them directly; staggered adoption gives a
:class:`StaggeredPanel`, estimated cohort by cohort (:mod:`.staggered`).
``edgewise savings`` is the command line over all of it.
"""

from agent.analytics.causal.estimators import (
    METHODS,
    Estimate,
    did,
    noise_level,
    sc,
    sc_intercept,
    sdid,
)
from agent.analytics.causal.inference import InferenceError, Interval, standard_error
from agent.analytics.causal.matrix_completion import mc
from agent.analytics.causal.panel import (
    Panel,
    PanelError,
    StaggeredPanel,
    from_arrays,
    from_treatment,
    load_long_csv,
)
from agent.analytics.causal.staggered import (
    StaggeredEstimate,
    cohort_panels,
    staggered_estimate,
    staggered_standard_error,
)
from agent.analytics.causal.trop import trop

__all__ = [
    "METHODS", "Estimate", "InferenceError", "Interval", "Panel", "PanelError", "StaggeredEstimate",
    "StaggeredPanel", "cohort_panels", "did", "from_arrays", "from_treatment", "load_long_csv", "mc",
    "noise_level", "sc", "sc_intercept", "sdid", "staggered_estimate", "staggered_standard_error",
    "standard_error", "trop",
]
