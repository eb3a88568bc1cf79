# logdigit developer tasks. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Threads the tests run with: the caller's OMP_NUM_THREADS, else 2 (the LAS is the same on any count).
TEST_THREADS ?= $(or $(OMP_NUM_THREADS),2)

.PHONY: install fit-tracer fit-digits fit-curve-stats layout-real layout-synth evaluate-real trace-real trace-real-joint test test-all demo bench bench-accuracy bench-accuracy-full lint samples model-eval compare-losses fit-confidence clean

install: $(STAMP)

# torch first, pinned, so pip takes the CPU wheel that lies on this disk instead of
# downloading a multi-GB CUDA build to satisfy the project's `torch` requirement.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev,ocr,research,joint]"
	@# Tesseract reads printed depth numbers for `logdigit layout`; optional, installed where we are root.
	command -v tesseract >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get install -y -qq tesseract-ocr >/dev/null; } \
		|| echo "tesseract-ocr not installed; logdigit layout will read depth numbers with DigitNet alone"
	touch $(STAMP)

# The fast suite (a couple of minutes on 2 cores); test-all adds the slow end-to-end tests
# (training, Dask clusters, the benchmarks' quick run). CI runs lint and test-all.
test: install
	OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python -m pytest -q -m "not slow" tests logdigit

test-all: install
	OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python -m pytest -q tests logdigit

demo: install
	mkdir -p samples/out
	$(BIN)/logdigit infer samples/colour.png -o samples/out/colour.las --qc samples/out/colour.qc.png --overwrite
	$(BIN)/logdigit score samples/out/colour.las samples/colour.truth.las --layout samples/colour.layout.toml

BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS  ?=

# The benchmarks' peer network. torch==2.13.0 is named in the same pip command so the resolver
# keeps the CPU wheel (torchvision 0.28.0 requires exactly that torch). Offline, the benchmark
# still runs and reports the peer as skipped.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q torch==2.13.0 -e ".[dev,bench]" && touch $@ \
		|| echo "bench extra not installed; the peer network will be reported as skipped"

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# VeerNet and the peer trained with one recipe and budget, scored on one test set (35 min on 2 shared cores).
bench-accuracy: $(BENCH_STAMP)
	$(BIN)/python benchmarks/peer_accuracy.py --steps 200 --seed 0 --eval-n 100 --json docs/peer-accuracy.json

# The peer trained with the shipped model's own recipe (3000 steps, about 65 min on 2 cores),
# scored beside the shipped weights on the model card's 200 test sheets.
bench-accuracy-full: $(BENCH_STAMP)
	$(BIN)/python benchmarks/peer_accuracy.py --full --eval-n 200 --threads 2 --json docs/peer-accuracy-full.json --doc docs/peer-accuracy-full.md

# `logdigit layout` on the real prints of ../shared/realdata against the kit's layouts, and the section A layout
# registered as a template onto a shifted, cropped copy of the print (skips when absent).
layout-real: install
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/layout_real.py --doc docs/layout-real.md

# `logdigit layout`'s draft on 100 seeded synthetic sheets with printed depth numbers: the share with every
# track and every depth tie right (docs/layout-synth.md + .json).
layout-synth: install
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/layout_synth.py --n 100 --seed 0 --doc docs/layout-synth.md --json docs/layout-synth.json

# The network's class masks on the WSC print (colour and 1-bit) against the kit's pixel truth, and its
# recall near track edges on synthetic sheets (docs/evaluate-real.md + .json; skips without the kit).
# Probabilities are cached in .cache/evaluate-real/; WEIGHTS=path scores other weights.
# The synthetic edge recall takes about 11 min on one thread (EDGE_N sheets); the real prints 2 min.
WEIGHTS ?=
EDGE_N  ?= 200
evaluate-real: install
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/edge_recall.py --n $(EDGE_N) --seed 0 --threads 1 \
		$(if $(WEIGHTS),--weights $(WEIGHTS)) --json docs/edge-recall.json
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/evaluate_real.py --threads 1 $(if $(WEIGHTS),--weights $(WEIGHTS)) \
		--edge-json docs/edge-recall.json --doc docs/evaluate-real.md --json docs/evaluate-real.json

# Issue #19's figures: the WSC kit scored (sections A and B, colour and 1-bit), QC crops of the KGS
# scan's 10 checking windows, synthetic seeds 2 and 3, and the tracer's share of time. The network's
# output is cached in build/trace-real/cache, so a re-run after a tracer change runs from threshold on.
# Faster: make trace-real TRACE_REAL_ARGS="--skip synth"; count of faults seen: TRACE_REAL_ARGS="--kgs-faults N".
TRACE_REAL_ARGS ?=
trace-real: install
	OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python benchmarks/trace_real.py --doc docs/trace-real.md \
		--json docs/trace-real.json $(TRACE_REAL_ARGS)

# The same figures for `--tracer joint` (docs/trace-real-joint.md).
trace-real-joint: install
	OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python benchmarks/trace_real.py --tracer joint \
		--doc docs/trace-real-joint.md --json docs/trace-real-joint.json $(TRACE_REAL_ARGS)

# ruff (lint and format), codespell (British spellings are fine) and mypy on the product packages.
lint: install
	$(BIN)/ruff check logdigit tests benchmarks samples
	$(BIN)/ruff format --check logdigit tests benchmarks samples
	$(BIN)/codespell
	$(BIN)/mypy

samples: install
	$(BIN)/python samples/make_samples.py

model-eval: install
	$(BIN)/logdigit evaluate --style classic --n 200 --seed 0 --methods veernet,classical,true-masks --json > models/eval.json

# The tracer's weights: two logistic regressions on 100 synthetic train sheets
# (logdigit/data/tracer.json; see logdigit/research/fit_tracer.py; ~4 min on one core).
fit-tracer: install
	OMP_NUM_THREADS=1 $(BIN)/python -m logdigit.research.fit_tracer --n 100 --seed 0

# The depth-number reader DigitNet (logdigit/data/digits.safetensors): numbers rendered in the outline
# fonts of four Debian font packages (installed here where we are root) and Hershey stroke fonts; ~15 min on 2 cores.
DIGIT_FONTS = fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-urw-base35
fit-digits: install
	[ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || apt-get install -y -qq $(DIGIT_FONTS) >/dev/null
	$(BIN)/python -m logdigit.research.digits --steps 6000 --seed 0

# The per-row trace confidence: fit on 150 val sheets, checked on 100 test sheets of seeds 2 and 3
# (logdigit/data/confidence.json, docs/confidence.json and its reliability diagram; ~20 min on one core).
fit-confidence: install
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/fit_confidence.py

# The real-curve statistics the synthetic generator draws from (logdigit/data/curve_stats.json), fitted on
# the public logs of ../shared/realdata/las (numbers only, with each source's citation; ~2 s).
fit-curve-stats: install
	$(BIN)/python benchmarks/fit_curve_stats.py

# The controlled loss comparison of docs/loss-comparison.md (9 losses x 2 seeds; ~2.5 h on 2 cores).
compare-losses: install
	$(BIN)/logdigit compare-losses --steps 400 --seeds 0,1 --eval-n 100 --threads 2

clean:
	rm -rf .pytest_cache .ruff_cache samples/out
