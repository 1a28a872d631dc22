"""The review page on a PostgreSQL warehouse: the same pages as on DuckDB, and the same answers.

The session's world run on both targets (tests/recon/conftest.py, shared with the comparison of
the marts) is read by the review app on each: the queue (every filter kind, totals, choices), the
autonomy figures and the audit sample must be equal, and every kind of page renders on
PostgreSQL, served by the app over HTTP. The warehouses are only read; decisions go to a store
of this test's own.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from recon.review.app import ReviewConfig
from recon.review.autonomy import measure
from recon.review.reads import QueueFilter, QueuePage, Warehouse
from recon.review.store import DecisionStore, InForce
from tests.recon.conftest import TwoTargets
from tests.recon.review.conftest import users_file
from tests.recon.review.test_review_app import csrf_of, serving, sign_in

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _queue(warehouse: Warehouse, filters: QueueFilter) -> tuple[list[tuple[object, ...]], QueuePage]:
    page = warehouse.queue(filters, page_size=100_000)
    # the items and what the page shows of each; the rank's float may tie differently: not the order
    items = sorted((i.kind, i.item_id, i.item_type, i.proposed_by, i.currency, i.amount_minor, i.difference_minor,
                    i.confidence, i.stripe_object_id, i.counterpart, i.period) for i in page.items)
    return items, page


def test_the_review_reads_give_the_same_answers_on_both_targets(
    two_targets: TwoTargets, monkeypatch: pytest.MonkeyPatch
) -> None:
    duck = Warehouse(two_targets.settings("duckdb"))
    pg = Warehouse(two_targets.use_postgres(monkeypatch))
    kinds: dict[str | None, int] = {}
    for filters in (QueueFilter(amount_min=Decimal("100"), amount_max=Decimal("2500.5")), QueueFilter(period=202502),
                    QueueFilter(currency="usd"), QueueFilter(kind="match"), QueueFilter(kind="exception"),
                    QueueFilter(kind="bank"), QueueFilter()):
        on_duckdb, duck_page = _queue(duck, filters)
        on_postgres, pg_page = _queue(pg, filters)
        assert on_postgres == on_duckdb, filters
        assert (pg_page.totals, pg_page.matching, pg_page.rules, pg_page.periods, pg_page.currencies) == (
            duck_page.totals, duck_page.matching, duck_page.rules, duck_page.periods, duck_page.currencies
        )
        kinds[filters.kind] = len(on_postgres)
    # the comparison means something: every kind of item is queued
    assert kinds["match"] and kinds["exception"] and kinds["bank"], kinds
    assert kinds[None] == kinds["match"] + kinds["exception"] + kinds["bank"]

    nothing = InForce({}, {})
    on_duckdb, on_postgres = measure(duck, nothing, [], {}), measure(pg, nothing, [], {})
    assert on_postgres.per_type == on_duckdb.per_type and on_postgres.per_rule == on_duckdb.per_rule
    assert [s.item_id for s in on_postgres.sample] == [s.item_id for s in on_duckdb.sample]
    assert on_postgres.sample, "the audit sample has items"


def test_every_page_renders_on_a_postgres_warehouse(
    two_targets: TwoTargets, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = two_targets.use_postgres(monkeypatch)
    config = ReviewConfig(settings=settings, users_path=users_file(tmp_path), store_path=tmp_path / "review.sqlite",
                          secret="p" * 64)
    with serving(config) as client:
        sign_in(client)
        queue = client.get("/")
        assert queue.status_code == 200 and 'id="queue"' in queue.text
        links = re.findall(r'<a href="/(match|exception|bank)/([^"?]+)\?', queue.text)
        page = Warehouse(settings).queue(QueueFilter(), page_size=100_000)
        # one item of each kind and type: the match pages read candidates (payouts: deposits near
        # in amount and date), past decisions and the scorer's evidence
        first = {}
        for item in page.items:
            first.setdefault((item.kind, item.item_type), item)
        assert {kind for kind, _ in first} == {"match", "exception", "bank"}
        for (kind, _), item in sorted(first.items()):
            answer = client.get(f"/{kind}/{item.item_id}")
            assert answer.status_code == 200, (kind, item.item_id, answer.text[:2000])
            assert item.object_id in answer.text
        assert links, "the queue links its items"

        for path in ("/autonomy", "/settings", "/log", "/?kind=bank", "/?kind=exception&min=10&period=2025-01"):
            answer = client.get(path)
            assert answer.status_code == 200 and "Not possible" not in answer.text, (path, answer.text[:2000])
        sample = measure(Warehouse(settings), InForce({}, {}), [], {}).sample
        assert sample and str(sample[0].stripe_object_id) in client.get("/autonomy").text
        assert client.get("/at?kind=match&i=1").headers["location"].startswith("/match/")

        # a bank exception resolved on PostgreSQL's page leaves the queue at once (the store)
        bank = next(item for item in page.items if item.kind == "bank")
        form = client.get(f"/bank/{bank.item_id}?kind=bank")
        answer = client.post(f"/bank/{bank.item_id}/resolve", data={
            "csrf": csrf_of(form.text), "exception_type": bank.item_type, "disposition": "true_exception",
            "note": "Asked the bank: a value-date slip.", "kind": "bank", "i": "0",
        })
        assert answer.status_code == 303, answer.text[:2000]
        assert bank.item_id not in client.get("/?kind=bank").text
    with DecisionStore(config.store_path) as store:
        (resolution,) = store.in_force().resolutions.values()
        assert (resolution.exception_id, resolution.object_id, resolution.decided_by) == (
            bank.item_id, bank.object_id, "ann"
        )
