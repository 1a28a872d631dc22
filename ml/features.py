"""The classifier's inputs, read from the warehouse: features of every exception
(`ml.ml_exception_features`, a dbt model) and the past resolutions they are labelled with."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd

from core.errors import MissingRelationError, UserError
from core.settings import Settings
from core.vocabulary import DISPOSITION_OF_TYPE
from core.warehouse import Connection, schema

log = logging.getLogger(__name__)


CATEGORICAL_FEATURES = (
    "side",
    "object_type",
    "rule_exception_type",
    "currency",
    "difference_currency",
    "match_rule_name",
    "erp_payment_method",
)
NUMERIC_FEATURES = (
    "log_amount",
    "log_abs_difference",
    "difference_sign",
    "difference_to_fee_ratio",
    "difference_to_amount_ratio",
    "is_difference_minus_fee",
    "is_difference_within_one",
    "is_cross_currency",
    "has_difference",
    "has_exchange_rate",
    "days_apart",
    "days_to_period_end",
    "is_other_period",
    "has_erp_reference",
    "has_memo",
    "has_memo_stripe_id",
    "has_memo_document_number",
    "match_confidence",
    "match_count",
    "rule_confidence",
    "log_customer_charge_count",
    "customer_prior_exception_count",
)

_FEATURE_COLUMNS = (
    "exception_id, object_id, side, object_type, rule_exception_type, rule_disposition, rule_confidence, "
    "currency, amount_minor, period, difference_minor, difference_currency, fee_minor, "
    "difference_to_fee_ratio, difference_to_amount_ratio, settlement_amount_minor, exchange_rate, "
    "is_cross_currency, days_apart, days_to_period_end, is_other_period, erp_reference, "
    "erp_payment_method, match_rule_name, match_confidence, match_count, memo, has_memo_stripe_id, "
    "has_memo_document_number, customer_charge_count, customer_prior_exception_count"
)


def connect(settings: Settings) -> Connection:
    """A read-write connection to the warehouse of the target (DuckDB or PostgreSQL), for the
    classifier's tables (core.warehouse.Connection; on DuckDB, open it after dbt finished)."""
    return Connection.open(settings)


def _read(con: Connection, query: str) -> pd.DataFrame:
    try:
        return con.frame(query)
    except MissingRelationError as error:
        raise UserError(f"The exception features are not built ({error}): run `dbt build` first.") from None


def load_features(con: Connection) -> pd.DataFrame:
    """Every exception of the warehouse with its features, ordered by exception_id."""
    table = f"{schema('ml')}.ml_exception_features"
    return _read(con, f"select {_FEATURE_COLUMNS} from {table} order by exception_id")


def load_resolutions(con: Connection) -> pd.DataFrame:
    """The analysts' past resolutions (docs/contract.md section 3b): the one in force per object,
    as the exceptions mart shows it (int_exception_resolutions_latest)."""
    table = f"{schema('matching')}.int_exception_resolutions_latest"
    frame = _read(
        con,
        "select object_id, lower(trim(exception_type)) as exception_type, "
        "lower(trim(disposition)) as disposition, resolved_at "
        f"from {table} where exception_type is not null order by object_id",
    )
    unknown = ~frame["exception_type"].isin(list(DISPOSITION_OF_TYPE))
    if unknown.any():
        log.warning("%d resolution(s) with a type outside the vocabulary ignored", int(unknown.sum()))
        frame = frame[~unknown]
    return frame.reset_index(drop=True)


def label_examples(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The exceptions that have a label (object_id, exception_type[, resolved_at]): features
    with `label_type` and `label_disposition` (the disposition of the type, per the vocabulary)."""
    renamed = labels.rename(columns={"exception_type": "label_type"})
    keep = [c for c in ("object_id", "label_type", "resolved_at") if c in renamed.columns]
    joined = features.merge(renamed[keep], on="object_id", how="inner", validate="many_to_one")
    joined["label_disposition"] = joined["label_type"].map(DISPOSITION_OF_TYPE)
    missing = len(labels) - joined["object_id"].nunique()
    if missing:
        log.info("%d labelled object(s) are not exceptions of this warehouse (no features): left out", missing)
    return joined.sort_values("exception_id", kind="stable").reset_index(drop=True)


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the model reads: categorical ones as text ('' for none), numeric as float."""
    inputs = pd.DataFrame(index=frame.index)
    for column in CATEGORICAL_FEATURES:
        inputs[column] = frame[column].astype("object").where(frame[column].notna(), "").astype(str)

    def number(column: str) -> pd.Series:
        return pd.to_numeric(frame[column], errors="coerce").astype("float64")

    def flag(column: str) -> pd.Series:
        return frame[column].astype("boolean").fillna(False).astype("float64")

    amount = number("amount_minor")
    difference = number("difference_minor")
    fee = number("fee_minor")
    inputs["log_amount"] = np.log1p(amount.abs())
    inputs["log_abs_difference"] = np.log1p(difference.abs())
    inputs["difference_sign"] = np.sign(difference)
    inputs["difference_to_fee_ratio"] = number("difference_to_fee_ratio").clip(-1e3, 1e3)
    inputs["difference_to_amount_ratio"] = number("difference_to_amount_ratio").clip(-1e3, 1e3)
    inputs["is_difference_minus_fee"] = ((difference == -fee) & difference.notna() & (fee != 0)).astype("float64")
    inputs["is_difference_within_one"] = ((difference.abs() <= 1) & difference.notna()).astype("float64")
    inputs["is_cross_currency"] = flag("is_cross_currency")
    inputs["has_difference"] = difference.notna().astype("float64")
    inputs["has_exchange_rate"] = frame["exchange_rate"].notna().astype("float64")
    inputs["days_apart"] = number("days_apart")
    inputs["days_to_period_end"] = number("days_to_period_end")
    inputs["is_other_period"] = flag("is_other_period")
    inputs["has_erp_reference"] = frame["erp_reference"].notna().astype("float64")
    inputs["has_memo"] = frame["memo"].notna().astype("float64")
    inputs["has_memo_stripe_id"] = flag("has_memo_stripe_id")
    inputs["has_memo_document_number"] = flag("has_memo_document_number")
    inputs["match_confidence"] = number("match_confidence")
    inputs["match_count"] = number("match_count")
    inputs["rule_confidence"] = number("rule_confidence")
    inputs["log_customer_charge_count"] = np.log1p(number("customer_charge_count"))
    inputs["customer_prior_exception_count"] = number("customer_prior_exception_count")
    return inputs[[*CATEGORICAL_FEATURES, *NUMERIC_FEATURES]]


def fingerprint(examples: pd.DataFrame, spec: str) -> str:
    """A digest of the training examples (their features and labels) and the model's spec:
    a new digest means the history changed and the model is retrained."""
    digest = hashlib.sha256(spec.encode())
    inputs = model_inputs(examples)
    inputs.insert(0, "object_id", examples["object_id"].astype(str).to_numpy())
    inputs["period"] = examples["period"].astype(str).to_numpy()  # the time split depends on it
    inputs["label_type"] = examples["label_type"].astype(str).to_numpy()
    digest.update(pd.util.hash_pandas_object(inputs, index=False).to_numpy().tobytes())
    return digest.hexdigest()
