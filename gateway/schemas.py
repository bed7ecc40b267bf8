"""Request validation for ``POST /payments``: pydantic for shape, rules for meaning.

Errors come back as a list of ``{"loc", "field", "msg"}`` so a client sees
which field is wrong.  No error ever echoes the submitted value (pydantic's
``input`` is dropped), because the value may be a card number or a CVC.
Rules that depend on the date (card expiry) take ``today`` as an argument.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from gateway.cards import ascii_digits, card_brand, cvc_length, luhn_valid
from gateway.money import CURRENCY_EXPONENTS

# Used with fullmatch: "$" alone would also match before a trailing newline, and
# "acme\n" would post to a merchant account of its own.
MERCHANT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    number: StrictStr
    exp_month: StrictInt
    exp_year: StrictInt
    cvc: StrictStr


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    merchant_id: StrictStr
    amount_minor: StrictInt
    currency: StrictStr
    card: CardIn
    description: StrictStr | None = None


@dataclass(frozen=True)
class AmountBounds:
    min_minor: int = 1
    max_minor: int = 100_000_000  # one million in a 2-decimal currency


class PaymentValidationError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['msg']}" for e in errors))
        self.errors = errors


def _err(loc: tuple[str | int, ...], msg: str) -> dict[str, Any]:
    # An error about the whole body (not an object) has no path: name it "body".
    field = ".".join(str(p) for p in loc) or "body"
    return {"loc": ["body", *loc], "field": field, "msg": msg}


def printable_text(text: str) -> bool:
    """No control characters but tab and line breaks, no unpaired surrogates.

    JSON can carry both ("\\u0000", "\\ud800"), but PostgreSQL refuses NUL in text
    (the node answered 503 "database unavailable", which clients retry forever) and
    a lone surrogate cannot be encoded as UTF-8 (500)."""
    return all(
        ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in text
    )


def normalize_card_number(raw: str) -> str:
    return raw.replace(" ", "").replace("-", "")


def parse_payment(
    payload: Any, *, today: date, bounds: AmountBounds = AmountBounds()
) -> PaymentIn:
    """Validate a decoded JSON body; raise ``PaymentValidationError`` naming each bad field."""
    try:
        body = PaymentIn.model_validate(payload)
    except ValidationError as exc:
        errors = [_err(tuple(e["loc"]), _friendly(e)) for e in exc.errors(include_input=False)]
        raise PaymentValidationError(errors) from None
    errors = []
    if not MERCHANT_ID_RE.fullmatch(body.merchant_id):
        errors.append(
            _err(("merchant_id",), "must be 3-64 characters: letters, digits, '_' or '-', "
                 "starting with a letter or digit")
        )
    if not (bounds.min_minor <= body.amount_minor <= bounds.max_minor):
        errors.append(
            _err(("amount_minor",), f"must be an integer between {bounds.min_minor} and "
                 f"{bounds.max_minor} (minor units)")
        )
    if body.currency not in CURRENCY_EXPONENTS:
        errors.append(_err(("currency",), "must be a supported ISO 4217 code in upper case "
                           "(e.g. USD, EUR, JPY)"))
    if body.description is not None:
        if len(body.description) > 255:
            errors.append(_err(("description",), "must be at most 255 characters"))
        elif not printable_text(body.description):
            errors.append(_err(("description",), "must be text without control characters "
                               "(tab and line breaks are fine) or lone surrogates"))
    errors.extend(_card_errors(body.card, today))
    if errors:
        raise PaymentValidationError(errors)
    number = normalize_card_number(body.card.number)
    return body.model_copy(update={"card": body.card.model_copy(update={"number": number})})


def _card_errors(card: CardIn, today: date) -> list[dict[str, Any]]:
    errors = []
    number = normalize_card_number(card.number)
    if not ascii_digits(number) or not 12 <= len(number) <= 19:
        errors.append(_err(("card", "number"), "must be 12-19 digits 0-9"))
    elif not luhn_valid(number):
        errors.append(_err(("card", "number"), "fails the Luhn check"))
    month_ok = 1 <= card.exp_month <= 12
    if not month_ok:
        errors.append(_err(("card", "exp_month"), "must be between 1 and 12"))
    year = card.exp_year + 2000 if 0 <= card.exp_year < 100 else card.exp_year
    if not 2000 <= year <= 2100:
        errors.append(_err(("card", "exp_year"), "must be a year such as 2030"))
    elif month_ok and (year, card.exp_month) < (today.year, today.month):
        errors.append(_err(("card", "exp_year"), "card expired (exp_month/exp_year in the past)"))
    brand = card_brand(number) if ascii_digits(number) else "unknown"
    want = cvc_length(brand)
    lengths = (want,) if brand != "unknown" else (3, 4)
    if not (ascii_digits(card.cvc) and len(card.cvc) in lengths):
        errors.append(_err(("card", "cvc"), f"must be {want} digits 0-9 for this card"))
    return errors


def _friendly(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind.startswith("int"):
        return "must be an integer"
    if kind.startswith("string"):
        return "must be a string"
    if kind in ("model_type", "dict_type"):
        return "must be an object"
    return str(error.get("msg", "invalid value"))
