#!/usr/bin/env bash
# CI for the unsloth provider: build .venv-unsloth (scripts/setup_unsloth.sh) unless a current
# one already exists and imports, then train through the provider for real on the CPU fallback.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=.venv-unsloth
stamp=$(cat requirements.txt requirements-gpu.txt scripts/setup_unsloth.sh | sha256sum | cut -d' ' -f1)

start=$SECONDS
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.forge-stamp" 2>/dev/null)" = "$stamp" ] \
    && "$VENV/bin/python" -c "import unsloth" >/dev/null 2>&1; then
    echo "unsloth CI: reusing $VENV"
else
    echo "unsloth CI: building $VENV"
    bash scripts/setup_unsloth.sh "$VENV"
fi
echo "unsloth CI: environment ready in $((SECONDS - start)) s"

MODELFORGE_UNSLOTH_CPU=1 HF_HUB_OFFLINE=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
    --timeout=600 tests/test_unsloth.py
echo "unsloth CI: done in $((SECONDS - start)) s"
