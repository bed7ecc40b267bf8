"""Gateway: the payment data plane (nodes, ledger, load balancer, fault injection).

- ``node``: the FastAPI payment node (``python -m gateway.node``, settings ``FLEETCAST_NODE_*``);
  ``node_middleware`` applies metrics and injected faults; ``schemas`` validates requests;
  ``cards`` (Luhn, brand, keyed fingerprint, declining test cards) and ``money`` (ISO 4217
  exponents, fees: ``round_half_up(amount × bps / 10 000) + fixed``, capped at the amount).
- ``ledger`` / ``models``: payments, double-entry rows and idempotency records, with the
  at-most-once guarantee enforced by the database; ``verify_ledger`` checks the books.
- ``db.make_engine``: SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL (psycopg 3).
- ``balancer`` + ``strategies``: the load balancer process (``python -m gateway.balancer``,
  settings ``FLEETCAST_LB_*``) and its pure choice rules; ``httpclient`` is its lean client.
- ``faults``: latency, errors, cpu, memory, hang, crash (off unless enabled; token needed).
- ``loadgen``: a retrying client (``run_load``) for the CLI, benchmarks, tests and the demo.

This package never imports ``controller``.
"""
