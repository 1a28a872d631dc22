"""The contract's vocabulary of exceptions (docs/contract.md section 5), in one place.

The demo world, the decisions loader and the classifier all read it from here; the dbt models
state the same vocabulary in their accepted_values tests.
"""

from __future__ import annotations

from typing import Final

EXPECTED_VARIANCE: Final = "expected_variance"
TRUE_EXCEPTION: Final = "true_exception"
DISPOSITIONS: Final = (EXPECTED_VARIANCE, TRUE_EXCEPTION)

# exception_type -> its disposition
DISPOSITION_OF_TYPE: Final[dict[str, str]] = {
    "timing_difference": EXPECTED_VARIANCE,
    "fee_variance": EXPECTED_VARIANCE,
    "fx_variance": EXPECTED_VARIANCE,
    "rounding": EXPECTED_VARIANCE,
    "duplicate_charge": TRUE_EXCEPTION,
    "missing_in_erp": TRUE_EXCEPTION,
    "missing_in_stripe": TRUE_EXCEPTION,
    "amount_mismatch": TRUE_EXCEPTION,
    "unrecorded_dispute": TRUE_EXCEPTION,
    "missing_deposit": TRUE_EXCEPTION,
    "failed_payout": TRUE_EXCEPTION,
    "duplicate_erp_entry": TRUE_EXCEPTION,
    # a bank debit (ACH, SEPA) the ERP booked as received, returned by the bank days later
    "debit_failed_after_booking": TRUE_EXCEPTION,
}
EXCEPTION_TYPES: Final = tuple(DISPOSITION_OF_TYPE)

# The three-way view's exception types (bank statements; docs/contract.md section 7), in the mart
# fct_bank_exceptions, apart from the classified exceptions above.
BANK_DISPOSITION_OF_TYPE: Final[dict[str, str]] = {
    "bank_statement_out_of_balance": TRUE_EXCEPTION,
    "payout_not_received_by_bank": TRUE_EXCEPTION,
    "bank_fee_on_payout": EXPECTED_VARIANCE,
    "unexplained_bank_credit": TRUE_EXCEPTION,
    "deposit_not_on_bank_statement": TRUE_EXCEPTION,
}
BANK_EXCEPTION_TYPES: Final = tuple(BANK_DISPOSITION_OF_TYPE)
