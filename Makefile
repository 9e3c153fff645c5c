# The two commands: `make demo` (set up, seed, run the demo loop, serve) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo demo-data serve test lint bench services

# The demo is a development run: DEBUG on (production leaves it off, the default), so a development
# SECRET_KEY is made under var/ on first use.
demo demo-data: export DEBUG ?= 1

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py demo
	@echo "Serving on http://$(HOST):$(PORT)/admin/ (Ctrl-C stops)"
	@echo "Dashboard on the demo data: http://$(HOST):$(PORT)/dashboard/"
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

demo-data: setup
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py demo

test:
	bash scripts/test.sh

services:
	bash scripts/services.sh

lint: setup
	$(VENV)/bin/ruff check .
