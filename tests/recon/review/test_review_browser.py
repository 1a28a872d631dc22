"""A controller in a real browser (Debian's chromium, driven by Playwright): sign in, confirm a
suggestion, reject a wrong one and pick its right counterpart, resolve an exception; then the
next `recon run` honours every decision in the marts. Screenshots of each page go to
reports/screenshots/ (git-ignored)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, sync_playwright

from core.settings import PROJECT_DIR
from recon import pipeline
from recon.demo.run import serving
from recon.review.store import DecisionStore, default_store_path
from tests.recon.review.conftest import PASSWORD, ReviewWorld, RunningReview

SCREENSHOTS = PROJECT_DIR / "reports" / "screenshots"


def _truth(world: Path) -> dict[str, set[str]]:
    pairs: dict[str, set[str]] = {}
    with (world / "truth" / "matches.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pairs.setdefault(row["stripe_object_id"], set()).add(row["erp_payment_number"] or row["erp_journal_number"])
    return pairs


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[dict[str, object]]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _refund_pairs(warehouse: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select currency, status from marts.fct_reconciliation_matches where match_type = 'refund_payment'"
        ).fetchall()
    return [(str(currency), str(status)) for currency, status in rows]


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.slow
def test_a_controller_reviews_in_a_browser_and_the_next_run_honours_it(
    review_world: ReviewWorld, review_server: RunningReview, chromium: Path
) -> None:
    truth = _truth(review_world.world)
    with duckdb.connect(str(review_server.settings.warehouse), read_only=True) as con:
        suggested = _rows(con, """
            select m.*, (select count(*) from matching.int_match_pairs_scored as s
                         where s.stripe_object_id = m.stripe_object_id) as candidates
            from marts.fct_reconciliation_matches as m
            where m.status = 'suggested' and m.match_type = 'charge_payment'
            order by m.confidence, m.match_id""")
    right = next(
        r for r in suggested
        if r["erp_payment_number"] in truth.get(str(r["stripe_object_id"]), set()) and not r["allows_split"]
    )
    wrong = next(
        r for r in suggested
        if r["erp_payment_number"] not in truth.get(str(r["stripe_object_id"]), set()) and r["candidates"]
    )
    (counterpart,) = truth[str(wrong["stripe_object_id"])]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1360, "height": 860})
        page.goto(review_server.url + "/")
        assert "/login" in page.url
        _shot(page, "01-sign-in")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#queue")
        assert page.locator(".stat .count").first.inner_text() != "0"
        _shot(page, "02-queue")

        # Confirm a right suggestion with the keyboard.
        page.goto(f"{review_server.url}/match/{right['match_id']}")
        page.wait_for_selector("#confirm-form")
        _shot(page, "03-match")
        page.keyboard.press("c")
        page.wait_for_selector(".flash")
        assert f"Confirmed {right['stripe_object_id']}" in page.inner_text(".flash")

        # Reject a wrong one: r, then the right counterpart from the candidates.
        page.goto(f"{review_server.url}/match/{wrong['match_id']}")
        page.wait_for_selector("#reject-form")
        page.keyboard.press("r")
        page.check(f"#reject-form input[name=counterpart][value='{counterpart}']")
        _shot(page, "04-reject-and-pick")
        page.click("#reject")
        page.wait_for_selector(".flash")
        assert f"matched {wrong['stripe_object_id']} with" in page.inner_text(".flash")
        assert counterpart in page.inner_text(".flash")

        # Resolve the exception at the top of the exceptions' queue.
        page.goto(review_server.url + "/?kind=exception")
        page.wait_for_selector("#queue tr.row")
        page.keyboard.press("Enter")
        page.wait_for_selector("#resolve-form")
        exception_id = page.url.split("/exception/", 1)[1].split("?", 1)[0]
        page.keyboard.press("e")
        page.fill("#resolve-form textarea", "Checked against the bank statement: as classified.")
        _shot(page, "05-exception")
        page.press("#resolve-form textarea", "Control+Enter")
        page.wait_for_selector(".flash")
        assert "Resolved" in page.inner_text(".flash")

        # Resolve the bank exception at the top of the bank's queue (the statements' view).
        page.goto(review_server.url + "/?kind=bank")
        page.wait_for_selector("#queue tr.row")
        page.keyboard.press("Enter")
        page.wait_for_selector("#resolve-form")
        bank_id = page.url.split("/bank/", 1)[1].split("?", 1)[0]
        page.keyboard.press("e")
        page.fill("#resolve-form textarea", "The bank confirmed it: a known fee on that payout.")
        _shot(page, "05b-bank-exception")
        page.press("#resolve-form textarea", "Control+Enter")
        page.wait_for_selector(".flash")
        assert "Resolved" in page.inner_text(".flash")

        page.goto(review_server.url + "/log")
        assert "is intact" in page.inner_text("main")
        _shot(page, "06-decision-log")

        # An admin's policy: every refund pair needs a person (confidence 1 and nothing above
        # zero), in each currency that has one; the next run queues them all.
        refunds = _refund_pairs(review_server.settings.warehouse)
        assert any(status == "auto_matched" for _, status in refunds)
        with DecisionStore(default_store_path(review_server.settings)) as store:
            for currency in sorted({currency for currency, _ in refunds}):
                store.change_policy("match", "refund_payment", currency, min_confidence="1", max_amount_minor=0,
                                    who="adam", role="admin")

        # The next run, as `recon run` (the world's Stripe part served locally, as in the demo).
        out = io.StringIO()
        with serving(review_world.world, review_server.settings) as settings:
            pipeline.run_steps(settings, out)
        assert "The review's decision log: 5 decision(s), the hash chain intact." in out.getvalue()
        assert f"Auto-accept policy: {len({c for c, _ in refunds})} rule(s)" in out.getvalue()
        after = _refund_pairs(review_server.settings.warehouse)
        assert after and {status for _, status in after} <= {"suggested", "confirmed"}
        page.goto(review_server.url + "/?kind=bank")
        assert bank_id not in page.content()
        page.goto(review_server.url + "/?type=refund_payment")
        assert page.locator("#queue tbody tr.row").count() == sum(1 for _, s in after if s == "suggested")

        page.goto(review_server.url + "/")
        page.wait_for_selector("#queue")
        assert page.locator(".stat.pending .count").inner_text() == "0"
        _shot(page, "07-queue-after-the-run")
        browser.close()

    with duckdb.connect(str(review_server.settings.warehouse), read_only=True) as con:
        def status(stripe_id: object, payment: object) -> list[tuple[str, str]]:
            return con.execute(
                "select status, rule_name from marts.fct_reconciliation_matches "
                "where stripe_object_id = ? and erp_payment_number = ?", [stripe_id, payment],
            ).fetchall()

        assert status(right["stripe_object_id"], right["erp_payment_number"]) == [("confirmed", "human_decision")]
        assert status(wrong["stripe_object_id"], wrong["erp_payment_number"]) == []
        assert status(wrong["stripe_object_id"], counterpart) == [("confirmed", "human_decision")]
        resolutions = con.execute(
            "select r.decision_source, r.resolved_by from staging.stg_decisions__exception_resolutions as r "
            "inner join raw_decisions.review_exception_resolutions as raw "
            "on r.object_id = raw.object_id and r.exception_type = raw.exception_type where raw.exception_id = ?",
            [exception_id],
        ).fetchall()
        assert resolutions == [("review", "ann")]
        # the resolved exception left the queue, and the mart says who resolved it
        assert con.execute(
            "select requires_review, is_resolved, resolved_by, resolution_source "
            "from marts.fct_reconciliation_exceptions where exception_id = ?", [exception_id],
        ).fetchall() == [(False, True, "ann", "review")]
        # the bank exception too, in the bank's mart; its resolution stays out of the classified
        # exceptions' (and the classifier's labels)
        (bank,) = con.execute(
            "select object_id, exception_type, requires_review, is_resolved, resolved_exception_type, resolved_by, "
            "resolution_note, resolution_source from marts.fct_bank_exceptions where exception_id = ?", [bank_id],
        ).fetchall()
        assert bank[2:] == (False, True, bank[1], "ann", "The bank confirmed it: a known fee on that payout.", "review")
        assert con.execute(
            "select count(*) from matching.int_exception_resolutions_latest where object_id = ? and exception_type = ?",
            list(bank[:2]),
        ).fetchall() == [(0,)]


def test_the_policy_and_autonomy_pages_in_a_browser(review_server: RunningReview, chromium: Path) -> None:
    """An admin sets a rule on the policy page and audits an item of the autonomy page's sample
    (screenshots 08 and 09)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1360, "height": 860})
        page.goto(review_server.url + "/login")
        page.fill("input[name=username]", "adam")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#queue")

        page.goto(review_server.url + "/settings")
        page.select_option("select[name=rule_type]", "match:charge_payment")
        page.select_option("select[name=currency]", "usd")
        page.fill("input[name=min_confidence]", "0.95")
        page.fill("input[name=max_amount]", "2500")
        page.click(".policy-form button[type=submit]")
        page.wait_for_selector(".flash")
        assert "from the next recon run" in page.inner_text(".flash")
        assert "USD 2,500.00" in page.inner_text("table.policy")
        _shot(page, "08-policy")

        page.goto(review_server.url + "/autonomy")
        first = page.locator("table.audit tbody tr").first
        first.locator("button[value=right]").click()
        page.wait_for_selector(".flash")
        assert "Audited" in page.inner_text(".flash")
        assert "1 item(s) audited so far" in page.inner_text("main")
        page.goto(review_server.url + "/autonomy")
        _shot(page, "09-autonomy")
        page.set_viewport_size({"width": 1360, "height": 2400})
        _shot(page, "09-autonomy-full")
        browser.close()
