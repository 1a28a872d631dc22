"""Time the ERP load on a synthetic payments file: first load, then an unchanged re-load.

.venv/bin/python benchmarks/bench_erp_ingest.py [--rows 200000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import tempfile
import time
from pathlib import Path

import recon  # noqa: F401  - telemetry off
from core.settings import resolve
from ingest.erp import load_erp

CURRENCIES = [("usd", 2), ("eur", 2), ("jpy", 0), ("kwd", 3)]


def write_books(folder: Path, rows: int) -> None:
    rng = random.Random(7)
    with (folder / "payments.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "payment_number",
                "document_number",
                "payment_date",
                "currency",
                "amount",
                "payment_method",
                "memo",
            ]
        )
        for n in range(rows):
            currency, exponent = CURRENCIES[n % len(CURRENCIES)]
            minor = rng.randint(-5_000, 500_000)
            amount = f"{minor / 10**exponent:.{exponent}f}" if exponent else str(minor)
            writer.writerow(
                [
                    f"P-{n:08d}",
                    f"INV-{n // 2:08d}",
                    f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
                    currency,
                    amount,
                    "stripe" if n % 3 else "wire",
                    f"ch_{n:016x}",
                ]
            )
    (folder / "invoices.csv").write_text(
        "document_number,document_type,customer_number,document_date,currency,amount\n",
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder, keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_erp_"))
    erp = root / "erp"
    erp.mkdir(parents=True, exist_ok=True)
    write_books(erp, args.rows)
    settings = resolve(warehouse=str(root / "recon.duckdb"), erp_dir=str(erp), env={})
    for label in ("first load", "unchanged re-load"):
        started = time.perf_counter()
        report = load_erp(settings, pipelines_dir=root / "pipelines")
        seconds = time.perf_counter() - started
        payments = report.table("payments")
        print(
            f"{label:18} {args.rows:>9} rows  {seconds:6.1f} s  {args.rows / seconds:>9,.0f} rows/s"
            f"  (new {payments.new_rows}, updated {payments.updated_rows},"
            f" unchanged {payments.unchanged_rows}, quarantined {payments.quarantined_rows})"
        )


if __name__ == "__main__":
    main()
