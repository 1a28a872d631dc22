"""The command line: exit statuses, clear one-sentence errors, and the demo end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from recon.cli import main
from tests.conftest import DEMO_RUN_SCALE

RECON = str(Path(sys.executable).parent / "recon")


def test_help_lists_only_commands_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "stripe-api", "ingest"):
        assert command in out


def test_missing_stripe_key_exits_2_with_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    result = subprocess.run(
        [RECON, "ingest", "stripe", "--warehouse", str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("recon: STRIPE_API_KEY is not set")
    assert "Traceback" not in result.stderr


def test_review_on_spark_says_it_reads_duckdb_or_postgres_and_exits_2(tmp_path: Path) -> None:
    """Said first: not after asking for a users file the user would make for nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "recon.cli", "review", "--target", "spark", "--warehouse", str(tmp_path / "w.duckdb")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("recon: recon review reads a DuckDB or PostgreSQL warehouse, not 'spark'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "users file" not in result.stderr and not result.stdout


def test_unreachable_api_exits_2_without_the_key(tmp_path: Path) -> None:
    key = "sk_test_unreachableKeyMustNotShow42"
    result = subprocess.run(
        [RECON, "ingest", "stripe", "--warehouse", str(tmp_path / "w.duckdb"), "--stripe-api-base", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STRIPE_API_KEY": key},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert key not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_end_to_end(demo_run: Any) -> None:
    """The README's demo at a small scale (tests/conftest.py runs `recon demo` once for the suite):
    exit 0, the world, the API, what was loaded."""
    out = demo_run.output.read_text()
    assert "Stripe-compatible API: http://127.0.0.1:" in out
    assert "charges" in out and "== ingest stripe: done" in out and "== ingest erp: done" in out
    assert "== dbt build: done" in out and "Match rate:" in out and "Exceptions:" in out
    assert "== classify: done" in out and "== balance checks: done" in out
    assert "Match scorer:" in out and "learned from" in out
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        charges = con.execute("select count(*) from raw_stripe.charges").fetchone()
        payments = con.execute("select count(*) from raw_erp.payments").fetchone()
    assert charges and charges[0] > DEMO_RUN_SCALE
    assert payments and payments[0] > DEMO_RUN_SCALE


def test_stripe_api_command_serves_a_world(small_world: Path) -> None:
    import socket
    import time

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [RECON, "stripe-api", "--world", str(small_world), "--port", str(port), "--api-key", "sk_test_cli_key_1234"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/v1/charges",
                    params={"limit": 3},
                    headers={"Authorization": "Bearer sk_test_cli_key_1234"},
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the local API did not start"
                time.sleep(0.2)
        assert answer.status_code == 200
        body = answer.json()
        assert body["object"] == "list" and len(body["data"]) == 3 and body["has_more"] is True
        wrong = requests.get(f"http://127.0.0.1:{port}/v1/charges", headers={"Authorization": "Bearer sk_test_nope"}, timeout=5)
        assert wrong.status_code == 401
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "sk_test_cli_key_1234" not in output


def test_run_stops_at_once_on_an_erp_file_it_cannot_read(small_world: Path, tmp_path: Path) -> None:
    """A payments.csv in UTF-16: exit 2 before the Stripe ingest (the API here answers nothing),
    one sentence naming the file and the option that would go on without it."""
    import shutil

    erp = tmp_path / "erp"
    shutil.copytree(small_world / "erp", erp)
    (erp / "payments.csv").write_bytes((erp / "payments.csv").read_text(encoding="utf-8").encode("utf-16"))
    result = subprocess.run(
        [RECON, "run", "--warehouse", str(tmp_path / "w.duckdb"), "--erp-dir", str(erp), "--stripe-api-base", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STRIPE_API_KEY": "sk_test_never_used_0000"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "== ingest stripe" not in result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert "payments.csv is UTF-16 or UTF-32 text" in line and "--allow-missing-source erp/payments" in line


def test_run_chains_the_steps_and_exits_1_naming_a_broken_invariant(small_world: Path, tmp_path: Path) -> None:
    """`recon run` against a Stripe API and ERP books with one journal that does not balance:
    every step runs (the marts and the BI copy are built), then the run exits 1 naming the
    broken invariant. One run for both: a run of the same books without the defect is the
    suite's demo run (tests/conftest.py), which exits 0."""
    import csv
    import shutil
    from decimal import Decimal

    from demoworld.stripe_api import StripeAPIServer

    erp = tmp_path / "erp"
    shutil.copytree(small_world / "erp", erp)
    path = erp / "gl_entries.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0])
    target = next(row for row in rows if row["debit"] not in ("", "0", "0.00") and row["currency"].lower() == "usd")
    target["debit"] = str(Decimal(target["debit"]) + 1)  # one dollar more on one line
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    key = "sk_test_run_command_key_77"
    with StripeAPIServer(small_world, api_keys=(key,), index_path=tmp_path / "index.sqlite3") as server:
        result = subprocess.run(
            [RECON, "run", "--warehouse", str(tmp_path / "w.duckdb"), "--erp-dir", str(erp)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "STRIPE_API_KEY": key,
                "STRIPE_API_BASE": server.url,
                "RECON_STRIPE_MAX_RPS": "1000",
                "RECON_DECISIONS_DIR": str(small_world / "decisions"),
            },
        )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "journal" in result.stderr.lower()
    for step in ("== ingest stripe: done", "== ingest erp: done", "== dbt build: done", "== classify: done", "Match rate:"):
        assert step in result.stdout, step
    assert key not in result.stdout + result.stderr
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        matched = con.execute("select count(*) from marts.fct_reconciliation_matches").fetchone()
    assert matched and matched[0] > 1_000
    # What BI reads: the marts as the run built them, in the copy beside the warehouse.
    assert f"== BI copy: {tmp_path / 'w.bi.duckdb'}" in result.stdout
    with duckdb.connect(str(tmp_path / "w.bi.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_reconciliation_matches").fetchone() == matched
        assert con.execute("select published_by from recon_meta.publication").fetchall() == [("recon run",)]
