"""The exception classifier at 100k exceptions: training time and classification time.

    .venv/bin/python benchmarks/bench_classifier.py [--warehouse FILE] [--rows 100000] [--seed 7]

Real exceptions are few (about 3 per 100 charges), so the 100k rows are the labelled
exceptions of a built demo warehouse (`recon demo`; one is made under --work-dir when none is
given) resampled with replacement, with new ids and amounts jittered by up to 5%: realistic
feature distributions at the target size. Prints training time (fit, with calibration) and
classification time (predict plus writing ml.ml_exception_classifications into a scratch
DuckDB file). Targets on 2 cores: training at most 60 s, classification at most 20 s.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from core.warehouse import Connection
from ml.features import label_examples, load_features, load_resolutions
from ml.training import fit

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def _warehouse(path: str | None, seed: int, work: Path) -> Path:
    if path:
        return Path(path)
    warehouse = work / f"bench-classifier-s{seed}.duckdb"
    if not warehouse.exists():
        subprocess.run(
            [str(BIN / "recon"), "demo", "--scale", "20000", "--seed", str(seed),
             "--world-dir", str(work / f"world-s{seed}-20000"), "--warehouse", str(warehouse)],
            check=True, stdout=subprocess.DEVNULL,
        )
    return warehouse


def _resample(examples: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = examples.iloc[rng.integers(0, len(examples), rows)].reset_index(drop=True)
    frame["exception_id"] = [f"bench{i:08d}" for i in range(rows)]
    frame["object_id"] = frame["exception_id"]
    jitter = 1.0 + rng.uniform(-0.05, 0.05, rows)
    frame["amount_minor"] = (pd.to_numeric(frame["amount_minor"]).to_numpy() * jitter).round().astype("int64")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", help="a built DuckDB warehouse with past resolutions")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", default=str(ROOT / "benchmarks" / ".work"))
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    warehouse = _warehouse(args.warehouse, args.seed, work)
    con = Connection(duckdb.connect(str(warehouse), read_only=True), "duckdb")
    try:
        examples = label_examples(load_features(con), load_resolutions(con))
    finally:
        con.close()
    frame = _resample(examples, args.rows, args.seed)
    print(f"{len(examples):,} labelled exceptions in {warehouse}, resampled to {len(frame):,} rows")

    started = time.perf_counter()
    model = fit(frame, seed=args.seed)
    training = time.perf_counter() - started
    print(f"training: {training:6.1f} s  (target <= 60 s)  model {model.version}")

    started = time.perf_counter()
    predictions = model.predict(frame)
    predicting = time.perf_counter() - started
    out = pd.DataFrame(
        {
            "exception_id": frame["exception_id"],
            "exception_type": predictions.exception_type.astype(str),
            "disposition": predictions.disposition.astype(str),
            "confidence": predictions.confidence.round(4),
            "model_version": model.version,
            "classified_at": datetime.now(UTC).replace(tzinfo=None),
        }
    )
    with tempfile.TemporaryDirectory() as scratch:
        target = duckdb.connect(str(Path(scratch) / "scratch.duckdb"))
        target.register("frame", out)
        target.execute("create table ml_exception_classifications as select * from frame")
        target.close()
    classifying = time.perf_counter() - started
    print(f"classification: {classifying:6.1f} s  (target <= 20 s; predict {predicting:.1f} s, write the rest)")
    agreement = float(np.mean(predictions.exception_type == frame["label_type"].to_numpy()))
    print(f"in-sample type agreement: {agreement:.4f}")


if __name__ == "__main__":
    main()
