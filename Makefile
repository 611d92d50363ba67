# Zongji: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := $(wildcard src tests bench scripts)

.PHONY: run test lint fmt bench bench-smoke soak fuzz fuzz-smoke system-deps install clean \
	web web-lint web-test web-api

# The browser front end (web/, docs/console.md): `npm ci` only when the lock file changed, `vite
# build` only when a source changed; the node serves web/dist/console at /console/.
# `make install` stays Python-only: every target that needs web/node_modules depends on it.
WEB_DEPS  := web/node_modules/.installed
WEB_BUILD := web/dist/console/index.html
WEB_SRC   := $(shell find web/console web/shared -type f \
	! -name '*.test.ts' ! -name 'auto-imports.d.ts' ! -name 'components.d.ts' 2>/dev/null) \
	web/vite.config.ts web/tsconfig.json web/package.json
NPX       := cd web && npx --no-install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive (SIPp, baresip, Kamailio, espeak-ng, sox); installs only what is missing.
system-deps:
	@scripts/system-deps

run: install web
	$(BIN)/zongji serve --demo

# pytest, then the console's unit tests (Vitest) and its end-to-end tests (Playwright in Debian's
# Chromium against a demo node; on PostgreSQL too when ZONGJI_TEST_DATABASE_URL is set).
test: install system-deps web
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory web-test

lint: install web-lint
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/lint-imports

$(WEB_DEPS): web/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

$(WEB_BUILD): $(WEB_DEPS) $(WEB_SRC)
	$(NPX) vite build
	@cd web && node scripts/initial-size.mjs
	@touch $@

web: $(WEB_BUILD)

# ESLint, vue-tsc, every package runs on Debian 12's Node.js, and the API types are current.
web-lint: install $(WEB_DEPS)
	$(NPX) eslint --max-warnings 0 .
	$(NPX) vue-tsc --noEmit -p tsconfig.json
	cd web && node scripts/check-engines.mjs
	cd web && PYTHON=$(abspath $(BIN))/python node scripts/gen-api.mjs --check

web-test: install system-deps web
	$(NPX) vitest run
	$(NPX) playwright test

# Regenerate web/shared/api/schema.d.ts after changing the API.
web-api: install $(WEB_DEPS)
	cd web && PYTHON=$(abspath $(BIN))/python node scripts/gen-api.mjs

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
	rm -rf web/node_modules web/dist web/test-results
