"""Settings: each an option and an environment variable, the option winning (docs/contract.md 1)."""

from pathlib import Path

import pytest

from core.errors import UserError
from core.settings import DEFAULT_STRIPE_TIMEOUT_S, DEFAULT_TARGET, resolve


def test_defaults_when_nothing_is_set() -> None:
    settings = resolve(env={})
    assert settings.warehouse == Path("warehouse/recon.duckdb").resolve()
    assert settings.target == DEFAULT_TARGET == "duckdb"
    assert settings.erp_dir is None and settings.erp_sql is None and settings.decisions_dir is None
    assert settings.bank_dir is None
    assert settings.stripe_api_base is None and settings.stripe_api_key is None


@pytest.mark.parametrize(
    ("option", "variable", "attribute"),
    [
        pytest.param("warehouse", "RECON_WAREHOUSE", "warehouse", id="warehouse"),
        pytest.param("target", "RECON_TARGET", "target", id="target"),
        pytest.param("erp_dir", "RECON_ERP_DIR", "erp_dir", id="erp-dir"),
        pytest.param("erp_sql", "RECON_ERP_SQL", "erp_sql", id="erp-sql"),
        pytest.param("decisions_dir", "RECON_DECISIONS_DIR", "decisions_dir", id="decisions-dir"),
        pytest.param("bank_dir", "RECON_BANK_DIR", "bank_dir", id="bank-dir"),
        pytest.param("stripe_api_base", "STRIPE_API_BASE", "stripe_api_base", id="stripe-api-base"),
        pytest.param("bi_copy", "RECON_BI_COPY", "bi_copy", id="bi-copy"),
    ],
)
def test_option_wins_over_variable(option: str, variable: str, attribute: str, tmp_path: Path) -> None:
    from_env = str(tmp_path / "from-env")
    from_option = str(tmp_path / "from-option")
    only_env = resolve(env={variable: from_env})
    both = resolve(env={variable: from_env}, **{option: from_option})
    assert str(getattr(only_env, attribute)) == from_env
    assert str(getattr(both, attribute)) == from_option


def test_the_api_key_never_shows_in_a_repr() -> None:
    settings = resolve(env={"STRIPE_API_KEY": "sk_test_do_not_print_me_123"})
    assert settings.stripe_api_key == "sk_test_do_not_print_me_123"
    assert "do_not_print" not in repr(settings)
    assert "do_not_print" not in str(settings)
    assert "<set>" in repr(settings)


def test_the_stripe_timeout_is_a_positive_number_of_seconds() -> None:
    assert resolve(env={}).stripe_timeout == DEFAULT_STRIPE_TIMEOUT_S
    assert resolve(env={"RECON_STRIPE_TIMEOUT": "2.5"}).stripe_timeout == 2.5
    assert resolve(env={"RECON_STRIPE_TIMEOUT": "2.5"}, stripe_timeout=7).stripe_timeout == 7
    for wrong in ("soon", "0", "-3"):
        with pytest.raises(UserError, match="RECON_STRIPE_TIMEOUT"):
            resolve(env={"RECON_STRIPE_TIMEOUT": wrong})


def test_the_bi_copy_is_never_the_warehouse_nor_named_after_a_schema_it_holds(tmp_path: Path) -> None:
    assert resolve(env={}).bi_copy is None  # the default: <warehouse stem>.bi.duckdb (recon.bi_copy)
    warehouse = str(tmp_path / "books.duckdb")
    with pytest.raises(UserError, match="the warehouse itself"):
        resolve(warehouse=warehouse, bi_copy=warehouse, env={})
    for name in ("marts.duckdb", "recon_meta.db"):
        with pytest.raises(UserError, match="ambiguous"):
            resolve(warehouse=warehouse, env={"RECON_BI_COPY": str(tmp_path / name)})


def test_dbt_tests_left_out_are_generic_test_names() -> None:
    assert resolve(env={}).skip_dbt_tests == frozenset()
    assert resolve(env={"RECON_SKIP_DBT_TESTS": "not_null, unique"}).skip_dbt_tests == {"not_null", "unique"}
    assert resolve(env={"RECON_SKIP_DBT_TESTS": "unique"}, skip_dbt_tests=["not_null", "accepted_values"]).skip_dbt_tests == {
        "not_null", "accepted_values"
    }
    assert "skip_dbt_tests=['not_null']" in repr(resolve(env={"RECON_SKIP_DBT_TESTS": "not_null"}))
    # A selector is not a test name: models, tags and paths cannot be left out this way.
    for wrong in ("tag:nightly", "models/marts", "fct_reconciliation_matches+", "Not-Null"):
        with pytest.raises(UserError, match="--skip-dbt-tests"):
            resolve(env={"RECON_SKIP_DBT_TESTS": wrong})
