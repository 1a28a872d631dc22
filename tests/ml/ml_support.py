"""Helpers of the classifier's tests, in a module of its own (not conftest.py), so that tests import
it by a name no other folder uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import Settings, resolve
from core.vocabulary import DISPOSITION_OF_TYPE


@dataclass(frozen=True)
class MlWarehouse:
    world: Path
    warehouse: Path
    settings: Settings


def copy_warehouse(source: Path, target: Path) -> Settings:
    """A copy of a DuckDB warehouse (every schema and table), for a test that changes it."""
    import duckdb

    # dbt-duckdb may hold the source open in this process: open it the same way, attach the copy.
    con = duckdb.connect(str(source))
    try:
        con.execute(f"attach '{target}' as warehouse_copy")
        con.execute(f"copy from database {source.stem} to warehouse_copy")
        con.execute("detach warehouse_copy")
    finally:
        con.close()
    return resolve(warehouse=str(target), target="duckdb", env={})


# -- histories grown from a real warehouse's exceptions --------------------------------------------
#
# A demo world small enough for the tests has about one exception of each rule-based type a month:
# too few for a time split to tell a model from the rules. These helpers repeat each real exception
# (its features as dbt built them) several times a period, with new ids and jittered amounts, and
# let a test decide how the analysts resolved them.


def grown_history(features: pd.DataFrame, periods: Sequence[int], copies: int, seed: int) -> pd.DataFrame:
    """`copies` exceptions like each real one in each period: new ids, amounts jittered by up to
    5%, the difference scaled with the amount (its ratios recomputed)."""
    rng = np.random.default_rng(seed)
    parts = []
    for period in periods:
        for copy in range(copies):
            part = features.copy()
            ids = [f"grown-{period}-{copy}-{i}" for i in range(len(part))]
            part["exception_id"], part["object_id"], part["period"] = ids, ids, period
            jitter = 1.0 + rng.uniform(-0.05, 0.05, len(part))
            part["amount_minor"] = (pd.to_numeric(part["amount_minor"]).to_numpy() * jitter).round().astype("int64")
            difference = pd.to_numeric(part["difference_minor"]).astype("float64").to_numpy()
            part["difference_minor"] = pd.array(np.round(difference * jitter), dtype="Int64")
            part["rule_confidence"] = pd.to_numeric(part["rule_confidence"]).astype("float64")
            recompute_ratios(part)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def recompute_ratios(frame: pd.DataFrame) -> None:
    """difference_to_fee_ratio and difference_to_amount_ratio as ml_exception_features computes them."""
    difference = pd.to_numeric(frame["difference_minor"]).astype("float64")
    fee = pd.to_numeric(frame["fee_minor"]).astype("float64")
    amount = pd.to_numeric(frame["amount_minor"]).astype("float64")
    frame["difference_to_fee_ratio"] = (difference / fee.where(fee != 0)).round(6)
    frame["difference_to_amount_ratio"] = (difference / amount.where(amount != 0)).round(6)


def labelled(frame: pd.DataFrame, label_type: Sequence[str] | pd.Series) -> pd.DataFrame:
    """The frame as training examples: `label_type` and the disposition of each."""
    out = frame.copy()
    out["label_type"] = list(label_type)
    out["label_disposition"] = out["label_type"].map(DISPOSITION_OF_TYPE)
    return out


def netted_amount_mismatches(frame: pd.DataFrame, seed: int) -> pd.Series:
    """Books that deduct a bank's own charge on top of Stripe's fee: half the charges the rules
    type `amount_mismatch` get a difference of minus (the fee plus up to half of it again), which
    no rule explains (it is not exactly the fee); the other half a positive difference of 5 to 30%
    of the amount (a keying error). Returns the mask of the netted ones; changes `frame`."""
    rng = np.random.default_rng(seed)
    candidates = (frame["rule_exception_type"] == "amount_mismatch") & (frame["object_type"] == "charge")
    candidates &= pd.to_numeric(frame["fee_minor"]).fillna(0) > 1
    netted = candidates & pd.Series(rng.random(len(frame)) < 0.5, index=frame.index)
    keyed = candidates & ~netted
    fee = pd.to_numeric(frame["fee_minor"]).fillna(0).astype("int64")
    amount = pd.to_numeric(frame["amount_minor"]).astype("int64")
    extra = np.array([rng.integers(1, max(2, f // 2) + 1) for f in fee])
    difference = pd.to_numeric(frame["difference_minor"]).astype("Int64").copy()
    difference[netted] = -(fee[netted] + extra[netted.to_numpy()])
    difference[keyed] = (amount[keyed] * rng.uniform(0.05, 0.3, int(keyed.sum()))).round().astype("int64")
    frame["difference_minor"] = difference
    frame["difference_currency"] = frame["difference_currency"].where(~candidates, frame["currency"])
    recompute_ratios(frame)
    return netted
