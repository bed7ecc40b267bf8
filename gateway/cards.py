"""Card handling that keeps the card number and CVC out of everything durable.

A node sees the full number only while validating and authorizing a request;
what it keeps is the brand, the BIN (first six digits), the last four and a
keyed HMAC fingerprint (the same card gives the same fingerprint under one key,
but the number cannot be recovered from it without the key).

Authorization is simulated and deterministic, so tests and demos can rely on
it.  These test numbers decline (all pass the Luhn check):

=====================  ======================
4000000000000002       ``card_declined``
4000000000009995       ``insufficient_funds``
4000000000000069       ``expired_card``
4000000000000119       ``processing_error``
=====================  ======================

Every other valid number is captured.
"""

from __future__ import annotations

import hashlib
import hmac

DECLINING_TEST_CARDS: dict[str, str] = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000119": "processing_error",
}


def ascii_digits(text: str) -> bool:
    """Only 0-9: ``str.isdigit`` also takes other scripts' digits ('４２', '١٢٣')."""
    return text.isascii() and text.isdigit()


def luhn_valid(number: str) -> bool:
    if not ascii_digits(number):
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(number: str) -> str:
    """Brand from the leading digits (IIN ranges of the major networks)."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    two, four = int(number[:2] or 0), int(number[:4] or 0)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if number.startswith("6011") or number.startswith("65") or 644 <= int(number[:3] or 0) <= 649:
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    if number[:2] in ("36", "38", "39") or 300 <= int(number[:3] or 0) <= 305:
        return "diners"
    return "unknown"


def cvc_length(brand: str) -> int:
    return 4 if brand == "amex" else 3


def fingerprint(number: str, key: bytes) -> str:
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()


def authorize(number: str) -> str | None:
    """Simulated issuer decision: ``None`` means approved, else the decline code."""
    return DECLINING_TEST_CARDS.get(number)


def mask(number: str) -> str:
    """For any message that must mention a card: BIN and last four only."""
    if len(number) < 10:
        return "*" * len(number)
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"
