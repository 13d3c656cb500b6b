# setm — build, test, run, bench.  `make help` lists the targets.
#
# Every .c under sim/ except sim/cli/main.c goes into one static library; bin/setm and each
# tests/test_<module>.c link against it.  Objects live under build/<mode>/ (rel or asan), so the
# sanitizer build never mixes with the release one.  Header dependencies are tracked with -MMD.

VERSION   := 0.1.0
PKGS      := gsl hdf5 inih libsodium OpenCL
TEST_PKGS := cmocka
DEB_PKGS  := libgsl-dev libhdf5-dev libinih-dev libcmocka-dev ocl-icd-opencl-dev opencl-headers \
             pocl-opencl-icd libsodium-dev pkg-config python3 python3-venv chromium

MODE      ?= rel
# make MPI=1: `setm sweep` shares runs over MPI ranks (mpicc, -DSETM_MPI); objects and the binary
# go to build/mpi (build/mpi/setm), apart from every other build.
ifeq ($(MPI),1)
override MODE := mpi
CC        := mpicc
CPPFLAGS  += -DSETM_MPI
endif
BUILD     := build/$(MODE)
CC        ?= cc
# pkg-config is only asked when building, so `make deps` works on a machine without the libraries.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# HDF5's .pc file leaves out its high-level library (dimension scales, sim/io/h5.c).
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhdf5_hl
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS  += -Isim -Ikernels -DSETM_VERSION=\"$(VERSION)\" -DSETM_KERNEL_DIR=\"$(CURDIR)/kernels\" \
             -DSETM_SOURCE_DIR=\"$(CURDIR)\" -DCL_TARGET_OPENCL_VERSION=120 -D_GNU_SOURCE
OPT       := -O2 -g
ifeq ($(MODE),asan)
OPT       := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(MODE),tsan)
OPT       := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
endif
CFLAGS    += -std=c11 $(OPT) $(WARN) -MMD -MP
LDFLAGS   += $(filter -fsanitize=%,$(OPT)) -pthread

# EXCLUDE (patterns) and EXTRA_SRC let a developer build while a module is mid-edit.
LIB_SRC   := $(filter-out sim/cli/main.c $(EXCLUDE),$(shell find sim -name '*.c' | sort)) $(EXTRA_SRC)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libsetm.a
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
SETM      := $(if $(filter rel,$(MODE)),bin/setm,$(BUILD)/setm)

SCENARIO  ?= scenarios/case_study.ini
# The analysis tools run in a project-local virtual environment made on first use from
# analysis/requirements.txt plus the analysis package itself (analysis/pyproject.toml); PYTHON is
# the interpreter that creates it (Debian's python3 needs python3-venv: `make deps`).
PYTHON    ?= python3
VENV      ?= .venv
VPY       := $(VENV)/bin/python
VENV_OK   := $(VENV)/.setm-installed

.PHONY: all deps run test test-c test-py test-layers golden asan tsan bench plots clean help config-docs fuzz gpu-check gpu-pack venv
all: $(SETM)

help:
	@echo "make            build bin/setm"
	@echo "make deps       install the Debian packages setm needs (as root), or print the command"
	@echo "make run        deps + build + run $(SCENARIO) (SCENARIO=... to change) + its HTML report"
	@echo "make test       build and run every test (cmocka, then pytest in .venv)"
	@echo "make venv       make .venv (Python analysis tools) from analysis/requirements.txt"
	@echo "make asan       the whole test suite under AddressSanitizer + UBSan"
	@echo "make golden     rewrite tests/golden/*.txt after an intended change of behaviour"
	@echo "make tsan       the threaded suites (worker pool, thread-count determinism) under ThreadSanitizer"
	@echo "make bench      throughput benchmarks"
	@echo "make gpu-check  the GPU check (tests/gpu/check.sh; --quick runs in the tests on PoCL)"
	@echo "make gpu-pack   build/gpu-carry/: bin/setm and its shared libraries, for a bare GPU machine"
	@echo "make plots      run $(SCENARIO) and scenarios/attacks_demo.ini, draw out/plots/*.png"
	@echo "make fuzz       libFuzzer targets (clang) in build/fuzz/: config, msg, tx, verify"
	@echo "make config-docs  regenerate configs/defaults.ini and agent_types.ini from the schema"
	@echo "make MPI=1      build build/mpi/setm for sweeps under mpirun"
	@echo "make clean      remove build/, bin/ and out/"

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SETM): $(BUILD)/sim/cli/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BUILD)/tests/%: tests/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) \
	    $(PKG_LIBS) $(TEST_LIBS) -lm -o $@

# The test runner prints each suite's cmocka summary and a total line; non-zero exit on any failure.
test-c: $(SETM) $(TEST_BIN)
	@SETM_BIN=$(abspath $(SETM)) SETM_SOURCE_DIR=$(CURDIR) sh tests/run.sh $(TEST_BIN)

$(VENV_OK): analysis/requirements.txt analysis/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "venv: no $(PYTHON) on PATH: \
	install python3 and python3-venv (make deps), or name an interpreter: make PYTHON=..."; exit 1; }
	@[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "venv: $(PYTHON) -m venv \
	failed: on Debian install python3-venv (make deps), then run make again"; exit 1; }
	@echo "venv: installing analysis/requirements.txt into $(VENV) (first use only)"
	@$(VPY) -m pip install -q --disable-pip-version-check -r analysis/requirements.txt && \
	 $(VPY) -m pip install -q --disable-pip-version-check --no-deps -e analysis || { \
	 echo "venv: pip could not install analysis/requirements.txt into $(VENV) (no network? \
	see pip's message above); run make again to retry"; exit 1; }
	@touch $@

venv: $(VENV_OK)

test-py: $(SETM) $(VENV_OK)
	@SETM_BIN=$(abspath $(SETM)) $(VPY) -m pytest -q analysis/tests

test: test-layers test-c test-py

# Rewrite the checked-in golden runs (tests/golden/*.txt, README "Tests") after an intended change.
golden: $(SETM) $(BUILD)/tests/test_golden
	SETM_BIN=$(abspath $(SETM)) SETM_SOURCE_DIR=$(CURDIR) $(BUILD)/tests/test_golden --write \
	    $(sort $(wildcard tests/golden/*.txt))

# Imports point down only (README "Design notes"); --self-test proves the check can fail.
test-layers:
	@sh tests/tools/check_layers.sh --self-test && sh tests/tools/check_layers.sh

asan:
	@$(MAKE) --no-print-directory MODE=asan test-c
	@echo "== test_mine again without OpenCL, for LeakSanitizer (see the note in tests/test_mine.c)"
	@SETM_TEST_SKIP_OPENCL=1 SETM_BIN=$(abspath build/asan/setm) SETM_SOURCE_DIR=$(CURDIR) \
	    sh tests/run.sh build/asan/tests/test_mine

# The suites that run code on several threads, under ThreadSanitizer (objects in build/tsan):
# the worker pool, the chain's batches, parallel verify, mutual keys derived on a pool
# (test_security) and the CPU nonce search (test_mine with
# its OpenCL cases skipped: the PoCL runtime is not built for ThreadSanitizer).
TSAN_TESTS := test_pool test_chain_node test_verify test_mine test_security
tsan: $(SETM)
	@$(MAKE) --no-print-directory MODE=tsan $(TSAN_TESTS:%=build/tsan/tests/%)
	@for t in $(TSAN_TESTS); do \
	    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" SETM_SOURCE_DIR=$(CURDIR) \
	        SETM_BIN=$(abspath $(SETM)) SETM_TEST_SKIP_OPENCL=1 \
	        build/tsan/tests/$$t || exit 1; done

bench: $(SETM)
	$(SETM) bench scale
	$(SETM) bench engine
	$(SETM) bench agents
	$(SETM) bench market
	$(SETM) bench mine

# The GPU check (README "Mining"): on a machine with an NVIDIA GPU, from the working tree plus
# build/gpu-carry/ (make gpu-pack on the build machine); one summary line per figure.
gpu-check:
	@sh tests/gpu/check.sh

gpu-pack: $(SETM)
	@sh tests/gpu/pack.sh

# The analysis figures (analysis/SCHEMA.md, README "Analysis"): the default scenario's run, and
# the attack demo for attacks.png.
PLOT_RUN  := out/$(basename $(notdir $(SCENARIO))).h5
plots: $(SETM) $(VENV_OK)
	@mkdir -p out/plots
	$(SETM) run $(SCENARIO) -o $(PLOT_RUN) --quiet
	$(SETM) run scenarios/attacks_demo.ini -o out/attacks_demo.h5 --quiet
	$(VENV)/bin/setm-plot run $(PLOT_RUN) -o out/plots --only prices,latency,blocks,energy
	$(VENV)/bin/setm-plot run out/attacks_demo.h5 -o out/plots --only attacks

# The run, then its one-page HTML report (setm report: figures, summary, verify) beside it.
run: deps $(SETM) $(VENV_OK)
	@mkdir -p out
	$(SETM) run $(SCENARIO)
	@$(SETM) report $(PLOT_RUN)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	    echo "deps: missing$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	fi

# libFuzzer targets (clang): build/fuzz/fuzz_<target>; run each with its seed corpus, e.g.
#   build/fuzz/fuzz_config -max_total_time=600 build/fuzz/corpus-config tests/fuzz/corpus/config
# Minimised crash inputs go into tests/fuzz/corpus/<target>/ (replayed by test_fuzz_corpus).
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,build/fuzz/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@$(MAKE) --no-print-directory MODE=fuzz CC=clang \
	    OPT="-O1 -g -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer" \
	    build/fuzz/libsetm.a
	@for t in $(FUZZ_TARGETS); do \
	    src=tests/fuzz/$$(basename $$t).c; echo "clang $$src -> $$t"; \
	    clang $(CPPFLAGS) -Itests $(PKG_CFLAGS) -std=c11 -O1 -g -fsanitize=address,undefined,fuzzer \
	        $$src tests/fuzz/harness.c build/fuzz/libsetm.a $(PKG_LIBS) -lm -o $$t || exit 1; \
	done

# Regenerate the key documentation from the schema (tests fail until it is in step).
config-docs: $(LIB)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) tests/tools/gen_config_docs.c $(LIB) $(PKG_LIBS) -lm \
	    -o $(BUILD)/gen_config_docs
	$(BUILD)/gen_config_docs | sed 's/ = $$/ =/' > configs/defaults.ini
	$(BUILD)/gen_config_docs types > configs/agent_types.ini

clean:
	rm -rf build bin out

-include $(LIB_OBJ:.o=.d) $(BUILD)/sim/cli/main.d $(TEST_BIN:=.d)

# The validation suite (analysis/validate.py; README "Validation"): experiments against theory
# and published results; exit 1 on any FAIL.  validate-quick is the CI subset (< 2 minutes).
.PHONY: validate validate-quick
validate: $(SETM) $(VENV_OK)
	SETM_BIN=$(abspath $(SETM)) $(VPY) analysis/validate.py -o out/validate

validate-quick: $(SETM) $(VENV_OK)
	SETM_BIN=$(abspath $(SETM)) $(VPY) analysis/validate.py --quick -o out/validate-quick
