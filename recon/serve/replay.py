"""A micro-batch's models rebuilt from the SQL dbt compiled for them, in one DuckDB connection.

`dbt run` of the ~41 models a webhook batch feeds spends as long in its own machinery (a thread
pool, a temporary table and two renames per model, events and adapter calls per node) as in
their SQL: 4.3-5.3 s against 2.3 s for the same compiled SQL run statement by statement
(DECISIONLOG.md, "A micro-batch's time"). So micro-batches run the SQL dbt compiled for their
models, in dbt's order:

- a table: `create or replace table ... as (<compiled SQL>)`, dbt's own statement for a table
  without a contract;
- a table whose contract is enforced: `delete` then `insert ... by name`, in one transaction,
  into the table dbt created with the contract's column types and constraints (the micro-batcher
  has dbt build such a model in its process before it replays it);
- a view: `create or replace view`.

dbt still does everything that decides what runs and what the SQL is: it parses the project,
compiles every model (ephemeral models inlined, macros, `--vars`) and its selection syntax is
mirrored on the manifest's graph. A model is left to dbt (the whole batch then runs through
`dbt run`) when it is not plain SQL materialized as a table or a view, has a hook that is not
empty on DuckDB, or reads the warehouse's rows to write its SQL (`run_query`). Models that look
only at the catalog (`load_relation`: does a table exist yet) are compiled again whenever the
catalog or the vars change.

Each statement commits on its own, as each of dbt's models does: one transaction over all of
them made DuckDB plan a rule's join on tables created in the same transaction without their
statistics (115 s for a 0.1 s query).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# dbt's JSON artifacts (a manifest of megabytes rewritten on every run) and its debug log file (a
# line per statement, each scanned for secrets) cost a micro-batch seconds of CPU and serve no
# one: the service logs each batch, and dbt's warnings and errors still reach logs/dbt.log.
MICRO_BATCH_DBT_FLAGS = ("--no-write-json", "--log-level-file", "warn")

# Hooks known to render to nothing on DuckDB: the project's `analyze_relation` (macros/cross_db/
# analyze_relation.sql: PostgreSQL only). Any other hook leaves its model to dbt.
EMPTY_HOOKS_ON_DUCKDB = frozenset({"{{ analyze_relation(this) }}"})
# What a model's Jinja (or a macro it calls) may call to read the warehouse while compiling:
# rows (its SQL then depends on data: dbt must compile it every time) or the catalog only.
READS_ROWS = ("run_query", "statement(", "adapter.execute")
READS_CATALOG = ("load_relation", "get_relation", "get_columns_in_relation", "list_relations")


def called_macros(manifest: Any, macros: Iterable[str], seen: set[str] | None = None) -> set[str]:
    """Every macro of the manifest that `macros` call, themselves included, transitively."""
    seen = set() if seen is None else seen
    for macro in macros:
        if macro not in seen and macro in manifest.macros:
            seen.add(macro)
            called_macros(manifest, manifest.macros[macro].depends_on.macros, seen)
    return seen


def looks_at_warehouse(manifest: Any, node: Any) -> set[str]:
    """What the node's Jinja (and the macros it calls) reads from the warehouse while compiling:
    'rows', 'catalog', both or neither (by the calls written in the code: conservative)."""
    texts = [node.raw_code or ""]
    texts += [manifest.macros[name].macro_sql or "" for name in called_macros(manifest, node.depends_on.macros)]
    found = set()
    if any(call in text for text in texts for call in READS_ROWS):
        found.add("rows")
    if any(call in text for text in texts for call in READS_CATALOG):
        found.add("catalog")
    return found


def contract_enforced(node: Any) -> bool:
    """Whether the model's contract is enforced (dbt creates its table with the contract's types)."""
    return bool(getattr(getattr(node, "contract", None), "enforced", False))


def why_dbt(manifest: Any, node: Any) -> str | None:
    """Why dbt itself must build this model, or None when its compiled SQL can be replayed."""
    if getattr(node, "language", "sql") != "sql":
        return f"{node.name} is a {node.language} model"
    materialized = node.config.materialized
    if materialized not in ("table", "view"):
        return f"{node.name} is materialized as {materialized}"
    hooks = [hook.sql.strip() for hook in (*node.config.pre_hook, *node.config.post_hook)]
    if any(hook not in EMPTY_HOOKS_ON_DUCKDB for hook in hooks):
        return f"{node.name} has a hook"
    if node.config.get("grants"):
        return f"{node.name} has grants"
    if "rows" in looks_at_warehouse(manifest, node):
        return f"{node.name} reads the warehouse's rows to write its SQL"
    return None


def descendants(manifest: Any, roots: Iterable[str]) -> set[str]:
    """The models downstream of `roots` (unique ids), as dbt's `<root>+` selects them."""
    found: set[str] = set()
    queue = deque(roots)
    while queue:
        for child in manifest.child_map.get(queue.popleft(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return {unique_id for unique_id in found if unique_id in manifest.nodes and manifest.nodes[unique_id].resource_type == "model"}


def selected_models(manifest: Any, selectors: Iterable[str], excluded_names: Iterable[str] = ()) -> set[str]:
    """The models `dbt run --select <selectors> --exclude <names>` runs, for selectors of the
    form `source:<source>.<table>+` (what micro-batches pass) and plain model names excluded."""
    roots = []
    for selector in selectors:
        if not (selector.startswith("source:") and selector.endswith("+")):
            raise ValueError(f"not a source selector: {selector}")
        source_name, _, table = selector[len("source:") : -1].partition(".")
        roots += [
            unique_id
            for unique_id, source in manifest.sources.items()
            if source.source_name == source_name and source.name == table
        ]
    excluded = set(excluded_names)
    return {unique_id for unique_id in descendants(manifest, roots) if manifest.nodes[unique_id].name not in excluded}


@dataclass(frozen=True)
class Step:
    unique_id: str
    relation: str
    kind: str  # "table", "contract" (a table whose contract is enforced) or "view"
    sql: str


def catalog_fingerprint(connection: Any, relations: Iterable[tuple[str, str]]) -> str:
    """The columns the warehouse has for `relations` (schema, name): what `load_relation` and its
    kind see of the sources and seeds a model's Jinja may look up (none: the relation is absent)."""
    wanted = {(schema.lower(), name.lower()) for schema, name in relations}
    rows = [
        row
        for row in connection.execute(
            "select lower(table_schema), lower(table_name), column_name, data_type from information_schema.columns "
            "where table_catalog = current_database()"
        ).fetchall()
        if (row[0], row[1]) in wanted
    ]
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


class CompiledModels:
    """The compiled SQL of every model downstream of some sources, compiled again when the vars,
    or the sources and seeds the warehouse holds, differ from those it was compiled with."""

    def __init__(self, manifest: Any, env: Mapping[str, str], roots: Iterable[str]) -> None:
        self.manifest = manifest
        self.env = dict(env)
        self.roots = list(roots)  # dbt selectors: every model a micro-batch may select
        # What models may look up while compiling: the sources and the seeds.
        self._looked_up = [
            (node.schema, node.identifier or node.name)
            for node in [*manifest.sources.values(), *manifest.nodes.values()]
            if node.resource_type in ("source", "seed")
        ]
        self._key: tuple[str, str] | None = None
        self._steps: dict[str, Step] = {}
        self._order: dict[str, int] = {}

    def refresh(self, connection: Any, vars_json: str) -> None:
        """Compile again if the vars or what the warehouse holds of the sources and seeds changed."""
        key = (vars_json, catalog_fingerprint(connection, self._looked_up))
        if key != self._key:
            self._compile(vars_json)
            self._key = key

    def steps(self, connection: Any, unique_ids: set[str], vars_json: str) -> list[Step]:
        """The replayable steps for these models in dbt's order (compiling first if needed)."""
        self.refresh(connection, vars_json)
        missing = unique_ids - self._steps.keys()
        if missing:
            raise LookupError(f"dbt compiled no SQL for {', '.join(sorted(missing))}")
        return sorted((self._steps[unique_id] for unique_id in unique_ids), key=lambda step: self._order[step.unique_id])

    def _compile(self, vars_json: str) -> None:
        # start-up time: dbt takes seconds to import, and the web process imports this module too
        from recon.dbt import run_dbt

        started = time.monotonic()
        result = run_dbt(
            ["compile", "--select", *self.roots, "--exclude", "resource_type:test", "resource_type:unit_test",
             "--vars", vars_json, *MICRO_BATCH_DBT_FLAGS],
            self.env,
            manifest=self.manifest,
        )
        steps: dict[str, Step] = {}
        for node_result in getattr(result.result, "results", None) or []:
            node = node_result.node
            if node.resource_type != "model" or not node.compiled_code or not node.relation_name:
                continue
            kind = "view" if node.config.materialized == "view" else "contract" if contract_enforced(node) else "table"
            steps[node.unique_id] = Step(node.unique_id, node.relation_name, kind, node.compiled_code)
        self._steps = steps
        self._order = _dag_order(self.manifest, steps)
        log.info("micro-batch models compiled by dbt: %d in %.2f s", len(steps), time.monotonic() - started)


def _dag_order(manifest: Any, steps: Mapping[str, Step]) -> dict[str, int]:
    """Each step's place in an order where every model comes after the models it selects from."""
    order: dict[str, int] = {}

    def visit(unique_id: str) -> None:  # dbt's graph has no cycles: it refuses to parse one
        if unique_id in order or unique_id not in manifest.nodes:
            return
        for parent in getattr(manifest.nodes[unique_id].depends_on, "nodes", ()):  # a seed's holds macros only
            visit(parent)
        order[unique_id] = len(order)

    for unique_id in sorted(steps):
        visit(unique_id)
    return order


def replay(connection: Any, steps: Iterable[Step]) -> int:
    """Run the steps' SQL in order in `connection` (a DuckDB connection to the warehouse)."""
    count = 0
    for step in steps:
        if step.kind == "view":
            connection.execute(f"create or replace view {step.relation} as (\n{step.sql}\n)")
        elif step.kind == "table":
            connection.execute(f"create or replace table {step.relation} as (\n{step.sql}\n)")
        else:
            connection.execute("begin transaction")
            try:
                connection.execute(f"delete from {step.relation}")
                connection.execute(f"insert into {step.relation} by name (\n{step.sql}\n)")
                connection.execute("commit")
            except BaseException:
                connection.execute("rollback")
                raise
        count += 1
    return count
