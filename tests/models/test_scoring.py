"""The scored matching end to end on the small world: weights learned from the built warehouse
are written where the SQL reads them, and --rules-only leaves the rules alone."""

from __future__ import annotations

from typing import Any

from core.settings import resolve
from recon.dbt import run_dbt


def _env(built: Any, **extra: str) -> dict[str, str]:
    return {"RECON_WAREHOUSE": str(built.warehouse), "RECON_TARGET": "duckdb", **extra}


def test_learned_weights_reach_the_scored_pairs_and_rules_only_drops_them(built: Any, con: Any) -> None:
    from ml.match_scorer import DOWNSTREAM_SELECTOR, learn

    settings = resolve(warehouse=str(built.warehouse), target="duckdb", env={})
    report = learn(settings)
    by_type = {fit.match_type: fit for fit in report.fits}
    assert by_type["charge_payment"].source == "learned", by_type["charge_payment"].reason
    learned = dict(
        ((f, lv), float(w))
        for f, lv, w in con.sql(
            "select feature, level, weight from ml.match_scorer_weights where match_type = 'charge_payment'"
        ).fetchall()
    )
    assert learned[("intercept", "")] == round(by_type["charge_payment"].weights[("intercept", "")], 6)
    assert con.sql("select count(*) from ml.match_scorer_runs").fetchall()[0][0] >= 2

    run_dbt(["build", "--select", DOWNSTREAM_SELECTOR], _env(built))
    # a pair's score is the intercept plus its levels' learned weights
    row = con.sql(
        "select score, amount_level, days_level, email_level, name_level, customer_number_level, "
        "stripe_id_level, document_level, method_level from matching.int_match_pairs_scored "
        "where match_type = 'charge_payment' order by stripe_object_id, payment_number limit 1"
    ).fetchall()[0]
    features = ("amount_level", "days_level", "email_level", "name_level", "customer_number_level",
                "stripe_id_level", "document_level", "method_level")
    expected = learned[("intercept", "")] + sum(learned[(f, level)] for f, level in zip(features, row[1:], strict=True))
    assert abs(float(row[0]) - expected) < 1e-6

    try:
        run_dbt(["build", "--select", DOWNSTREAM_SELECTOR], _env(built, RECON_RULES_ONLY="1"))
        assert con.sql("select count(*) from matching.int_match_pairs_proposed").fetchall()[0][0] == 0
        rules = {r[0] for r in con.sql("select distinct rule_name from marts.fct_reconciliation_matches").fetchall()}
        assert not rules & {"scored_match", "scored_split"}, rules
    finally:  # the other tests of the session read the normal build
        run_dbt(["build", "--select", DOWNSTREAM_SELECTOR], _env(built))
