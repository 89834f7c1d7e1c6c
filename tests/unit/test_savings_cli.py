"""``edgewise savings``: the JSON a script reads, and the one-line refusals a person reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main

COLUMNS = ["--unit", "site", "--time", "month", "--outcome", "kwh", "--treated", "retrofit"]


def panel_csv(tmp_path: Path, treated_sites: int = 3) -> Path:
    """8 sites × 10 months; the last ``treated_sites`` save 5 kWh from month 7."""
    lines = ["site;month;kwh;retrofit"]
    for s in range(8):
        for m in range(1, 11):
            treated = s >= 8 - treated_sites and m >= 7
            kwh = 100 + 3 * s + 2 * m + (s * m) % 3 - (5 if treated else 0)
            lines.append(f"s{s};{m};{kwh};{int(treated)}")
    path = tmp_path / "fleet.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_has_one_object_per_method_with_the_estimate_and_its_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["savings", str(panel_csv(tmp_path)), *COLUMNS, "--se", "jackknife", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [r["method"] for r in rows] == ["did", "sc", "sc-intercept", "mc", "sdid", "trop"]
    for r in rows:
        assert {"estimate", "se", "ci_low", "ci_high", "n_units", "n_treated", "n_periods", "n_pre"} <= r.keys()
        assert (r["n_units"], r["n_treated"], r["n_periods"], r["n_pre"]) == (8, 3, 10, 6)
        assert r["ci_low"] <= r["estimate"] <= r["ci_high"]
    did = rows[0]
    assert did["estimate"] == pytest.approx(-5.0, abs=1.0)


def test_a_request_that_cannot_be_answered_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_treated = panel_csv(tmp_path, treated_sites=1)
    assert main(["savings", str(one_treated), *COLUMNS, "--se", "bootstrap"]) == 2
    assert "need at least two treated units" in capsys.readouterr().err
    assert main(["savings", str(tmp_path / "none.csv"), *COLUMNS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgewise savings: ") and "cannot read" in err and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["savings", str(one_treated), *COLUMNS, "--method", "magic"])  # argparse names the choices
