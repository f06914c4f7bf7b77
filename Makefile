.PHONY: run test setup bench
PY := .venv/bin/python

# Set up (first time only) and open the app on the embedded default model.
run:
	bash scripts/setup.sh
	$(PY) -m forge prepare
	$(PY) app.py $(ARGS)

# Set up (first time only) and run the whole test suite.
test:
	bash scripts/setup.sh --test
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

setup:
	bash scripts/setup.sh --test

bench:
	$(PY) bench/overhead.py
	$(PY) bench/launcher.py
	$(PY) bench/first_loss.py
