"""Every bad input to ``POST /payments`` gets a 4xx that names the field, never the card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import body

PAN = "4242424242424242"


def post(client: TestClient, payload: Any, key: str | None = "k-valid-1", **kw: Any) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    if isinstance(payload, bytes):
        return client.post("/payments", content=payload,
                           headers={**headers, "content-type": "application/json"})
    return client.post("/payments", json=payload, headers=headers)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(body(card__number="4242424242424241"), "card.number", id="luhn"),
        pytest.param(body(card__number="4242"), "card.number", id="too-short"),
        pytest.param(body(card__number="4242x24242424242"), "card.number", id="not-digits"),
        pytest.param(body(card__exp_month=13), "card.exp_month", id="month-13"),
        pytest.param(body(card__exp_month=0), "card.exp_month", id="month-0"),
        pytest.param(body(card__exp_year=2020), "card.exp_year", id="expired"),
        pytest.param(body(card__cvc="12"), "card.cvc", id="cvc-short"),
        pytest.param(body(card__cvc="12a"), "card.cvc", id="cvc-letters"),
        pytest.param(body(card__number="378282246310005", card__cvc="123"), "card.cvc",
                     id="amex-needs-4"),
        pytest.param(body(currency="XYZ"), "currency", id="unknown-currency"),
        pytest.param(body(currency="usd"), "currency", id="lower-case-currency"),
        pytest.param(body(amount_minor=0), "amount_minor", id="zero-amount"),
        pytest.param(body(amount_minor=-5), "amount_minor", id="negative-amount"),
        pytest.param(body(amount_minor=10**12), "amount_minor", id="above-max"),
        pytest.param(body(amount_minor=12.5), "amount_minor", id="float-amount"),
        pytest.param(body(amount_minor="1250"), "amount_minor", id="string-amount"),
        pytest.param(body(merchant_id="a"), "merchant_id", id="merchant-too-short"),
        pytest.param(body(merchant_id="bad id!"), "merchant_id", id="merchant-chars"),
        pytest.param(body(description="x" * 300), "description", id="long-description"),
        pytest.param({k: v for k, v in body().items() if k != "card"}, "card", id="no-card"),
        pytest.param(body(extra="x"), "extra", id="unknown-field"),
    ],
)
def test_invalid_field_is_422_naming_the_field(
    node_client: TestClient, payload: dict[str, Any], field: str
) -> None:
    response = post(node_client, payload)
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["detail"]]
    assert field in fields
    assert PAN not in response.text and "4242424242424241" not in response.text


def test_missing_idempotency_key_is_400(node_client: TestClient) -> None:
    response = post(node_client, body(), key=None)
    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] == "Idempotency-Key"


def test_overlong_idempotency_key_is_400(node_client: TestClient) -> None:
    assert post(node_client, body(), key="k" * 256).status_code == 400


def test_malformed_json_is_400(node_client: TestClient) -> None:
    response = post(node_client, b'{"merchant_id": ')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"][0]["msg"]


def test_body_over_limit_is_413(node_client: TestClient) -> None:
    big = json.dumps(body(description="x" * 40_000)).encode()
    assert post(node_client, big).status_code == 413


@pytest.mark.parametrize("raw", [b"[1, 2]", b"null", b'"x"', b"12"])
def test_non_object_body_is_422_naming_body(node_client: TestClient, raw: bytes) -> None:
    response = post(node_client, raw)
    assert response.status_code == 422
    # The field was "" before: nothing for a client to show.
    assert response.json()["detail"] == [
        {"loc": ["body"], "field": "body", "msg": "must be an object"}]


def test_valid_payment_response_masks_the_card(node_client: TestClient) -> None:
    response = post(node_client, body(), key="k-mask-1")
    assert response.status_code == 201
    data = response.json()
    assert data["card"] == {"brand": "visa", "last4": "4242"}
    assert PAN not in response.text and '"123"' not in response.text
    assert data["status"] == "captured" and data["fee_minor"] == 36 + 30
    fetched = node_client.get(f"/payments/{data['id']}")
    assert fetched.status_code == 200 and PAN not in fetched.text


def test_declining_test_card(node_client: TestClient) -> None:
    response = post(node_client, body(card__number="4000000000009995"), key="k-decline-1")
    assert response.status_code == 201
    assert response.json()["status"] == "declined"
    assert response.json()["decline_code"] == "insufficient_funds"
    assert response.json()["fee_minor"] == 0


def test_card_number_is_not_at_rest(node_client: TestClient) -> None:
    for i, number in enumerate(["4242424242424242", "5555555555554444"]):
        response = post(node_client, body(card__number=number), key=f"k-rest-{i}")
        assert response.status_code == 201
    state = node_client.app.state.node  # type: ignore[attr-defined]
    database = state.engine.url.database
    raw = b"".join(Path(p).read_bytes() for p in (database, database + "-wal")
                   if Path(p).exists())
    for number in (b"4242424242424242", b"5555555555554444"):
        assert number not in raw
    assert b"424242" in raw  # the BIN is kept (so the probe does read the data)


def stored_rows(client: TestClient) -> tuple[int, int]:
    """(payments, idempotency records) in the node's ledger."""
    from sqlalchemy import func, select

    from gateway.models import IdempotencyRecord, Payment

    engine = client.app.state.node.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        payments = conn.scalar(select(func.count()).select_from(Payment))
        keys = conn.scalar(select(func.count()).select_from(IdempotencyRecord))
    return int(payments or 0), int(keys or 0)


def test_merchant_id_with_a_trailing_newline_is_refused(node_client: TestClient) -> None:
    # "$" matched before a final newline: the payment was captured and posted to the
    # ledger account "merchant:acme_store\n", apart from acme_store's own.
    response = post(node_client, body(merchant_id="acme_store\n"), key="k-merchant-nl")
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["detail"]] == ["merchant_id"]
    assert stored_rows(node_client) == (0, 0)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        # str.isdigit() takes any script's digits: these were captured (brand "unknown",
        # last4 "４２４２" stored) or passed as a CVC.
        pytest.param(body(card__number="４２４２４２４２４２４２４２４２"), "card.number",
                     id="fullwidth-number"),
        pytest.param(body(card__cvc="١٢٣"), "card.cvc", id="arabic-indic-cvc"),
    ],
)
def test_digits_of_other_scripts_are_refused(
    node_client: TestClient, payload: dict[str, Any], field: str
) -> None:
    response = post(node_client, payload, key="k-unicode-digits")
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["detail"]] == [field]
    assert "0-9" in response.json()["detail"][0]["msg"]
    assert stored_rows(node_client) == (0, 0)


@pytest.mark.parametrize(
    "description",
    [
        # PostgreSQL refuses NUL in text: 503 "database unavailable" (retried by clients);
        # SQLite stored it.
        pytest.param("order\u000042", id="nul"),
        pytest.param("order \u001b[31m42", id="escape"),
        # Cannot be encoded as UTF-8: 500 from the ledger insert.
        pytest.param("order \ud800", id="lone-surrogate"),
    ],
)
def test_description_with_control_characters_is_refused(
    db_url: str, tmp_path: Path, description: str
) -> None:
    from gateway.node import create_app
    from gateway.settings import NodeSettings

    settings = NodeSettings(node_id="node-d", database_url=db_url, processing_latency_ms=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        before = stored_rows(client)
        payload = json.dumps(body(description=description)).encode()  # \\u escapes
        response = post(client, payload, key=f"k-desc-{tmp_path.name}")
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["detail"]] == ["description"]
        assert stored_rows(client) == before
        fine = body(description="order 42\r\n\tgift 😀")  # line breaks, tab and emoji are text
        assert post(client, fine, key=f"k-desc-ok-{tmp_path.name}").status_code == 201


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        # Both were 500s: int() refuses more than 4300 digits, the decoder recursion.
        pytest.param(json.dumps(body()).replace("1250", "9" * 5000).encode(), "digits",
                     id="5000-digit-amount"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "nested", id="nested-5000-deep"),
    ],
)
def test_json_the_decoder_cannot_read_is_400(node_client: TestClient, raw: bytes,
                                             says: str) -> None:
    response = post(node_client, raw, key="k-unreadable")
    assert response.status_code == 400, response.text
    detail = response.json()["detail"][0]
    assert detail["field"] == "body" and "malformed JSON" in detail["msg"] and says in detail["msg"]
    assert stored_rows(node_client) == (0, 0)
