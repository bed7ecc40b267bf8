# The few commands people run. The README's two commands are ./scripts/demo and ./scripts/test.
.PHONY: demo test lint typecheck bench

demo:
	./scripts/demo

test:
	./scripts/test

lint:
	.venv/bin/ruff check .
	.venv/bin/lint-imports

typecheck:
	.venv/bin/mypy

bench:
	.venv/bin/python benchmarks/gateway.py
	.venv/bin/python benchmarks/forecaster.py
	.venv/bin/python benchmarks/detector.py
	.venv/bin/python benchmarks/simulate.py
	.venv/bin/python benchmarks/controller.py
