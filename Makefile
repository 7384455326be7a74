# Service Circle — the two commands a new machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast bench bench-planner stress simulate worker demo clean

$(STAMP): pyproject.toml package-lock.json
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# browser libraries from npm (Chart.js; axe-core for the tests): only when node is here. Without them the
	@# street office's charts are plain SVG bars and the axe checks skip (README: "Browser libraries").
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent || echo "npm ci failed: plain drawings"; \
	 else echo "no npm: the consoles use their plain drawings (no Chart.js), the axe checks skip"; fi
	touch $(STAMP)

## run: start the service on http://127.0.0.1:8080 with the demo street (PORT= to change)
run: $(STAMP)
	$(BIN)/circle serve --demo $(if $(PORT),--port $(PORT),)

## test: the whole suite on real (embedded) PostgreSQL and Redis
test: $(STAMP)
	$(BIN)/pytest

## test-fast: the suite without the browser tests
test-fast: $(STAMP)
	$(BIN)/pytest -m "not browser"

## bench: booking-create load over HTTP (200 clients) beside pgbench running the same transaction as raw SQL on the same
## PostgreSQL, and the open loop at 100 bookings/s; prints numbers (targets: >= 500/s, >= 25% of pgbench, p99 < 50 ms)
bench: $(STAMP)
	$(BIN)/python -m tests.reliability.load_bench --open-rate 100

## bench-planner: the solver core on 8 Solomon instances with PyVRP beside it, and generated
## 300-visit circle-days with VROOM beside it (docs/benchmarks.md has the full runs)
bench-planner: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/circle bench vrptw C101 C201 R101 R201 RC101 RC201 R112 RC208 --seconds 10 --pyvrp
	$(BIN)/circle bench homecare --vroom --visits 300 --caregivers 25 --seconds 10 --seeds 1-3

## stress: the long reliability runs (2,000 bookings under SIGKILLs, 1,000 under killed connections, long fuzzing)
stress: $(STAMP)
	CIRCLE_STRESS=1 $(BIN)/pytest --timeout=0 tests/reliability

## simulate: 30 days of the demo street on a simulated clock with the real code; prints the care outcomes and
## writes var/simulation.html (a report in Chinese with charts)
simulate: $(STAMP)
	mkdir -p var
	$(BIN)/circle simulate --days 30 --seed 1 --report var/simulation.html

worker: $(STAMP)
	$(BIN)/circle worker

clean:
	rm -rf $(VENV) var .pytest_cache
