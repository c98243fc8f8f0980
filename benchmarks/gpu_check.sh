#!/usr/bin/env bash
# The GPU check: the fast paths on a CUDA GPU, with the Python, torch and transformers installed there.
#
#   bash benchmarks/gpu_check.sh            # on the GPU machine, from the repository root
#
# The GPU machine has its own Python (with a CUDA build of torch and some transformers release) and no
# network. The pure-Python packages it lacks travel as wheels in .whl/: `make gpu-wheels` (run here,
# with network) downloads them, pinned to requirements.lock's versions. The check then runs
#   1. tests/graph/test_gpu.py (the same numbers on CUDA as on the CPU) and the resume/fast-path tests
#      with the tiny models built on cuda (--device cuda);
#   2. benchmarks/gpu_speed.py: the batched patch sweep vs the serial loop and packed DAS training vs
#      the reference loop, on random-initialised models of SmolLM2-135M's and a ~1B Llama's configs.
# About 3-6 minutes on one H200. Without CUDA it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device visible to $PY: nothing to check"
    exit 0
fi
site=$(mktemp -d)
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl \
        || { echo "gpu_check: could not install the carried wheels"; exit 1; }
fi
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PY" - <<'PY'
import torch, transformers
print(f"gpu_check: {torch.cuda.get_device_name()} | torch {torch.__version__} | transformers {transformers.__version__}")
PY

status=0
timeout 300 "$PY" -m pytest -q -p no:cacheprovider -o addopts="" --device cuda \
    tests/graph/test_gpu.py tests/graph/test_graph_resume.py || status=1
timeout 400 "$PY" benchmarks/gpu_speed.py --device cuda --reps 3 --das-steps 50 || status=1
exit $status
