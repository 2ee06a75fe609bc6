# Art Factory — `make run` installs and starts the app; `make test` installs and runs every check.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export PIP_CONSTRAINT :=

.PHONY: run test lint bench screenshots icons dist selftest clean sysdeps dist-selftest icons

$(VENV)/.sysdeps: scripts/system-deps.sh
	@mkdir -p $(VENV)
	bash scripts/system-deps.sh
	@touch $@

$(VENV)/.app: $(VENV)/.sysdeps pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.app pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt -e ".[dev]"
	@touch $@

run: $(VENV)/.app
	$(VENV)/bin/artfactory

test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: $(VENV)/.dev
	$(PY) bench/thumbnails.py
	$(PY) bench/engine.py
	$(PY) bench/providers.py
	$(PY) bench/ui.py
	$(PY) bench/gallery.py
	$(PY) bench/gallery.py --database postgresql
	$(PY) bench/concurrency.py
	$(PY) bench/sweep.py
	$(PY) bench/cli_startup.py
	$(PY) bench/cost_accuracy.py
	$(PY) bench/inputs_folder.py

screenshots: $(VENV)/.dev
	$(PY) scripts/screenshots.py

icons: $(VENV)/.app
	$(PY) scripts/make_icons.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache

dist: $(VENV)/.dev
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build art-factory.spec
	@du -sh dist/artfactory | awk '{print "bundle size: " $$1}'

dist-selftest: dist
	QT_QPA_PLATFORM=offscreen dist/artfactory/artfactory --selftest

selftest: $(VENV)/.app
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/artfactory --selftest
