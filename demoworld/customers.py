"""The customers: each a Stripe customer with its card and its ERP twin (master data).

A sale picks a customer from the pool or makes a new one (a `customer.created` event); the
pool is written to stripe/customers.jsonl at the end, each with its final invoice sequence.
"""

from __future__ import annotations

from demoworld.context import WorldContext, dumps
from demoworld.stripe_objects import Customer, customer_obj

CURRENCIES: tuple[str, ...] = ("usd", "eur", "gbp", "cad", "jpy", "kwd")
# the first index (hence ERP number C-<10000 + index>) of the customers kept out of the pool
OWN_INDEX_BASE = 900_000
_CURRENCY_WEIGHTS: tuple[int, ...] = (65, 12, 8, 6, 5, 4)
_COUNTRIES: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "usd": (
        ("US", "San Francisco", "CA"),
        ("US", "Austin", "TX"),
        ("US", "New York", "NY"),
        ("US", "Chicago", "IL"),
        ("US", "Seattle", "WA"),
        ("MX", "Mexico City", None),
    ),
    "eur": (
        ("DE", "Berlin", None),
        ("FR", "Paris", None),
        ("NL", "Amsterdam", None),
        ("ES", "Madrid", None),
        ("IE", "Dublin", None),
    ),
    "gbp": (("GB", "London", None), ("GB", "Manchester", None)),
    "cad": (("CA", "Toronto", "ON"), ("CA", "Vancouver", "BC")),
    "jpy": (("JP", "Tokyo", None), ("JP", "Osaka", None)),
    "kwd": (("KW", "Kuwait City", None),),
}
_FIRST = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Leon",
    "Sofia",
    "Hugo",
    "Yuki",
    "Haruto",
    "Fatima",
    "Omar",
    "Chloe",
    "James",
    "Amelia",
    "Mateo",
    "Lena",
    "Finn",
    "Ines",
    "Raj",
    "Priya",
    "Sven",
    "Aiko",
    "Zoe",
    "Ethan",
    "Nora",
    "Ali",
    "Maya",
)
_LAST = (
    "Smith",
    "Garcia",
    "Muller",
    "Martin",
    "Tanaka",
    "Sato",
    "Rossi",
    "Kowalski",
    "Brown",
    "Dubois",
    "Jansen",
    "Nguyen",
    "Al-Sabah",
    "Johnson",
    "Lee",
    "Walker",
    "Schmidt",
    "Moreau",
    "O'Brien",
    "Silva",
    "Fischer",
    "Novak",
    "Hughes",
    "Khan",
    "Larsen",
)
_COMPANY = ("Labs", "GmbH", "Ltd", "Inc", "Studio", "Analytics", "Consulting", "KK", "BV")
_DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.co.uk")


class Customers:
    """The customers pool."""

    def __init__(self, ctx: WorldContext) -> None:
        self.ctx = ctx
        self.all: list[Customer] = []
        # customers of the other payment methods (demoworld/paymethods.py): outside the pool the
        # card sales pick from, numbered from OWN_INDEX_BASE, so the card sales stay as they were
        self.own: list[Customer] = []
        self.target = max(50, ctx.spec.scale // 6)

    def new(self, ts: int, day_ts: int, currency: str | None, *, own: bool = False) -> Customer:
        rng = self.ctx.rng
        cur = currency or rng.choices(CURRENCIES, _CURRENCY_WEIGHTS)[0]
        country, city, state = rng.choice(_COUNTRIES[cur])
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        index = OWN_INDEX_BASE + len(self.own) if own else len(self.all)
        name = f"{first} {last}"
        handle = f"{first}.{last}".lower().replace("'", "")
        email = f"{handle}{index}@{rng.choice(_DOMAINS)}"
        r = rng.random()
        if r < 0.85:
            erp_email, erp_name = email, name
        elif r < 0.93:
            erp_email, erp_name = email.upper() if rng.random() < 0.5 else email.capitalize(), name
        elif r < 0.97:
            erp_email, erp_name = email, f"{name} {rng.choice(_COMPANY)}"
        else:
            erp_email, erp_name = email, f"{last}, {first}"
        brand = rng.choices(("visa", "mastercard", "amex", "discover"), (55, 30, 10, 5))[0]
        if brand == "discover" and country != "US":
            brand = "visa"
        c = Customer(
            index=index,
            id=self.ctx.ids.make("cus_", 14),
            created=max(day_ts, ts - rng.randint(5, 900)),
            name=name,
            email=email,
            phone=f"+1555{rng.randint(1000000, 9999999)}" if rng.random() < 0.4 else None,
            currency=cur,
            country=country,
            city=city,
            line1=f"{rng.randint(1, 999)} {rng.choice(_LAST)} Street",
            postal_code=f"{rng.randint(10000, 99999)}",
            state=state,
            invoice_prefix="".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ", k=4))
            + f"{rng.randint(0, 9999):04d}",
            erp_number=f"C-{10000 + index}",
            erp_name=erp_name,
            erp_email=erp_email,
            has_erp_metadata=rng.random() < 0.6,
            pm_id=self.ctx.ids.make("pm_"),
            brand=brand,
            last4=f"{rng.randint(0, 9999):04d}",
            exp_month=rng.randint(1, 12),
            exp_year=rng.randint(2026, 2031),
            fingerprint="".join(
                rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", k=16)
            ),
            funding=rng.choices(("credit", "debit", "prepaid"), (70, 28, 2))[0],
            card_country=country if rng.random() < 0.95 else "US",
        )
        self.ctx.mess.customer(c)
        (self.own if own else self.all).append(c)
        self.ctx.event(c.created, "customer.created", dumps(customer_obj(c, 1)))
        return c

    def pick(self, ts: int, day_ts: int, slot: int, currency: str | None) -> Customer:
        rng = self.ctx.rng
        n = len(self.all)
        want_new = n < 50 or rng.random() < max(0, self.target - n) / max(
            1, self.ctx.spec.scale - slot
        )
        if not want_new:
            for _ in range(40):
                c = self.all[rng.randrange(n)]
                if (
                    currency is None
                    or c.currency == currency
                    or (currency == "nonusd" and c.currency != "usd")
                ):
                    return c
        if currency == "nonusd":
            currency = rng.choice(CURRENCIES[1:])
        return self.new(ts, day_ts, currency)

    def write_file(self) -> None:
        """stripe/customers.jsonl: every customer with its final invoice sequence."""
        ctx = self.ctx
        with (ctx.out / "stripe" / "customers.jsonl").open("wb") as fh:
            for c in self.all + self.own:
                fh.write(dumps(customer_obj(c, c.next_invoice_sequence)) + b"\n")
        ctx.counts["customers"] = len(self.all) + len(self.own)
