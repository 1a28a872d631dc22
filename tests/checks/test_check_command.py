"""`recon check`: exit 0 clean, 1 a check failed (named), 2 it could not run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recon.cli import main


def _check(warehouse: Path, tmp_path: Path, *extra: str) -> int:
    return main(["check", "--warehouse", str(warehouse), "--report-dir", str(tmp_path / "docs"), *extra])


def test_clean_warehouse_exits_0_and_prints_the_report_path(
    make_warehouse: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(make_warehouse(), tmp_path) == 0
    out = capsys.readouterr().out
    assert "0 failed, 0 could not run" in out
    assert f"report (Great Expectations Data Docs): {tmp_path / 'docs' / 'index.html'}" in out


def test_broken_warehouse_exits_1_naming_the_invariant(
    make_warehouse: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = make_warehouse("update raw_stripe.balance_transactions set fee = 60 where id = 'txn_ch1'")
    assert _check(warehouse, tmp_path) == 1
    captured = capsys.readouterr()
    assert "FAILED  amount - fee = net" in captured.out and "txn_ch1" in captured.out
    assert captured.err.startswith("recon: 1 check(s) failed: amount - fee = net (1 rows)")


def test_raw_warehouse_without_marts_exits_2_saying_so(
    make_warehouse: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(make_warehouse(marts=False), tmp_path) == 2
    captured = capsys.readouterr()
    assert "NOT RUN  the mart suite: the marts are not built" in captured.out
    assert "recon: The mart checks could not run: the marts are not built" in captured.err
    # The raw suite alone is a clean run.
    assert _check(make_warehouse(marts=False, name="raw.duckdb"), tmp_path, "--suite", "raw") == 0


def test_no_warehouse_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _check(tmp_path / "missing.duckdb", tmp_path) == 2
    err = capsys.readouterr().err
    assert err.startswith("recon: Warehouse") and "not found" in err
    assert "Traceback" not in err
