"""Currencies and fees in integer minor units.

Money never touches a float here: an amount is an integer count of the
currency's minor unit (cents, yen, fils), the ISO 4217 exponent says how many
minor units make a major one, and the fee is computed with integer arithmetic.

Fee rule (documented in the README and tested): ``fee = round_half_up(amount ×
percent_bps / 10 000) + fixed_minor``, capped at the amount.  ``percent_bps`` is
basis points (290 = 2.9 %); ``fixed_minor`` defaults to 30 minor units scaled by
the currency's exponent (0.30 USD, 0.30 EUR, 0 JPY... see ``default_fixed_fee``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ISO 4217 code -> minor-unit exponent (the common settlement currencies).
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
    "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KES": 2, "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2,
    "NZD": 2, "OMR": 3, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2,
    "RSD": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2,
    "UAH": 2, "USD": 2, "VND": 0, "XOF": 0, "ZAR": 2,
}  # fmt: skip


def default_fixed_fee(currency: str) -> int:
    """0.30 of a major unit for 2-decimal currencies, 0.300 for 3, nothing for 0."""
    exponent = CURRENCY_EXPONENTS[currency]
    return 0 if exponent == 0 else 3 * 10 ** (exponent - 1)


@dataclass(frozen=True)
class FeeSchedule:
    percent_bps: int = 290
    fixed_minor: dict[str, int] = field(default_factory=dict)  # overrides per currency

    def fee(self, amount_minor: int, currency: str) -> int:
        if amount_minor <= 0:
            raise ValueError("amount_minor must be positive")
        percent_part = (amount_minor * self.percent_bps + 5_000) // 10_000  # half-up
        fixed = self.fixed_minor.get(currency, default_fixed_fee(currency))
        return min(amount_minor, percent_part + fixed)
