.PHONY: run test test-fast lint setup bench
PY := .venv/bin/python

# Set up (first time only) and open the app on the embedded default model.
run:
	bash scripts/setup.sh
	$(PY) -m forge prepare
	$(PY) app.py $(ARGS)

# Set up (first time only) and run the whole test suite (two test processes, a file each at a time).
test:
	bash scripts/setup.sh --test
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -n 2 --dist loadfile --durations=25 $(PYTEST_ARGS)

# The unit-level tests only (no server, browser, worker process or training run): a few minutes.
test-fast:
	bash scripts/setup.sh --test
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -n 2 -m "not slow and not browser and not integration" $(PYTEST_ARGS)

lint:
	bash scripts/setup.sh --test
	$(PY) -m ruff check forge app.py tests bench scripts

setup:
	bash scripts/setup.sh --test

bench:
	$(PY) bench/overhead.py
	$(PY) bench/launcher.py
	$(PY) bench/first_loss.py
	$(PY) bench/serve.py
	$(PY) bench/export.py
	$(PY) bench/page_stream.py
