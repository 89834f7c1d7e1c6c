"""Savings estimators on Proposition 99 beside the Python packages users would pick, and their errors on simulated panels.

Run from a source checkout::

    python3 -m benchmarks.savings                      # 200 placebo replications, every method in METHODS
    python3 -m benchmarks.savings --json               # one JSON object instead of the tables
    python3 -m benchmarks.savings --reps 50 --sims 10 --methods did sc sdid --no-numpy

Part one times SDID with placebo standard errors and synthetic control on the
Proposition 99 panel (../shared/data/california_prop99.csv), with edgewise and
with diff-diff, pysyncon and synthdid where they are installed (a missing or
broken one gets a row that says so; the benchmark never installs them).  Each
baseline is put beside the edgewise row that solves the same problem: the
Frank–Wolfe implementations beside edgewise's Frank–Wolfe, the exact solvers
beside edgewise's exact solver; the ratio is their time over ours.  edgewise's
SDID row runs every placebo replication in one native call; two reference rows
run them as a Python loop over the native and the numpy solver, and must give
the same estimate and se (1e-9).  Part two is the root mean squared error of
every estimator in ``METHODS`` over simulated panels with a known effect, in
several designs.  The run exits 1 when an edgewise estimate misses its
reference figure or the batch and the loop disagree (the timings would then
compare different computations) and 2 when the data cannot be read.  See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.analytics.causal import (
    METHODS,
    Panel,
    PanelError,
    estimators,
    from_arrays,
    load_long_csv,
    standard_error,
)
from agent.analytics.causal.frank_wolfe import reference_simplex_weights
from benchmarks.common import machine, positive

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "california_prop99.csv"
COLUMNS = {"unit": "State", "time": "Year", "outcome": "PacksPerCapita", "treated": "treated"}
REFERENCE = {"did": -27.35, "sc": -19.62, "sc-intercept": -11.1, "sdid": -15.60}
"""Published figures (synthdid paper, Table 1; the data README); edgewise must reproduce them to ±0.05."""
EXACT_SC = -19.51
"""Synthetic control solved exactly (the data README: "about −19.51")."""
TOLERANCE = 0.05
GOAL_SPEEDUP = 8.0
"""Issue 8: SDID with placebo standard errors at least 8× faster than the fastest package, same numbers."""
NUMPY_AGREEMENT = 1e-9


# -- part one: Proposition 99 -----------------------------------------------------------


@dataclass
class Row:
    task: str
    implementation: str
    estimate: float | None = None
    se: float | None = None
    seconds: float | None = None
    ratio: float | None = None
    """This row's seconds over the matching edgewise row's (how many times slower than edgewise)."""
    matches: str = ""
    """The edgewise row it solves the same problem as (empty for edgewise rows)."""
    same_estimate: bool | None = None
    note: str = ""


def best_of(repeat: int, run: Callable[[], tuple[float, float | None]]) -> tuple[float, float | None, float]:
    """(estimate, se, seconds): the fastest of ``repeat`` runs, the one least disturbed by the machine."""
    best, result = math.inf, (math.nan, None)
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return result[0], result[1], best


@contextlib.contextmanager
def numpy_frank_wolfe() -> Iterator[None]:
    """edgewise with the numpy reference solver in place of the native one: what the C++ buys."""
    native = estimators.simplex_weights
    estimators.simplex_weights = reference_simplex_weights
    try:
        yield
    finally:
        estimators.simplex_weights = native


def edgewise_rows(panel: Panel, reps: int, seed: int, repeat: int, with_numpy: bool) -> list[Row]:
    def sdid_placebo(native: bool = True) -> tuple[float, float]:
        return estimators.sdid(panel).estimate, standard_error(panel, estimators.sdid, "placebo", reps=reps,
                                                               seed=seed, native=native).se

    task = f"sdid + placebo se ({reps} reps)"
    ours = "edgewise (native Frank–Wolfe)"
    rows = [Row(task, ours, *best_of(repeat, sdid_placebo), note="all replications in one native call, threaded"),
            Row(task, "edgewise (native, Python loop)", *best_of(repeat, lambda: sdid_placebo(native=False)),
                matches=ours, note="one Python fit per replication, each solve native")]
    if with_numpy:
        with numpy_frank_wolfe():
            rows.append(Row(task, "edgewise (numpy Frank–Wolfe)", *best_of(1, lambda: sdid_placebo(native=False)),
                            matches=ours, note="the Python loop on the numpy reference solver"))
    rows.append(Row("sc", ours, *best_of(repeat, lambda: (estimators.sc(panel).estimate, None))))
    rows.append(Row("sc", "edgewise (exact solver)",
                    *best_of(repeat, lambda: (estimators.sc(panel, solver="exact").estimate, None))))
    return rows


def not_available(package: str) -> str | None:
    """Why a baseline cannot run, or None when it is importable."""
    module = package.replace("-", "_")
    if importlib.util.find_spec(module) is None:
        return f"not installed (pip install {package})"
    return None


def package_label(package: str) -> str:
    try:
        return f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


def baseline_row(task: str, package: str, what: str, matches: str, repeat: int,
                 run: Callable[[], tuple[float, float | None]]) -> Row:
    """Times ``run`` if ``package`` is importable; any failure becomes the row's note, not the run's end."""
    label = f"{package_label(package)} ({what})"
    missing = not_available(package)
    if missing:
        return Row(task, label, matches=matches, note=missing)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Row(task, label, *best_of(repeat, run), matches=matches)
    except Exception as exc:  # a third-party failure is a finding to report, whatever its type
        return Row(task, label, matches=matches, note=f"failed: {type(exc).__name__}: {str(exc)[:120]}")


def long_frame(path: Path) -> Any:
    import pandas as pd  # only the baselines need pandas

    sep = ";" if path.read_text(encoding="utf-8").splitlines()[0].count(";") else ","
    return pd.read_csv(path, sep=sep)


def baseline_rows(path: Path, panel: Panel, reps: int, seed: int, repeat: int) -> list[Row]:
    try:
        df = long_frame(path)
    except ImportError:
        df = None
    task = f"sdid + placebo se ({reps} reps)"
    pre = [int(p) for p in panel.periods[: panel.n_pre]]
    post = [int(p) for p in panel.periods[panel.n_pre:]]
    treated_unit = panel.units[-1]
    rows = []
    for package, what, matches, run in (
        ("diff-diff", "SyntheticDiD, placebo", "edgewise (native Frank–Wolfe)",
         lambda: diff_diff_sdid(df, treated_unit, post, reps, seed)),
        ("synthdid", "Synthdid, placebo", "edgewise (native Frank–Wolfe)", lambda: synthdid_sdid(df, reps)),
    ):
        rows.append(baseline_row(task, package, what, matches, repeat if package == "diff-diff" else 1, run))
    for package, what, matches, run in (
        ("diff-diff", "SyntheticControl, V = I", "edgewise (exact solver)", lambda: diff_diff_sc(df, pre, post)),
        ("pysyncon", "Synth, V = I", "edgewise (exact solver)", lambda: pysyncon_sc(df, treated_unit, pre, post)),
        ("synthdid", "Synthdid synth=True", "edgewise (native Frank–Wolfe)", lambda: synthdid_sc(df)),
    ):
        rows.append(baseline_row("sc", package, what, matches, repeat, run))
    if df is None:
        for row in rows:
            row.note = row.note or "pandas is not installed"
    return rows


def diff_diff_sdid(df: Any, treated_unit: str, post: list[int], reps: int, seed: int) -> tuple[float, float]:
    import diff_diff

    data = df.assign(ever_treated=(df[COLUMNS["unit"]] == treated_unit).astype(int))
    fit = diff_diff.SyntheticDiD(variance_method="placebo", n_bootstrap=reps, seed=seed).fit(
        data, outcome=COLUMNS["outcome"], treatment="ever_treated", unit=COLUMNS["unit"], time=COLUMNS["time"],
        post_periods=post)
    return float(fit.att), float(fit.se)


def diff_diff_sc(df: Any, pre: list[int], post: list[int]) -> tuple[float, None]:
    """Equal weight on every pre-period outcome, unscaled: the problem edgewise's SC solves."""
    import diff_diff

    fit = diff_diff.SyntheticControl(v_method="custom", custom_v=np.ones(len(pre)), standardize="none").fit(
        df, outcome=COLUMNS["outcome"], treatment=COLUMNS["treated"], unit=COLUMNS["unit"], time=COLUMNS["time"],
        post_periods=post)
    return float(fit.att), None


def pysyncon_sc(df: Any, treated_unit: str, pre: list[int], post: list[int]) -> tuple[float, None]:
    """Every pre-period outcome a predictor; V undoes pysyncon's scaling of predictors by their sd, so the
    fit is the plain least squares of edgewise's SC."""
    import pandas as pd
    from pysyncon import Dataprep, Synth

    unit, time_col, outcome = COLUMNS["unit"], COLUMNS["time"], COLUMNS["outcome"]
    controls = sorted(set(df[unit]) - {treated_unit})
    prep = Dataprep(foo=df, predictors=[], predictors_op="mean", time_predictors_prior=pre,
                    special_predictors=[(outcome, [year], "mean") for year in pre], dependent=outcome,
                    unit_variable=unit, time_variable=time_col, treatment_identifier=treated_unit,
                    controls_identifier=controls, time_optimize_ssr=pre)
    x0, x1 = prep.make_covariate_mats()
    scale = pd.concat([x0, x1], axis=1).std(axis=1).to_numpy()
    synth = Synth()
    synth.fit(dataprep=prep, custom_V=scale**2)
    return float(synth.att(time_period=post)["att"]), None


def synthdid_sdid(df: Any, reps: int) -> tuple[float, float]:
    from synthdid.synthdid import Synthdid

    model = Synthdid(df, unit=COLUMNS["unit"], time=COLUMNS["time"], treatment=COLUMNS["treated"],
                     outcome=COLUMNS["outcome"]).fit()
    model.vcov(method="placebo", n_reps=reps)
    return float(model.att), float(model.se)


def synthdid_sc(df: Any) -> tuple[float, None]:
    from synthdid.synthdid import Synthdid

    model = Synthdid(df, unit=COLUMNS["unit"], time=COLUMNS["time"], treatment=COLUMNS["treated"],
                     outcome=COLUMNS["outcome"]).fit(synth=True)
    return float(model.att), None


def compare(rows: list[Row]) -> None:
    """Fill each baseline's ratio and whether its estimate is edgewise's (±0.05) from its matching row."""
    ours = {(r.task, r.implementation): r for r in rows if not r.matches}
    for row in rows:
        mine = ours.get((row.task, row.matches))
        if mine is None or row.seconds is None or mine.seconds is None:
            continue
        row.ratio = row.seconds / mine.seconds
        if row.estimate is not None and mine.estimate is not None:
            row.same_estimate = abs(row.estimate - mine.estimate) <= TOLERANCE


def goal(rows: list[Row], reps: int) -> dict[str, Any]:
    task = f"sdid + placebo se ({reps} reps)"
    ours = next(r for r in rows if r.task == task and r.implementation == "edgewise (native Frank–Wolfe)")
    timed = [r for r in rows if r.task == task and r.seconds is not None and not r.implementation.startswith("edgewise")]
    fastest = min(timed, key=lambda r: r.seconds or math.inf) if timed else None
    speedup = fastest.seconds / ours.seconds if fastest and fastest.seconds and ours.seconds else None
    return {
        "sdid_placebo_seconds": ours.seconds,
        "fastest_baseline": fastest.implementation if fastest else None,
        "fastest_baseline_seconds": fastest.seconds if fastest else None,
        "speedup_vs_fastest": speedup,
        "goal_speedup": GOAL_SPEEDUP,
        "goal_same_numbers": bool(fastest and fastest.same_estimate),
        "goal_met": None if speedup is None else bool(speedup >= GOAL_SPEEDUP and fastest and fastest.same_estimate),
    }


REFERENCE_ROWS = ("edgewise (native, Python loop)", "edgewise (numpy Frank–Wolfe)")
"""The placebo computed one Python fit at a time: the reference the native batch must agree with."""


def numpy_agrees(rows: list[Row]) -> bool | None:
    """Whether the reference rows gave the batch row's estimate and se to 1e-9 (None when none ran)."""
    batch, loops = rows[0], [r for r in rows if r.implementation in REFERENCE_ROWS]
    if not loops:
        return None
    pairs = [(batch.estimate, r.estimate) for r in loops] + [(batch.se, r.se) for r in loops]
    return all(a is not None and b is not None and abs(a - b) <= NUMPY_AGREEMENT for a, b in pairs)


def reference_figures(panel: Panel, methods: Sequence[str]) -> list[dict[str, Any]]:
    """Every method's Proposition 99 estimate beside its published figure, where there is one."""
    out = []
    for name in methods:
        estimate = METHODS[name](panel).estimate
        published = REFERENCE.get(name)
        ok = None if published is None else abs(estimate - published) <= TOLERANCE
        out.append({"method": name, "estimate": estimate, "published": published, "ok": ok})
    exact = estimators.sc(panel, solver="exact").estimate
    out.append({"method": "sc (exact solver)", "estimate": exact, "published": EXACT_SC,
                "ok": abs(exact - EXACT_SC) <= 0.01})
    return out


# -- part two: simulated panels -----------------------------------------------------------


@dataclass(frozen=True)
class Design:
    name: str
    description: str
    n_control: int
    n_treated: int
    n_periods: int
    n_pre: int
    rank: int
    """Interactive (unit × period) factors beyond the two-way effects."""
    loading_shift: float
    """How far the treated units' factor loadings sit from the controls': confounding DID cannot remove."""


DESIGNS = (
    Design("parallel", "two-way effects + noise, random adopters", 30, 5, 20, 14, 0, 0.0),
    Design("interactive", "rank-2 factors, adopters' loadings shifted", 30, 5, 20, 14, 2, 1.0),
    Design("few-controls", "rank-2 factors, 6 controls, 3 adopters", 6, 3, 20, 14, 2, 0.5),
    Design("one-treated", "rank-2 factors, one adopter, 30 controls", 30, 1, 20, 14, 2, 1.0),
)
EFFECT = -2.0
"""The true effect in every simulated panel (the noise has unit sd)."""


def simulate(design: Design, rng: np.random.Generator) -> Panel:
    """Two-way effects, a low-rank interaction and unit-sd noise; EFFECT added to the treated post cells."""
    n = design.n_control + design.n_treated
    t = design.n_periods
    y = rng.normal(0, 2, (n, 1)) + np.cumsum(rng.normal(0, 0.5, t))[None, :] + rng.normal(0, 1, (n, t))
    if design.rank:
        loadings = rng.normal(0, 1, (n, design.rank))
        loadings[design.n_control:] += design.loading_shift
        factors = np.cumsum(rng.normal(0, 0.5, (design.rank, t)), axis=1)
        y += loadings @ factors
    treated = np.zeros((n, t), dtype=bool)
    treated[design.n_control:, design.n_pre:] = True
    y[treated] += EFFECT
    return from_arrays(y, treated, [f"u{i}" for i in range(n)], [str(p) for p in range(t)])


def rmse_table(methods: Sequence[str], sims: int, seed: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per design and method: RMSE and bias of the estimate and mean seconds per panel, same panels for all."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for d_index, design in enumerate(DESIGNS):
        errors: dict[str, list[float]] = {m: [] for m in methods}
        seconds: dict[str, float] = {m: 0.0 for m in methods}
        for s in range(sims):
            panel = simulate(design, np.random.default_rng([seed, d_index, s]))
            for m in methods:
                start = time.perf_counter()
                errors[m].append(METHODS[m](panel).estimate - EFFECT)
                seconds[m] += time.perf_counter() - start
        out[design.name] = {
            m: {"rmse": float(np.sqrt(np.mean(np.square(errors[m])))), "bias": float(np.mean(errors[m])),
                "seconds": seconds[m] / sims}
            for m in methods
        }
    return out


# -- the run ----------------------------------------------------------------------------------


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    panel = load_long_csv(args.data, **COLUMNS)
    rows = edgewise_rows(panel, args.reps, args.seed, args.repeat, not args.no_numpy)
    if not args.no_baselines:
        rows += baseline_rows(args.data, panel, args.reps, args.seed, args.repeat)
    compare(rows)
    return {
        "data": str(args.data), "reps": args.reps, "seed": args.seed, "repeat": args.repeat,
        "rows": [{k: _finite(v) for k, v in asdict(r).items()} for r in rows],
        **goal(rows, args.reps),
        "numpy_agrees": numpy_agrees(rows),
        "reference": reference_figures(panel, args.methods),
        "effect": EFFECT, "sims": args.sims,
        "designs": {d.name: d.description for d in DESIGNS},
        "rmse": rmse_table(args.methods, args.sims, args.seed) if args.sims else {},
        "machine": machine(),
    }


def _finite(x: Any) -> Any:
    """NaN (a baseline's missing se) as null, so the JSON stays strict."""
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _number(x: float | None, spec: str) -> str:
    """``x`` formatted, or a dash as wide as the number would be."""
    width = int(spec.split(".")[0] or 0)
    return "—".rjust(width) if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def format_tables(d: dict[str, Any]) -> str:
    m = d["machine"]
    lines = [f"edgewise savings benchmark: Proposition 99 ({d['data']}), seed {d['seed']}, best of {d['repeat']}",
             f"machine: {m['platform']}, {m['cpu_count']} CPUs, Python {m['python']}, numpy {m['numpy']}", "",
             f"  {'task':<28} {'implementation':<46} {'estimate':>9} {'se':>7} {'seconds':>8} {'× ours':>7} "
             f"{'same':>5}"]
    for r in d["rows"]:
        same = {True: "yes", False: "NO", None: ""}[r["same_estimate"]]
        lines.append(f"  {r['task']:<28} {r['implementation']:<46} {_number(r['estimate'], '9.3f')} "
                     f"{_number(r['se'], '7.2f')} {_number(r['seconds'], '8.4f')} {_number(r['ratio'], '7.1f')} "
                     f"{same:>5}" + (f"  {r['note']}" if r["note"] else ""))
    speedup = d["speedup_vs_fastest"]
    verdict = "no baseline ran" if d["goal_met"] is None else ("met" if d["goal_met"] else "NOT met")
    lines += ["", f"  sdid + placebo: {_number(speedup, '.1f')}× faster than the fastest baseline "
                  f"({d['fastest_baseline'] or '—'}), goal ≥ {d['goal_speedup']:.0f}× with the same estimate: {verdict}"]
    if d["numpy_agrees"] is not None:
        loops = " and ".join(r["implementation"] for r in d["rows"] if r["implementation"] in REFERENCE_ROWS)
        lines.append(f"  the native batch gives the estimate and se of {loops} (1e-9): "
                     f"{'yes' if d['numpy_agrees'] else 'NO'}")
    lines += ["", "  Proposition 99, every method:", f"    {'method':<20} {'edgewise':>9} {'published':>10}"]
    for r in d["reference"]:
        ok = {True: "ok", False: "MISSED", None: ""}[r["ok"]]
        lines.append(f"    {r['method']:<20} {r['estimate']:9.3f} {_number(r['published'], '10.2f')}  {ok}")
    if d["rmse"]:
        lines += format_rmse(d)
    return "\n".join(lines)


def format_rmse(d: dict[str, Any]) -> list[str]:
    methods = list(next(iter(d["rmse"].values())))
    lines = ["", f"  RMSE over {d['sims']} simulated panels per design (true effect {d['effect']}, noise sd 1); "
                 "bias in brackets", "    " + f"{'design':<14}" + "".join(f"{m:>17}" for m in methods)]
    for name, per_method in d["rmse"].items():
        cells = "".join(f"{per_method[m]['rmse']:>8.3f} ({per_method[m]['bias']:+.2f})" for m in methods)
        lines.append(f"    {name:<14}{cells}")
    seconds = d["rmse"][next(iter(d["rmse"]))]
    lines.append("    " + f"{'s / panel':<14}" + "".join(f"{seconds[m]['seconds']:>17.4f}" for m in methods))
    lines += [f"    {name}: {text}" for name, text in d["designs"].items()]
    return lines


def failures(d: dict[str, Any]) -> list[str]:
    """What makes the timings meaningless: an edgewise estimate off its reference, or numpy disagreeing."""
    out = [f"{r['method']} gave {r['estimate']:.3f}, the reference is {r['published']}"
           for r in d["reference"] if r["ok"] is False]
    if d["numpy_agrees"] is False:
        out.append("the native batch and the Python loop disagree: they are not the same computation")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.savings", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA, help="the Proposition 99 panel (default ../shared/data/...)")
    p.add_argument("--reps", type=positive, default=200, help="placebo replications (default 200)")
    p.add_argument("--seed", type=int, default=1, help="seed of the placebo draws and the simulations (default 1)")
    p.add_argument("--repeat", type=positive, default=3, help="timed runs per row; the fastest is kept (default 3)")
    p.add_argument("--sims", type=int, default=30, help="simulated panels per design, 0 to skip (default 30)")
    p.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS),
                   help="estimators in the RMSE and reference tables (default: all)")
    p.add_argument("--no-numpy", action="store_true", help="skip the row with the numpy reference solver")
    p.add_argument("--no-baselines", action="store_true", help="skip diff-diff, pysyncon and synthdid")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run_benchmark(args)
    except (OSError, PanelError) as exc:
        print(f"savings benchmark: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else format_tables(result))
    problems = failures(result)
    for problem in problems:
        print(f"savings benchmark: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
