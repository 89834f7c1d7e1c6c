"""A balanced panel (units × periods), read from a long CSV: block or staggered adoption.

A block adoption (every treated unit adopts in the same period) gives a
:class:`Panel`, which every estimator takes.  Adoption at different periods
gives a :class:`StaggeredPanel`, which :mod:`~.staggered` splits into one block
panel per adoption cohort.

Errors name the file, the column and the rows, because a savings figure built
on a silently repaired panel is worse than none.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class PanelError(ValueError):
    """The data cannot form the panel an estimator needs; the message says where and why."""


class _UnitsByPeriods:
    """Sizes of an outcome matrix whose first ``n_control`` rows are the control units."""

    y: np.ndarray
    n_control: int

    @property
    def n_units(self) -> int:
        return self.y.shape[0]

    @property
    def n_periods(self) -> int:
        return self.y.shape[1]

    @property
    def n_treated(self) -> int:
        return self.n_units - self.n_control


@dataclass(frozen=True)
class Panel(_UnitsByPeriods):
    """Outcomes ``y`` (units × periods), controls first, then treated units.

    Treated units adopt together after period ``n_pre`` (block design) and stay treated.
    """

    y: np.ndarray
    units: tuple[str, ...]
    periods: tuple[str, ...]
    n_control: int
    n_pre: int


@dataclass(frozen=True)
class StaggeredPanel(_UnitsByPeriods):
    """Outcomes ``y`` (units × periods), never-treated units first, then treated units by adoption period.

    ``adoption[i]`` is the index of unit i's first treated period (``n_periods``
    for a never-treated unit); a unit stays treated from then on.
    """

    y: np.ndarray
    units: tuple[str, ...]
    periods: tuple[str, ...]
    adoption: np.ndarray
    n_control: int

    def cohorts(self) -> list[tuple[int, np.ndarray]]:
        """(first treated period, row indices of its units), earliest first."""
        treated = self.adoption[self.n_control:]
        return [(int(a), self.n_control + np.flatnonzero(treated == a)) for a in np.unique(treated)]


def from_treatment(
    y: np.ndarray, treated: np.ndarray, units: Sequence[str], periods: Sequence[str]
) -> Panel | StaggeredPanel:
    """A :class:`Panel` when every treated unit adopts in one period, else a :class:`StaggeredPanel`."""
    y, w = _checked(y, treated, units, periods)
    is_treated = w.any(axis=1)
    adoption = np.where(is_treated, np.argmax(w, axis=1), y.shape[1])
    if len(set(adoption[is_treated].tolist())) == 1:
        return from_arrays(y, w, units, periods)
    order = np.argsort(np.where(is_treated, adoption, -1), kind="stable")  # never-treated first
    return StaggeredPanel(y[order], tuple(units[i] for i in order), tuple(periods), adoption[order],
                          int((~is_treated).sum()))


def from_arrays(y: np.ndarray, treated: np.ndarray, units: Sequence[str], periods: Sequence[str]) -> Panel:
    """A block-adoption panel from an outcome matrix and a 0/1 treatment matrix of the same shape.

    Staggered adoption is refused here; :func:`from_treatment` accepts both.
    """
    y, w = _checked(y, treated, units, periods)
    is_treated = w.any(axis=1)
    first = np.argmax(w[is_treated], axis=1)
    if len(set(first.tolist())) != 1:
        raise PanelError("treated units adopt in different periods (staggered adoption): "
                         "use from_treatment, which returns a StaggeredPanel")
    order = np.argsort(is_treated, kind="stable")
    return Panel(y[order], tuple(units[i] for i in order), tuple(periods), int((~is_treated).sum()), int(first[0]))


def _checked(
    y: np.ndarray, treated: np.ndarray, units: Sequence[str], periods: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The checks both designs share: shapes, some treated and some control units, adoption that
    stays, two periods before each adoption, finite outcomes."""
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(treated, dtype=bool)
    if y.ndim != 2 or w.shape != y.shape:
        raise PanelError(f"outcome and treatment must be matrices of one shape, got {y.shape} and {w.shape}")
    is_treated = w.any(axis=1)
    if not is_treated.any():
        raise PanelError("no unit is ever treated")
    if is_treated.all():
        raise PanelError("every unit is treated: there is no control unit")
    first = np.argmax(w, axis=1)
    for i in np.flatnonzero(is_treated):
        back = np.flatnonzero(~w[i, first[i]:])
        if len(back):
            raise PanelError(f"unit {units[i]!r} is treated from period {periods[first[i]]!r} but not in period "
                             f"{periods[first[i] + back[0]]!r}: a measure, once adopted, must stay in place")
    early = [i for i in np.flatnonzero(is_treated) if first[i] < 2]
    if early:
        i = early[0]
        raise PanelError(f"unit {units[i]!r}: treatment starts in period {periods[first[i]]!r}: "
                         "at least two pre-treatment periods are needed")
    bad = np.argwhere(~np.isfinite(y))
    if len(bad):
        unit, period = bad[0]
        raise PanelError(f"outcome missing or not finite for unit {units[unit]!r} in period {periods[period]!r}")
    return y, w


def load_long_csv(
    path: str | Path, *, unit: str, time: str, outcome: str, treated: str
) -> Panel | StaggeredPanel:
    """One row per (unit, period); ``,`` or ``;`` separated (detected from the header).

    A :class:`Panel` when every treated unit adopts in the same period, a
    :class:`StaggeredPanel` when they adopt at different periods.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PanelError(f"{path}: cannot read: {exc}") from None
    lines = text.splitlines()
    if not lines:
        raise PanelError(f"{path}: the file is empty")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.DictReader(lines, delimiter=delimiter)
    missing = [c for c in (unit, time, outcome, treated) if c not in (reader.fieldnames or [])]
    if missing:
        raise PanelError(f"{path}: no column {', '.join(map(repr, missing))}; the header has {reader.fieldnames}")
    cells: dict[tuple[str, str], tuple[float, int, int]] = {}
    for row_no, row in enumerate(reader, start=2):
        key = (row[unit], row[time])
        if key in cells:
            raise PanelError(f"{path}:{row_no}: unit {key[0]!r} period {key[1]!r} appears twice")
        cells[key] = (_number(path, row_no, outcome, row[outcome]), _flag(path, row_no, treated, row[treated]), row_no)
    return _balanced(path, cells)


def _balanced(path: Path, cells: dict[tuple[str, str], tuple[float, int, int]]) -> Panel | StaggeredPanel:
    units = sorted({u for u, _ in cells})
    periods = sorted({t for _, t in cells}, key=_period_key)
    if not units:
        raise PanelError(f"{path}: no data rows")
    y = np.full((len(units), len(periods)), np.nan)
    w = np.zeros_like(y, dtype=bool)
    ui = {u: i for i, u in enumerate(units)}
    ti = {t: j for j, t in enumerate(periods)}
    for (u, t), (value, flag, _) in cells.items():
        y[ui[u], ti[t]] = value
        w[ui[u], ti[t]] = bool(flag)
    if len(cells) != y.size:
        gaps = [(u, t) for u in units for t in periods if (u, t) not in cells]
        raise PanelError(f"{path}: unbalanced panel, {len(gaps)} (unit, period) pairs missing, e.g. {gaps[:3]}")
    _refuse_switch_back(path, cells, units, periods, w)
    try:
        return from_treatment(y, w, units, periods)
    except PanelError as exc:
        raise PanelError(f"{path}: {exc}") from None


def _refuse_switch_back(path: Path, cells: dict[tuple[str, str], tuple[float, int, int]], units: list[str],
                       periods: list[str], w: np.ndarray) -> None:
    """A unit whose flag goes back from 1 to 0, named with the two rows that show it."""
    for i, u in enumerate(units):
        switches = np.flatnonzero(w[i, :-1] & ~w[i, 1:])
        if len(switches):
            on, off = periods[switches[0]], periods[switches[0] + 1]
            raise PanelError(
                f"{path}:{cells[(u, off)][2]}: unit {u!r} switches back from treated (period {on!r}, row "
                f"{cells[(u, on)][2]}) to untreated (period {off!r}); a measure, once adopted, must stay in place")


def _number(path: Path, row_no: int, column: str, text: str | None) -> float:
    try:
        value = float(text) if text not in (None, "") else math.nan
    except ValueError:
        raise PanelError(f"{path}:{row_no}: column {column!r} must be a number, got {text!r}") from None
    return value


def _flag(path: Path, row_no: int, column: str, text: str | None) -> int:
    if text not in ("0", "1"):
        raise PanelError(f"{path}:{row_no}: column {column!r} must be 0 or 1, got {text!r}")
    return int(text)


def _period_key(period: str) -> tuple[int, float | str]:
    """Numeric periods in numeric order (1999 before 2000, 9 before 10), others as text."""
    try:
        return (0, float(period))
    except ValueError:
        return (1, period)
