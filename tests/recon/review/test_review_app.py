"""The review page over HTTP (the app on uvicorn in a thread, httpx as the browser without
JavaScript): sign-in, CSRF, roles, filters, decisions, sessions that expire."""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pytest
import uvicorn

from core.settings import resolve
from recon.review.app import ReviewConfig, create_app, money
from recon.review.reads import QueueFilter
from recon.review.store import DecisionStore
from tests.recon.review.conftest import PASSWORD, ReviewWorld, free_port, users_file


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    text: str


class TestClient:
    """A browser without JavaScript: keeps the session cookie, follows no redirect (stdlib only)."""

    __test__ = False

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def _send(self, method: str, path: str, body: str | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode())
        connection.close()
        cookie = answer.headers.get("set-cookie", "")
        if cookie.startswith("recon_review="):
            self.cookie = cookie.split(";", 1)[0]
        return answer

    def get(self, path: str, params: dict[str, str] | None = None) -> Answer:
        return self._send("GET", path + ("?" + urlencode(params) if params else ""))

    def post(self, path: str, data: dict[str, str]) -> Answer:
        return self._send("POST", path, urlencode(data))

SECRET = "x" * 64


def _config(world: ReviewWorld, tmp_path: Path, max_age: int = 3600) -> ReviewConfig:
    return ReviewConfig(
        settings=resolve(warehouse=str(world.warehouse), target="duckdb", env={}),
        users_path=users_file(tmp_path),
        store_path=tmp_path / "review.sqlite",
        secret=SECRET,
        session_max_age=max_age,
    )


@pytest.fixture
def config(review_world: ReviewWorld, tmp_path: Path) -> ReviewConfig:
    return _config(review_world, tmp_path)


@contextmanager
def serving(config: ReviewConfig) -> Iterator[TestClient]:
    """The app on uvicorn in a thread, and a client that keeps its cookies and follows no redirect."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.01)
        yield TestClient(port)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def client(config: ReviewConfig) -> Iterator[TestClient]:
    with serving(config) as browser:
        yield browser


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str = "ann") -> str:
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


def test_every_page_needs_a_session(client: TestClient) -> None:
    for path in ("/", "/log", "/match/x", "/exception/x", "/at?i=0"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    assert client.post("/bulk-accept", data={}).status_code == 303


def test_a_wrong_password_is_refused_without_saying_which_part(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    for username, password in (("ann", "wrong password!"), ("nobody", PASSWORD)):
        answer = client.post("/login", data={"csrf": token, "username": username, "password": password})
        assert answer.status_code == 401 and "Wrong user name or password." in answer.text


def test_a_form_without_the_session_token_is_refused(client: TestClient, config: ReviewConfig) -> None:
    sign_in(client)
    pair = _suggested_from(config)
    for data in ({"action": "confirm"}, {"action": "confirm", "csrf": "forged"}):
        answer = client.post(f"/match/{pair}/decide", data=data)
        assert answer.status_code == 403 and "security token" in answer.text
    with DecisionStore(config.store_path) as store:
        assert store.all() == []


def _suggested_from(config: ReviewConfig) -> str:
    with duckdb.connect(str(config.settings.warehouse), read_only=True) as con:
        row = con.execute(
            "select match_id from marts.fct_reconciliation_matches where status = 'suggested' order by match_id limit 1"
        ).fetchone()
    assert row
    return str(row[0])


def test_pages_carry_protective_headers(client: TestClient) -> None:
    answer = client.get("/login")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


def test_the_queue_shows_totals_pages_and_money_as_minor_units_formatted(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/").text
    assert "Suggested matches" in page and "Exceptions to review" in page
    assert re.search(r"Page 1 of \d+ · [\d,]+ item\(s\), most money at stake first", page)
    assert money(123456, "usd") == "USD 1,234.56"
    assert money(4800, "jpy") == "JPY 4,800"
    assert money(-12340, "kwd") == "KWD -12.340"


def test_filters_outside_their_allow_lists_are_ignored_and_said(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/", params={"type": "x'; drop table marts.fct_reconciliation_matches; --", "min": "1e9",
                                   "period": "2025-13", "currency": "usd"}).text
    assert "is not one of the known values: ignored" in page
    assert "is not an amount like 1250" in page and "is not a month like 2025-01" in page
    parsed = QueueFilter.parse({"min": "10.5", "max": "20", "kind": "exception", "rule": "match_x"})
    assert parsed.binds()["min_thousandths"] == 10_500 and parsed.binds()["max_thousandths"] == 20_000


def test_a_decision_is_stored_with_who_and_leaves_the_queue(client: TestClient, config: ReviewConfig) -> None:
    token = sign_in(client, "rita")
    match_id = _suggested_from(config)
    answer = client.post(f"/match/{match_id}/decide", data={"csrf": token, "action": "confirm", "kind": "match", "i": "0"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/at?kind=match")
    with DecisionStore(config.store_path) as store:
        (decision,) = store.all()
    assert (decision.action, decision.decided_by, decision.decided_role, decision.match_id) == (
        "confirmed", "rita", "reviewer", match_id,
    )
    assert f"/match/{match_id}?" not in client.get("/", params={"kind": "match"}).text


def test_a_reviewer_may_not_bulk_accept_nor_undo_anothers_decision(client: TestClient, config: ReviewConfig) -> None:
    token = sign_in(client, "rita")
    answer = client.post("/bulk-accept", data={"csrf": token, "kind": "match", "expected": "1"})
    assert answer.status_code == 403
    with DecisionStore(config.store_path) as store:
        (other,) = store.decide_matches([_choice(config)], "confirmed", who="ann", role="approver")
    assert client.post(f"/undo/{other.decision_id}", data={"csrf": token}).status_code == 403


def _choice(config: ReviewConfig) -> object:
    from recon.review.store import MatchChoice

    with duckdb.connect(str(config.settings.warehouse), read_only=True) as con:
        row = con.execute(
            "select stripe_object_id, erp_document_number, erp_payment_number, erp_journal_number, match_type, match_id "
            "from marts.fct_reconciliation_matches where status = 'suggested' order by match_id limit 1"
        ).fetchone()
    assert row
    return MatchChoice(*row)


def test_an_approver_bulk_accepts_the_filtered_set_once(client: TestClient, config: ReviewConfig) -> None:
    token = sign_in(client, "ann")
    page = client.get("/", params={"rule": "match_payout_to_deposit"}).text
    expected = re.search(r'name="expected" value="(\d+)"', page)
    assert expected and int(expected.group(1)) > 0
    stale = client.post("/bulk-accept", data={"csrf": token, "rule": "match_payout_to_deposit", "expected": "99999"})
    assert stale.status_code == 303
    with DecisionStore(config.store_path) as store:
        assert store.all() == []  # the count the person saw differs: nothing accepted
    answer = client.post(
        "/bulk-accept", data={"csrf": token, "rule": "match_payout_to_deposit", "expected": expected.group(1)}
    )
    assert answer.status_code == 303
    with DecisionStore(config.store_path) as store:
        rows = store.all()
    assert len(rows) == int(expected.group(1))
    assert {row.action for row in rows} == {"confirmed"} and len({row.batch_id for row in rows}) == 1
    assert "Nothing to review for these filters." in client.get("/", params={"rule": "match_payout_to_deposit"}).text


def test_sessions_expire(review_world: ReviewWorld, tmp_path: Path) -> None:
    with serving(_config(review_world, tmp_path, max_age=1)) as short:
        sign_in(short)
        assert short.get("/").status_code == 200
        time.sleep(2.1)
        assert short.get("/").headers.get("location", "").startswith("/login")


def test_the_decision_log_says_the_chain_is_intact(client: TestClient, config: ReviewConfig) -> None:
    token = sign_in(client)
    match_id = _suggested_from(config)
    client.post(f"/match/{match_id}/decide", data={"csrf": token, "action": "confirm"})
    page = client.get("/log").text
    assert "The hash chain of all 1 decision(s) is intact" in page


def test_every_item_of_the_queue_has_a_page(client: TestClient) -> None:
    """Charges, refunds, payouts and exceptions of both sides: each item page renders, with its
    evidence and actions."""
    sign_in(client)
    seen = 0
    for page_number in range(1, 20):
        queue = client.get("/", params={"page": str(page_number)}).text
        links = sorted(set(re.findall(r'data-href="(/(?:match|exception)/[0-9a-f]+)\?', queue)))
        for link in links:
            answer = client.get(link)
            assert answer.status_code == 200, (link, answer.text[-2000:])
            assert 'id="confirm-form"' in answer.text or 'id="resolve-form"' in answer.text
            seen += 1
        if "rel=\"next\"" not in queue:
            break
    assert seen > 20


def test_a_decision_is_recorded_while_a_run_holds_the_warehouse(client: TestClient, config: ReviewConfig) -> None:
    """The warehouse cannot be read while a writer holds it: the decision is recorded from what
    the page showed (signed into the form), and a form changed since is refused."""
    from recon.locking import writer_lock

    sign_in(client, "rita")
    match_id = _suggested_from(config)
    page = client.get(f"/match/{match_id}").text
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen
    form = {"csrf": csrf_of(page), "action": "confirm", "seen": seen.group(1)}
    with writer_lock(config.settings, "a test standing in for recon run"):
        assert client.get("/").status_code == 503
        forged = client.post(f"/match/{match_id}/decide", data={**form, "seen": seen.group(1)[:-2] + "xx"})
        assert forged.status_code == 403
        answer = client.post(f"/match/{match_id}/decide", data=form)
    assert answer.status_code == 303
    with DecisionStore(config.store_path) as store:
        (decision,) = store.all()
    assert (decision.match_id, decision.action, decision.decided_by) == (match_id, "confirmed", "rita")


def test_each_id_of_a_bank_exception_shows_under_its_sides_column(client: TestClient, config: ReviewConfig) -> None:
    """The queue's Stripe and ERP columns follow the exception's side: a deposit no statement
    carries shows its journal under ERP and the payout it deposits under Stripe (they were
    swapped), a payout the bank did not show is Stripe's; the link still opens the exception."""
    sign_in(client)
    with duckdb.connect(str(config.settings.warehouse), read_only=True) as con:
        exceptions = con.execute(
            "select exception_id, object_id, side, reference from marts.fct_bank_exceptions where requires_review"
        ).fetchall()
    assert {"erp", "stripe"} <= {side for _, _, side, _ in exceptions}
    page = client.get("/", {"kind": "bank"}).text
    for exception_id, object_id, side, reference in exceptions:
        row = re.search(rf'<tr data-href="/bank/{exception_id}\?.*?</tr>', page, re.S)
        assert row, exception_id
        shown = tuple(re.findall(r'<td class="id">([^<]*)</td>', row.group(0)))
        expected = {"erp": (reference or "", object_id), "stripe": (object_id, reference or "")}.get(side)
        if expected:
            assert shown == expected, (side, shown)
        assert object_id in client.get(f"/bank/{exception_id}").text
