# Zongji: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := $(wildcard src tests bench scripts)

.PHONY: run test lint fmt bench bench-smoke soak fuzz fuzz-smoke system-deps install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive (SIPp, baresip, Kamailio, espeak-ng, sox); installs only what is missing.
system-deps:
	@scripts/system-deps

run: install
	$(BIN)/zongji serve --demo

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

# Every bench/bench_*.py prints its figures beside its anchor's; `--smoke` is a short run for CI.
bench: install system-deps
	@set -e; for b in bench/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(BIN)/python $$b; done

bench-smoke: install system-deps
	@set -e; for b in bench/bench_*.py bench/soak_pbx.py; do [ -e "$$b" ] || continue; echo "== $$b (smoke)"; $(BIN)/python $$b --smoke; done

# The soak: one rate held for minutes through the PBX, per-minute figures and a verdict (held or
# not); `--ladder R1 R2 ...` finds the sustained rating. 10 minutes a rate: not part of `make bench`.
#   make soak ARGS="--rate 150"    make soak ARGS="--ladder 100 150 200 --postgres ADMIN_URL"
soak: install system-deps
	$(BIN)/python bench/soak_pbx.py $(ARGS)

# Every tests/fuzz/fuzz_*.py is an atheris target; FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: install
	@set -e; for f in tests/fuzz/fuzz_*.py; do [ -e "$$f" ] || continue; echo "== $$f ($(FUZZ_SECONDS) s)"; \
	  $(BIN)/python $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
