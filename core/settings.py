"""Settings of a run: each an option and an environment variable (the option wins).

See docs/contract.md section 1 for the public names and defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

# The repository root: the dbt project lives here and the package is installed from it.
PROJECT_DIR = Path(__file__).resolve().parent.parent
CURRENCIES_SEED = PROJECT_DIR / "seeds" / "currencies.csv"

DEFAULT_WAREHOUSE = "warehouse/recon.duckdb"
DEFAULT_TARGET = "duckdb"
# Seconds the Stripe API may take to answer one request (connect and read) before it is retried.
DEFAULT_STRIPE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Settings:
    """Resolved settings. `stripe_api_key` is never printed: see `__repr__`."""

    warehouse: Path
    target: str
    erp_dir: Path | None
    erp_sql: str | None
    decisions_dir: Path | None
    stripe_api_base: str | None
    stripe_api_key: str | None
    stripe_max_rps: float | None = None
    stripe_timeout: float = DEFAULT_STRIPE_TIMEOUT_S
    # The analysts' SQL rules alone: no scored matching, no classifier (a baseline to compare with).
    rules_only: bool = False
    # Inputs a run may go on without when they cannot be read (`erp`, `erp/payments`,
    # `decisions/match_decisions`): their last good load stands and the summary says it is stale.
    allow_missing_sources: frozenset[str] = frozenset()
    # Bank statement files (BAI2, camt.053, CSV): the third witness of the payouts; None: no bank side.
    bank_dir: Path | None = None
    # The marts' read-only copy for BI on DuckDB (recon.bi_copy); None: `<warehouse stem>.bi.duckdb`
    # beside the warehouse.
    bi_copy: Path | None = None
    # dbt generic tests left out of every build on purpose, by name (`not_null`, `unique`): for a
    # warehouse where dbt's per-column tests cost more than they tell; said in the run's output.
    skip_dbt_tests: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        key = "<set>" if self.stripe_api_key else "<unset>"
        return (
            f"Settings(warehouse={self.warehouse!s}, target={self.target}, "
            f"erp_dir={self.erp_dir}, erp_sql={'<set>' if self.erp_sql else None}, "
            f"decisions_dir={self.decisions_dir}, stripe_api_base={self.stripe_api_base}, "
            f"stripe_api_key={key}, stripe_max_rps={self.stripe_max_rps}, stripe_timeout={self.stripe_timeout:g}, "
            f"rules_only={self.rules_only}, allow_missing_sources={sorted(self.allow_missing_sources)}, "
            f"bank_dir={self.bank_dir}, bi_copy={self.bi_copy}, skip_dbt_tests={sorted(self.skip_dbt_tests)})"
        )

    __str__ = __repr__


def _pick(option: str | None, env: Mapping[str, str], name: str) -> str | None:
    if option not in (None, ""):
        return option
    value = env.get(name)
    return value if value not in (None, "") else None


def resolve(
    *,
    warehouse: str | None = None,
    target: str | None = None,
    erp_dir: str | None = None,
    erp_sql: str | None = None,
    decisions_dir: str | None = None,
    stripe_api_base: str | None = None,
    stripe_max_rps: float | None = None,
    stripe_timeout: float | None = None,
    rules_only: bool | None = None,
    allow_missing_sources: Sequence[str] | None = None,
    bank_dir: str | None = None,
    bi_copy: str | None = None,
    skip_dbt_tests: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve each setting from its option, else its environment variable, else the default."""
    env = os.environ if env is None else env
    warehouse_path = Path(_pick(warehouse, env, "RECON_WAREHOUSE") or DEFAULT_WAREHOUSE).expanduser().resolve()
    erp = _pick(erp_dir, env, "RECON_ERP_DIR")
    decisions = _pick(decisions_dir, env, "RECON_DECISIONS_DIR")
    bank = _pick(bank_dir, env, "RECON_BANK_DIR")
    return Settings(
        warehouse=warehouse_path,
        target=_pick(target, env, "RECON_TARGET") or DEFAULT_TARGET,
        erp_dir=Path(erp).expanduser().resolve() if erp else None,
        erp_sql=_pick(erp_sql, env, "RECON_ERP_SQL"),
        decisions_dir=Path(decisions).expanduser().resolve() if decisions else None,
        stripe_api_base=_pick(stripe_api_base, env, "STRIPE_API_BASE"),
        stripe_api_key=env.get("STRIPE_API_KEY") or None,
        stripe_max_rps=_rate(stripe_max_rps, env),
        stripe_timeout=_seconds(stripe_timeout, env, "RECON_STRIPE_TIMEOUT", DEFAULT_STRIPE_TIMEOUT_S),
        rules_only=rules_only if rules_only else _flag(env, "RECON_RULES_ONLY"),
        allow_missing_sources=_sources(allow_missing_sources, env),
        bank_dir=Path(bank).expanduser().resolve() if bank else None,
        bi_copy=_bi_copy(bi_copy, env, warehouse_path),
        skip_dbt_tests=_test_names(skip_dbt_tests, env),
    )


def _bi_copy(option: str | None, env: Mapping[str, str], warehouse: Path) -> Path | None:
    """`--bi-copy`, else RECON_BI_COPY, else None (the default beside the warehouse)."""
    text = _pick(option, env, "RECON_BI_COPY")
    if text is None:
        return None
    path = Path(text).expanduser().resolve()
    if path == warehouse:
        raise UserError(
            f"--bi-copy {path} is the warehouse itself: name another file for BI's read-only copy "
            "(RECON_BI_COPY), or leave it unset for <warehouse stem>.bi.duckdb."
        )
    if path.stem in ("marts", "recon_meta"):
        raise UserError(
            f"--bi-copy {path}: a DuckDB file's name is its catalog's, and {path.stem!r} is a schema "
            "of the copy, which would make BI's queries ambiguous: name the file otherwise."
        )
    return path


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise UserError(f"{name} must be 1 or 0 (true or false), not {value!r}.")


def _rate(option: float | None, env: Mapping[str, str]) -> float | None:
    """The Stripe request-rate cap: unset means Stripe's own limit for the key's mode."""
    if option is not None:
        return option
    value = env.get("RECON_STRIPE_MAX_RPS")
    if not value:
        return None
    try:
        rate = float(value)
    except ValueError:
        raise UserError(f"RECON_STRIPE_MAX_RPS must be a number of requests per second, not {value!r}.") from None
    if rate <= 0:
        raise UserError("RECON_STRIPE_MAX_RPS must be a positive number of requests per second.")
    return rate


def _seconds(option: float | None, env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from the option, else the variable `name`, else `default`."""
    if option is not None:
        value: float | str = option
    else:
        text = env.get(name)
        if not text:
            return default
        value = text
    try:
        seconds = float(value)
    except ValueError:
        raise UserError(f"{name} must be a number of seconds, not {value!r}.") from None
    if not seconds > 0:
        raise UserError(f"{name} must be a positive number of seconds, not {value!r}.")
    return seconds


_TEST_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _names(option: Sequence[str] | str | None, env: Mapping[str, str], variable: str) -> frozenset[str]:
    """The names of a repeatable, comma-separated option, else of its comma-separated variable."""
    if isinstance(option, str):
        option = [option]
    texts = list(option) if option else [env.get(variable, "")]
    return frozenset(part.strip() for text in texts for part in text.split(",") if part.strip())


def _test_names(option: Sequence[str] | None, env: Mapping[str, str]) -> frozenset[str]:
    """`--skip-dbt-tests`, else RECON_SKIP_DBT_TESTS: names of dbt generic tests (dbt's
    `test_name:` selector), never models or the balance checks."""
    names = _names(option, env, "RECON_SKIP_DBT_TESTS")
    for name in sorted(names):
        if not _TEST_NAME.fullmatch(name):
            raise UserError(
                f"--skip-dbt-tests {name!r}: name dbt generic tests as dbt does, for example "
                "not_null,unique,accepted_values,relationships."
            )
    return names


# The sources whose inputs `--allow-missing-source` may name, alone or as `<source>/<table>`.
ALLOWABLE_SOURCES = ("erp", "decisions", "bank")


def _sources(option: Sequence[str] | None, env: Mapping[str, str]) -> frozenset[str]:
    """`--allow-missing-source` (repeatable, or comma-separated), else RECON_ALLOW_MISSING_SOURCES."""
    names = frozenset(name.lower() for name in _names(option, env, "RECON_ALLOW_MISSING_SOURCES"))
    for name in sorted(names):
        if name.split("/", 1)[0] not in ALLOWABLE_SOURCES:
            raise UserError(
                f"--allow-missing-source {name}: name an input as erp, erp/<table>, decisions, "
                "decisions/<table>, bank or bank/<file> (for example erp/payments)."
            )
    return names
