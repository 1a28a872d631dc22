"""The checks' SQL files (checks/sql/) rendered for one warehouse, with plain Jinja2.

A check is a `.sql` file returning the rows that break it. What varies between warehouses is
filled in here: the schemas (with RECON_SCHEMA_PREFIX), the currency-exponent seed as a VALUES
relation, the target (`duckdb`, `postgres` or `spark`, for the rare SQL that differs), and the columns of
a check that runs on several tables (`Invariant.params`). `{{ batch }}` stays `{batch}`: Great
Expectations puts the invariant's own table there. The files' macros (checks/sql/macros/) and the
rules the dbt project shares with the checks (macros/invariants/, e.g. conservation_breaks) are
plain Jinja macros, global as in dbt; so the dbt test and the check render one text.

One text a rule on every target: where Spark SQL spells a type differently, the rendered text is
translated here (`for_target`), not the files: Spark has no `varchar` without a length, so a
`cast(... as varchar)` becomes `cast(... as string)` (the same type, text of any length).

sqlfluff lints the same files with its jinja templater (checks/sql/.sqlfluff gives it sample
values for these variables).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from core.settings import PROJECT_DIR

SQL_DIR = Path(__file__).parent / "sql"
MACRO_DIRS = (SQL_DIR / "macros", PROJECT_DIR / "macros" / "invariants")
RANKED_VIOLATIONS = "ranked_violations.sql"
BATCH = "{batch}"  # Great Expectations substitutes the batch (the invariant's table) here
# Per target, what its SQL spells differently: (pattern, replacement) applied to the rendered text.
_SPELLINGS: Mapping[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "spark": ((re.compile(r"\bas varchar\)", re.IGNORECASE), "as string)"),),
}


@cache
def environment() -> jinja2.Environment:
    """One Jinja2 environment: the SQL folder, strict about undefined names, macros global."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([SQL_DIR, *MACRO_DIRS]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    for folder in MACRO_DIRS:
        for path in sorted(folder.glob("*.sql")):
            module = env.get_template(path.name).module
            env.globals.update(
                {
                    name: value
                    for name, value in vars(module).items()
                    if isinstance(value, jinja2.runtime.Macro)
                }
            )
    return env


def for_target(sql: str, target: str) -> str:
    """`sql` as `target` spells it (the few types Spark names otherwise); as is elsewhere."""
    for pattern, spelled in _SPELLINGS.get(target, ()):
        sql = pattern.sub(spelled, sql)
    return sql


def render(sql_file: str, context: Mapping[str, Any]) -> str:
    """The SQL of `sql_file` (relative to checks/sql/) with `context` filled in, as the context's
    `target` spells it."""
    sql = environment().get_template(sql_file).render(**context).strip()
    return for_target(sql, str(context.get("target", "")))


def render_ranked(sql_file: str, context: Mapping[str, Any]) -> str:
    """`sql_file`'s rows as every check returns them: with their currency's row count and total
    at stake, biggest first (checks/sql/ranked_violations.sql)."""
    return render(RANKED_VIOLATIONS, {**context, "violations": render(sql_file, context)})
