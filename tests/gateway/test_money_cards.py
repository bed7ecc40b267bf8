"""Fees in integer minor units, card brand/Luhn/masking/fingerprint, simulated authorization."""

from __future__ import annotations

import pytest

from gateway import cards
from gateway.money import CURRENCY_EXPONENTS, FeeSchedule, default_fixed_fee


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        pytest.param(1000, "USD", 29 + 30, id="usd-2.9pct-plus-30c"),
        pytest.param(1, "USD", 1, id="capped-at-amount"),
        pytest.param(1724, "USD", 50 + 30, id="49.996-rounds-half-up-to-50"),
        pytest.param(1690, "EUR", 49 + 30, id="49.01-rounds-down"),
        pytest.param(10_000, "JPY", 290, id="jpy-no-fixed-part"),
        pytest.param(10_000, "KWD", 290 + 300, id="kwd-three-decimals"),
    ],
)
def test_fee_rule(amount: int, currency: str, expected: int) -> None:
    assert FeeSchedule().fee(amount, currency) == expected


def test_fee_half_up_exact_half() -> None:
    # 50 × 100 bps = 0.5 minor unit exactly -> rounds up to 1.
    assert FeeSchedule(percent_bps=100, fixed_minor={"USD": 0}).fee(50, "USD") == 1
    assert FeeSchedule(percent_bps=100, fixed_minor={"USD": 0}).fee(49, "USD") == 0


def test_fee_is_integer_and_never_exceeds_amount() -> None:
    schedule = FeeSchedule()
    for amount in range(1, 3000, 7):
        fee = schedule.fee(amount, "USD")
        assert isinstance(fee, int) and 0 <= fee <= amount


def test_fee_rejects_non_positive_amount() -> None:
    with pytest.raises(ValueError):
        FeeSchedule().fee(0, "USD")


def test_default_fixed_fee_follows_exponent() -> None:
    assert default_fixed_fee("USD") == 30
    assert default_fixed_fee("JPY") == 0
    assert default_fixed_fee("BHD") == 300
    assert CURRENCY_EXPONENTS["JPY"] == 0


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4242424242424242", True), ("4242424242424241", False), ("378282246310005", True),
     ("5555555555554444", True), ("0000000000000000", True), ("12ab", False)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert cards.luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "brand"),
    [("4242424242424242", "visa"), ("5555555555554444", "mastercard"),
     ("2223003122003222", "mastercard"), ("378282246310005", "amex"),
     ("6011111111111117", "discover"), ("3566002020360505", "jcb"),
     ("9999999999999995", "unknown")],
)
def test_brand(number: str, brand: str) -> None:
    assert cards.card_brand(number) == brand


def test_mask_keeps_only_bin_and_last4() -> None:
    assert cards.mask("4242424242424242") == "424242******4242"


def test_fingerprint_is_keyed_and_stable() -> None:
    a = cards.fingerprint("4242424242424242", b"key-one-123")
    assert a == cards.fingerprint("4242424242424242", b"key-one-123")
    assert a != cards.fingerprint("4242424242424242", b"key-two-123")
    assert "4242424242424242" not in a


def test_declining_test_cards_are_valid_numbers_and_decline() -> None:
    for number, code in cards.DECLINING_TEST_CARDS.items():
        assert cards.luhn_valid(number), number
        assert cards.authorize(number) == code
    assert cards.authorize("4242424242424242") is None
