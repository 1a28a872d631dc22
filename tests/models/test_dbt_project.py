"""The repository is a plain dbt project: `dbt build` from the root works (on PostgreSQL too:
tests/recon/test_targets_agree.py builds a whole world there and compares the marts)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_DIR


def test_dbt_build_on_duckdb(built: Any, con: Any) -> None:
    assert built.result.success
    statuses = {str(r.status) for r in built.result.result.results}
    assert statuses <= {"success", "pass"}, statuses
    rows = dict(con.sql("select currency, exponent from seeds.currencies").fetchall())
    assert rows["jpy"] == 0 and rows["usd"] == 2 and rows["kwd"] == 3
    for mart in (
        "fct_reconciliation_matches",
        "fct_reconciliation_exceptions",
        "rpt_payout_reconciliation",
        "rpt_payout_invoices",
    ):
        assert con.sql(f"select count(*) from marts.{mart}").fetchall()[0][0] > 0, mart


def test_unit_tests_of_matching_rules_ran(built: Any) -> None:
    unit_tests = [r for r in built.result.result.results if r.node.resource_type == "unit_test"]
    assert unit_tests, "the matching rules have dbt unit tests"
    assert all(str(r.status) == "pass" for r in unit_tests)


def test_every_rule_file_is_registered() -> None:
    """Adding a rule is adding its file and its name in dbt_project.yml's var matching_rules."""
    import yaml

    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    registered = set(project["vars"]["matching_rules"])
    files = {p.stem for p in (PROJECT_DIR / "models" / "matching" / "rules").glob("*.sql")}
    assert files - registered == set(), f"rule files not in var matching_rules: {files - registered}"
    assert registered - files == set(), f"registered rules without a file: {registered - files}"


def test_the_bank_exception_types_var_is_the_vocabulary() -> None:
    """The models tell a bank resolution from a classified one by var bank_exception_types."""
    import yaml

    from core.vocabulary import BANK_EXCEPTION_TYPES

    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert tuple(project["vars"]["bank_exception_types"]) == BANK_EXCEPTION_TYPES


def test_money_is_integer_minor_units(con: Any) -> None:
    kinds = con.sql(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and column_name like '%\\_minor' escape '\\'"
    ).fetchall()
    assert kinds and all(kind == "BIGINT" for _, _, kind in kinds), kinds
    # KWD has three decimals, JPY none: 12.345 KWD is 12345 fils, 1200 JPY is 1200 yen.
    rows = con.sql(
        "select p.currency, p.amount_minor, cast(raw.amount as varchar) from staging.stg_erp__payments as p "
        "inner join raw_erp.payments as raw using (payment_number) where p.currency in ('kwd', 'jpy') limit 50"
    ).fetchall()
    for currency, minor, major in rows:
        exponent = 3 if currency == "kwd" else 0
        assert Decimal(major) * (10**exponent) == minor


def test_match_ids_are_hashes_of_the_natural_key(con: Any) -> None:
    bad = con.sql(
        "select count(*) from marts.fct_reconciliation_matches where match_id <> md5("
        "match_type || '|' || stripe_object_id || '|' || coalesce(erp_document_number, '') || '|' "
        "|| coalesce(erp_payment_number, '') || '|' || coalesce(erp_journal_number, ''))"
    ).fetchall()[0][0]
    assert bad == 0


def test_human_decisions_are_honoured(con: Any) -> None:
    rejected_back = con.sql(
        "select count(*) from marts.fct_reconciliation_matches as m "
        "inner join staging.stg_decisions__match_decisions as d "
        "on d.stripe_object_id = m.stripe_object_id and d.decision = 'rejected' "
        "and coalesce(d.erp_document_number, m.erp_document_number, '') = coalesce(m.erp_document_number, '') "
        "and coalesce(d.erp_payment_number, m.erp_payment_number, '') = coalesce(m.erp_payment_number, '') "
        "where m.status <> 'rejected'"
    ).fetchall()[0][0]
    assert rejected_back == 0
    confirmed, kept = con.sql(
        "select count(*), count(m.match_id) from staging.stg_decisions__match_decisions as d "
        "left join marts.fct_reconciliation_matches as m on m.stripe_object_id = d.stripe_object_id "
        "and m.erp_payment_number = d.erp_payment_number and m.status = 'confirmed' "
        "where d.decision = 'confirmed'"
    ).fetchall()[0]
    assert confirmed > 0 and kept == confirmed


def test_each_payment_matched_to_one_stripe_object_at_most(con: Any) -> None:
    """A receipt paying several invoices is several rows, all of one Stripe object."""
    assert con.sql(
        "select count(*) from (select erp_payment_number from marts.fct_reconciliation_matches "
        "where erp_payment_number is not null group by 1 having count(distinct stripe_object_id) > 1)"
    ).fetchall()[0][0] == 0


def test_evaluation_meets_the_targets(built: Any, con: Any) -> None:
    from recon.evaluate import _EXCEPTIONS_SQL, _ITEMS_SQL, _MATCHES_SQL, _PAYOUTS_SQL, score

    names = {"marts": "marts", "staging": "staging"}
    evaluation = score(
        built.world,
        con.sql(_MATCHES_SQL.format(**names)).fetchall(),
        con.sql(_EXCEPTIONS_SQL.format(**names)).fetchall(),
        con.sql(_PAYOUTS_SQL.format(**names)).fetchall(),
        int(con.sql(_ITEMS_SQL.format(**names)).fetchall()[0][0]),
    )
    print(evaluation.render())
    by_type = {m.match_type: m for m in evaluation.matches}
    for match_type in ("charge_payment", "refund_payment"):
        assert by_type[match_type].precision >= 0.995, by_type[match_type]
        assert by_type[match_type].recall >= 0.99, by_type[match_type]
    assert by_type["payout_deposit"].precision == 1.0
    assert by_type["payout_deposit"].recall == 1.0
    assert evaluation.anomalies_found == evaluation.anomalies, evaluation.missed_anomalies
    assert evaluation.false_exception_share < 0.01
    assert evaluation.payout_status_accuracy == 1.0


def test_a_deposit_of_another_amount_is_a_variance_and_an_amount_mismatch(
    built: Any, con: Any
) -> None:
    """The world's `variance` payouts (a deposit booked at another amount): status `variance`,
    a payout_deposit match carrying the difference, and an `amount_mismatch` on the payout."""
    import csv

    with (built.world / "truth" / "payouts.csv").open(newline="", encoding="utf-8") as handle:
        truth = {
            row["payout_id"]: row
            for row in csv.DictReader(handle)
            if row["expected_recon_status"] == "variance"
        }
    assert truth, "the demo world has variance payouts"
    ids = list(truth)
    reported = {
        row[0]: row[1:]
        for row in con.execute(
            "select payout_id, status, erp_journal_number, erp_deposit_amount_minor "
            "from marts.rpt_payout_reconciliation where list_contains(?, payout_id)",
            [ids],
        ).fetchall()
    }
    matched = {
        row[0]: row[1:]
        for row in con.execute(
            "select stripe_object_id, erp_journal_number, difference_minor "
            "from marts.fct_reconciliation_matches "
            "where match_type = 'payout_deposit' and list_contains(?, stripe_object_id)",
            [ids],
        ).fetchall()
    }
    excepted = {
        row[0]: row[1:]
        for row in con.execute(
            "select object_id, exception_type, disposition, difference_minor "
            "from marts.fct_reconciliation_exceptions where list_contains(?, object_id)",
            [ids],
        ).fetchall()
    }
    for po_id, row in truth.items():
        deposit = int(row["deposit_amount_minor"])
        difference = deposit - int(row["payout_amount_minor"])
        assert difference != 0
        assert reported[po_id] == ("variance", row["erp_journal_number"], deposit), po_id
        assert matched[po_id] == (row["erp_journal_number"], difference), po_id
        assert excepted[po_id] == ("amount_mismatch", "true_exception", difference), po_id


def test_evaluate_command_prints_the_table(
    built: Any, con: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`recon evaluate` on a copy of the warehouse (this process holds the original open)."""
    import shutil

    from recon.cli import main

    con.execute("checkpoint")
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse, copy)
    assert main(["evaluate", "--world", str(built.world), "--warehouse", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "charge_payment" in out and "payouts with the right status" in out


# The folders of the dbt models issue (models/ml/ belongs to the classifier and is not covered here).
_DESCRIBED_FOLDERS = ("models/staging/", "models/intermediate/", "models/matching/", "models/marts/")


def test_every_model_and_column_is_described(built: Any, con: Any) -> None:
    """Every model has a YAML description starting with its grain, and every column it builds
    is described there (and nothing described is missing from the warehouse)."""
    import json

    target = Path(os.environ.get("DBT_TARGET_PATH") or PROJECT_DIR / "target")  # per xdist worker (tests/conftest.py)
    manifest = json.loads((target / "manifest.json").read_text())
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or not node["original_file_path"].startswith(_DESCRIBED_FOLDERS):
            continue
        if not node["description"].startswith("One row per"):
            problems.append(f"{node['name']}: description does not start with its grain")
        built_columns = {
            name
            for (name,) in con.sql(
                # By name only: a later run (the PostgreSQL test's prefixed schemas) may have
                # rewritten the manifest's schema names; model names are unique anyway.
                "select column_name from information_schema.columns "
                f"where table_name = '{node['alias']}' and table_schema not like 'raw%'"
            ).fetchall()
        }
        described = {name for name, column in node["columns"].items() if column["description"].strip()}
        if built_columns - described:
            problems.append(f"{node['name']}: undescribed columns {sorted(built_columns - described)}")
        if set(node["columns"]) - built_columns:
            problems.append(f"{node['name']}: described but not built {sorted(set(node['columns']) - built_columns)}")
    assert not problems, "\n".join(problems)


def test_unit_test_names_fit_postgres() -> None:
    """dbt names a relation after each unit test: PostgreSQL cuts identifiers at 63 characters
    (and the test's schema prefix is not part of it), so the names stay well below."""
    import yaml

    names = [
        test["name"]
        for path in (PROJECT_DIR / "models").rglob("*.yml")
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    ]
    assert names, "the matching rules have unit tests"
    assert all(len(name) <= 63 for name in names), [name for name in names if len(name) > 63]
