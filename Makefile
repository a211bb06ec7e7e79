# coffea-casa-lab: two commands do all the set-up on a fresh machine.
#   make lab    install everything, then JupyterLab with the sidebar on the embedded (local) backend
#   make test   install everything incl. test tools (Debian chromium, npm packages), run every test
#   make fuzz   fuzz the REST API with many more examples and a fresh seed (run it before you submit)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export TMPDIR ?= /tmp
LAB_ARGS ?=
# Tests talk only to loopback: the scheduler's contact address is a loopback one, and as root
# they run in a fresh network namespace that has nothing but loopback (see TOOLCHAIN.md).
LOOPBACK_ONLY := $(shell [ "$$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null \
	&& unshare -n true 2>/dev/null && echo "unshare -n")
SOURCES := $(wildcard src/*.ts src/*/*.ts src/*/*.tsx style/*.css style/*.js style/*/*.svg schema/*.json) webpack.config.js scripts/minify-loader.js

.PHONY: lab test fuzz install pytest ui-test bench clean condor-pool

lab: install
	jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

test: install ui-tests/node_modules/.stamp chromium condor-pool
	$(call loopback,$(POOL_REQUIRED) python -m pytest tests -q -p no:cacheprovider $(PYTEST_PARALLEL))
	cd ui-tests && $(call loopback,jlpm playwright test)

# The same test as in `make test`, which is derandomized; here FUZZ_EXAMPLES per operation
# and a fresh seed. `make fuzz FUZZ_SEED=<seed>` repeats a run.
FUZZ_EXAMPLES ?= 200
FUZZ_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fuzz: export COFFEA_CASA_FUZZ_EXAMPLES := $(FUZZ_EXAMPLES)
fuzz: export COFFEA_CASA_FUZZ_SEED := $(FUZZ_SEED)
fuzz: install
	@echo "make fuzz: seed $(COFFEA_CASA_FUZZ_SEED); to repeat this run: make fuzz FUZZ_SEED=$(COFFEA_CASA_FUZZ_SEED)"
	$(call loopback,python -m pytest tests/test_rest_api.py -k test_fuzz_from_openapi -q -p no:cacheprovider --timeout 7200)

install: $(VENV)/.installed coffea_casa_lab/labextension/.stamp

bench: install
	$(call loopback,python bench/p1_startup.py)
	$(call loopback,python bench/p3_ws.py)
	$(call loopback,python bench/p10_submit.py)
	$(call loopback,python bench/p12_new_cluster.py)

$(VENV)/.installed: pyproject.toml package.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e ".[test,analysis]"
	touch $@

# The editable install builds the extension once; rebuild and link it when the sources change.
coffea_casa_lab/labextension/.stamp: $(VENV)/.installed $(SOURCES) package.json yarn.lock
	jlpm install
	jlpm clean:lib
	jlpm build
	jupyter labextension develop --overwrite .
	touch $@

ui-tests/node_modules/.stamp: ui-tests/package.json ui-tests/yarn.lock
	cd ui-tests && jlpm install
	touch $@

chromium:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

# A real personal HTCondor pool for the integration tests (a trixie chroot with minicondor; needs
# root and the Debian registry, so it installs here, outside the loopback-only namespace).
condor-pool: $(VENV)/.installed
	python tests/condor_pool/install.py

clean:
	rm -rf $(VENV) node_modules ui-tests/node_modules lib coffea_casa_lab/labextension .condor-pool

# Test files side by side (most of a test waits on processes and the network): each file on
# one worker, so its module fixtures start once (and the real pool's tests share one pool).
PYTEST_PARALLEL ?= -n 3 --dist loadfile
# As root the real-pool tests must run (they skip, saying why, elsewhere).
POOL_REQUIRED := $(if $(filter 0,$(shell id -u)),env COFFEA_CASA_POOL=required)

# $(call loopback,CMD): run CMD in a loopback-only network namespace where possible.
loopback = $(if $(LOOPBACK_ONLY),$(LOOPBACK_ONLY) sh -c 'ip link set lo up && exec $(1)',$(1))
