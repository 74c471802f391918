# marlsim — one binary, ./marlsim. See README.md.
#
# `make` installs missing Debian packages when run as root (saying what it
# installs), then builds. Flags come from pkg-config, so swapping the BLAS is a
# matter of BLAS_PC (see vendor/README.md).

CC       ?= cc
BLAS_PC  ?= openblas
PKGS      = $(BLAS_PC) inih sqlite3 libcrypto
DEB_PKGS  = libsqlite3-dev libopenblas-dev libssl-dev libinih-dev pkg-config sqlite3 libopenmpi-dev openmpi-bin
# Open MPI (SPEC §11): only its header at build time; exp/comm.c loads
# libmpi with dlopen under mpirun, so nothing links it (see exp/comm.h).
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c 2>/dev/null)
# -O2, never -Ofast/-ffast-math: they break NaN checks and bit-determinism.
# The "cheap" vectoriser cost model lets GCC vectorise the elementwise loops
# (Adam, activation gradients); it never reassociates floating point, so
# lakes are bit-identical to a plain -O2 build (same head hash), ~15% faster.
OPT      ?= -O2 -fvect-cost-model=cheap
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(MPI_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmvec -lm $(EXTRA_LDFLAGS)
BUILD    ?= build
PREFIX   ?= /usr/local

# The library (every layer but the commands) and the command layer.
LIB_SRC  = $(wildcard base/*.c keys/*.c sim/*.c nn/*.c ledger/*.c exp/*.c gov/*.c report/*.c api/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  = $(wildcard cli/*.c)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC = $(wildcard bench/*.c)

.PHONY: all deps test asan bench curves clean install run soak fuzz fuzz-cli fuzz-seeds faults interop lib pytest installcheck docs lint report-shot
all: marlsim

# Installs what is missing, only as root; otherwise says what to install.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "make: installing Debian packages:$$missing" >&2; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >&2 || \
	    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >&2; } || exit 1; \
	  else echo "make: missing Debian packages:$$missing (run make as root, or: sudo apt-get install$$missing)" >&2; exit 1; fi; fi

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

marlsim: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/unit_tests: $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The attacker of tests/trust.sh (the lake, the source and sqlite3; no keys).
$(BUILD)/lake_attack: $(BUILD)/tests/tools/lake_attack.o $(BUILD)/tests/tools/rechain.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The fuzz harnesses of tests/fuzz/ (one per parser, see harnesses.h) are
# also built with this compiler, their libFuzzer entry points renamed, into
# a replay driver: make test / make asan run every committed input of
# tests/fuzz/corpus/ and tests/fuzz/regress/ through them.
FUZZ_HARNESSES = config bcast blob keyring note proof lake
FUZZ_RG_OBJ = $(FUZZ_HARNESSES:%=$(BUILD)/tests/fuzz/rg_%.o)
$(BUILD)/tests/fuzz/rg_%.o: tests/fuzz/fuzz_%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DLLVMFuzzerInitialize=fuzz_$*_init -DLLVMFuzzerTestOneInput=fuzz_$*_one -MMD -MP -c $< -o $@
$(BUILD)/fuzz_regress: $(BUILD)/tests/fuzz/regress.o $(BUILD)/tests/fuzz/fuzz.o $(BUILD)/tests/tools/rechain.o $(FUZZ_RG_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The seed corpora of tests/fuzz/corpus/ are written by the project's own
# code (tests/fuzz/mkseeds.c); regenerate them with make fuzz-seeds.
$(BUILD)/fuzz_mkseeds: $(BUILD)/tests/fuzz/mkseeds.o $(BUILD)/tests/fuzz/fuzz.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
fuzz-seeds: $(BUILD)/fuzz_mkseeds
	$(BUILD)/fuzz_mkseeds tests/fuzz/corpus

# Fault injection (tests/fault/): the library linked with our own calls of
# malloc/calloc/realloc, pread, write, fsync/fdatasync and ftruncate
# wrapped (--wrap only reaches this binary's own objects: SQLite's and
# libcrypto's allocations go through their documented hooks, SQLite's file
# I/O through a wrapping VFS; see tests/fault/fault.h).
FAULT_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=pread,--wrap=write,--wrap=fsync,--wrap=fdatasync,--wrap=ftruncate
$(BUILD)/fault_sweep: $(BUILD)/tests/fault/fault.o $(BUILD)/tests/fault/sweep.o $(BUILD)/tests/fuzz/fuzz.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(FAULT_WRAP) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bench_marlsim: $(BENCH_SRC:%.c=$(BUILD)/%.o) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# Unit tests, then the command-line tests against the built binary; the last
# line is the total "N passed, N failed".
test: marlsim $(BUILD)/unit_tests $(BUILD)/lake_attack $(BUILD)/docgen $(BUILD)/fuzz_regress $(BUILD)/fault_sweep
	@$(MAKE) --no-print-directory DEB_PKGS="$(DOC_PKGS)" deps
	@MARLSIM_TOOLS=$(BUILD) tests/run.sh $(BUILD)/unit_tests ./marlsim

# The whole suite under AddressSanitizer + UBSan, in its own build tree.
ASAN_OPT = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
asan:
	$(MAKE) BUILD=build-asan OPT="$(ASAN_OPT)" build-asan/marlsim build-asan/unit_tests build-asan/lake_attack build-asan/docgen \
	  build-asan/fuzz_regress build-asan/fault_sweep
	@$(MAKE) --no-print-directory DEB_PKGS="$(DOC_PKGS)" deps
	$(ASAN_ENV) MARLSIM_TOOLS=build-asan tests/run.sh build-asan/unit_tests build-asan/marlsim

build-asan/marlsim: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench: marlsim $(BUILD)/bench_marlsim lib
	@$(BUILD)/bench_marlsim
	@$(MAKE) --no-print-directory DEB_PKGS="$(PY_PKGS)" deps
	@MARLSIM_LIB=$(BUILD)/$(SOREAL) $(PYTHON) bench/env_python.py

# Long loops CI also runs: 200 kill -9 crashes at random moments during runs,
# each lake verified as an intact prefix, and 200 during purges, each lake
# verified as the old or the purged one; plus the rest of those tests.
soak: marlsim $(BUILD)/lake_attack
	@tests/lake.sh ./marlsim 200
	@tests/lifecycle.sh ./marlsim 200
	@MARLSIM_TOOLS=$(BUILD) tests/resume.sh ./marlsim 100

# Coverage-guided fuzzing (CI runs it): each libFuzzer harness of
# tests/fuzz/ for FUZZ_TIME seconds, from its committed seed corpus and
# dictionary, under ASan + UBSan. clang (Debian's clang 14 ships libFuzzer)
# is installed here when missing, never by `make run`. Its own flags and
# build tree: clang rejects GCC-only flags such as -fvect-cost-model=cheap.
# A longer local run is one command: make fuzz FUZZ_TIME=300. Crashes are
# kept in build-fuzz/artifacts/NAME/; once fixed, their inputs go to
# tests/fuzz/regress/NAME/, which make test replays (tests/fuzz/README.md).
FUZZ_TIME  ?= 30
FUZZ_CC    ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_DEB    = clang libclang-rt-14-dev
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer $(WARN) -I. \
  $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(MPI_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_COMMON  = $(FUZZ_BUILD)/tests/fuzz/fuzz.o $(FUZZ_BUILD)/tests/tools/rechain.o
FUZZ_BINS    = $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)
# Objects reached only through the pattern rule above are "intermediate" to
# make, which would delete them after every build and rebuild them all.
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_COMMON) $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o)
fuzz:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory DEB_PKGS="$(FUZZ_DEB)" deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZ_HARNESSES)

# The command-line fuzz loops (CI runs them too), on the sanitizer binary:
# verify on mutated lakes (exit 0/1/2, never a crash or a write), eval on
# mutated configs (exit 0 or 2 naming the file): the exit-code contract the
# in-process harnesses do not see. Seeded: FUZZ_SEED=N; see tests/fuzz.sh.
# 1,000 lakes and 800 configs by default (CI's time: the parsers themselves
# get far more inputs from make fuzz); FUZZ_CLI_LAKES / FUZZ_CLI_CONFIGS.
FUZZ_CLI_LAKES ?= 1000
FUZZ_CLI_CONFIGS ?= 800
fuzz-cli:
	$(MAKE) BUILD=build-asan OPT="$(ASAN_OPT)" build-asan/marlsim
	@$(ASAN_ENV) tests/fuzz.sh build-asan/marlsim $(FUZZ_CLI_LAKES) $(FUZZ_CLI_CONFIGS)

# Injected faults (CI runs it): the Nth read, write, fsync, truncate or
# allocation fails during a small full-telemetry run, a checkpointing lake
# writer, a verify and a purge; every case must end in a clear error and
# leave a lake that verifies as a prefix holding all that was reported
# committed (a purge: the old lake or the purged one) (tests/fault/sweep.c).
# FAULT_CASES bounds the cases per kind and operation.
FAULT_CASES ?= 60
faults: $(BUILD)/fault_sweep
	@OPENBLAS_NUM_THREADS=1 $(BUILD)/fault_sweep --cases $(FAULT_CASES)
# Compliance lint (CI): banned functions, key-like literals, cppcheck and
# GCC's -fanalyzer on the library code, each remaining finding suppressed
# one by one with its reason (tests/lint/). Installs cppcheck as root.
LINT_PKGS = cppcheck python3
lint:
	@$(MAKE) --no-print-directory DEB_PKGS="$(LINT_PKGS) $(DEB_PKGS)" deps
	@tests/lint/lint.sh

# Interop (CI): marlsim's checkpoints checked by golang.org/x/mod/sumdb/note,
# the reference C2SP note verifier. Installs Go (test-only) when run as root.
GO_PKGS = golang-go golang-golang-x-mod-dev
interop: marlsim
	@$(MAKE) --no-print-directory DEB_PKGS="$(GO_PKGS)" deps
	@mkdir -p $(BUILD)/gocache
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(abspath $(BUILD))/gocache go build -o $(BUILD)/notecheck tests/interop/notecheck.go
	@tests/interop.sh ./marlsim $(BUILD)/notecheck

# The HTML report as a browser draws it (CI): headless Chromium screenshots a
# report of the default run and a check finds its charts in the pixels
# (tests/report_shot.sh; keeps $(BUILD)/report-shot.png and .html). Installs
# chromium (test-only) as root.
report-shot: marlsim
	@$(MAKE) --no-print-directory DEB_PKGS="chromium" deps
	@tests/report_shot.sh ./marlsim $(BUILD)

# Learning curves (3 seeds x observe = modality / all, 0.5M env-steps each).
curves: marlsim
	@bench/curves.sh

run: marlsim
	./marlsim run configs/default.ini --force

# Installs the binary, the library (static, shared + soname links, the
# header, a pkg-config file), the Python package, configs/default.ini, the
# man page and the user docs. PYDIR: where Debian's python3 looks for
# packages under PREFIX (/usr/local/lib/python3.X/dist-packages, or
# /usr/lib/python3/dist-packages for PREFIX=/usr). DESTDIR is honoured;
# ldconfig runs only for a real install as root.
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include
DATADIR  ?= $(PREFIX)/share/marlsim
DOCDIR   ?= $(PREFIX)/share/doc/marlsim
MANDIR   ?= $(PREFIX)/share/man
PYDIR    ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python3.$(PYMINOR)/dist-packages)
PYMINOR   = $(shell $(PYTHON) -c 'import sys; print(sys.version_info[1])' 2>/dev/null || echo 11)
DOCS      = README.md docs/environment.md docs/lake.md docs/python.md
install: marlsim lib
	install -D -m 0755 marlsim $(DESTDIR)$(PREFIX)/bin/marlsim
	install -D -m 0644 $(BUILD)/libmarlsim.a $(DESTDIR)$(LIBDIR)/libmarlsim.a
	install -D -m 0755 $(BUILD)/$(SOREAL) $(DESTDIR)$(LIBDIR)/$(SOREAL)
	ln -sf $(SOREAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libmarlsim.so
	install -D -m 0644 api/marlsim.h $(DESTDIR)$(INCDIR)/marlsim.h
	@mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|; s|@PKGS@|$(PKGS)|' \
	  api/marlsim.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/marlsim.pc
	install -d $(DESTDIR)$(PYDIR)/marlsim
	install -m 0644 python/marlsim/*.py $(DESTDIR)$(PYDIR)/marlsim/
	printf '# Written by make install: where the installed library is.\nLIBRARY = "%s"\n' \
	  "$(LIBDIR)/$(SONAME)" > $(DESTDIR)$(PYDIR)/marlsim/_installed.py
	install -D -m 0644 configs/default.ini $(DESTDIR)$(DATADIR)/default.ini
	install -D -m 0644 docs/marlsim.1 $(DESTDIR)$(MANDIR)/man1/marlsim.1
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# ---- libmarlsim: api/marlsim.h over the library ------------------------------
# The library's objects once more, position-independent, with hidden
# visibility: only MARLSIM_API (marlsim_*) symbols leave the .so (the version
# script says so too), and the .a is one relocatable object whose only
# global symbols are marlsim_* (objcopy --localize-hidden), so neither
# pollutes a program's namespace with ms_*, lk_*, mlp_* names.
VERSION := $(shell sed -n 's/^\#define MS_VERSION "\(.*\)"/\1/p' base/version.h)
SOMAJOR  = $(firstword $(subst ., ,$(VERSION)))
SONAME   = libmarlsim.so.$(SOMAJOR)
SOREAL   = libmarlsim.so.$(VERSION)
PIC_OBJ  = $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
PYTHON  ?= /usr/bin/python3
PY_PKGS  = python3 python3-numpy
PYTEST_PKGS = $(PY_PKGS) python3-pytest
DOC_PKGS = man-db groff-base

$(BUILD)/pic/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/$(SOREAL): $(PIC_OBJ) api/marlsim.map
	$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=api/marlsim.map -Wl,-z,defs \
	  -o $@ $(PIC_OBJ) $(LDLIBS_ALL)
	ln -sf $(SOREAL) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libmarlsim.so

$(BUILD)/libmarlsim.a: $(PIC_OBJ)
	ld -r -o $(BUILD)/pic/marlsim-all.o $(PIC_OBJ)
	objcopy --localize-hidden $(BUILD)/pic/marlsim-all.o
	rm -f $@
	ar rcs $@ $(BUILD)/pic/marlsim-all.o

lib: $(BUILD)/libmarlsim.a $(BUILD)/$(SOREAL)

# Generates the sections of the docs that come from the code (feature names,
# config keys, lake schema): `make docs` rewrites them, make test checks them.
$(BUILD)/docgen: $(BUILD)/docs/docgen.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
docs: $(BUILD)/docgen
	@docs/sync.sh $(BUILD)/docgen docs/marlsim.1 docs/environment.md docs/lake.md

# The Python package's tests (python/tests, pytest from Debian): API shape,
# determinism, the same trajectories as the binary. CI runs it.
pytest: marlsim lib
	@$(MAKE) --no-print-directory DEB_PKGS="$(PYTEST_PKGS)" deps
	cd python && MARLSIM_LIB=$(abspath $(BUILD))/$(SOREAL) MARLSIM_BIN=$(abspath marlsim) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests

# make install DESTDIR=tmp: every file in place, a C program built only
# against the installed header and library runs an episode, the installed
# Python package steps the environment. CI runs it.
installcheck: marlsim lib
	@$(MAKE) --no-print-directory DEB_PKGS="$(PY_PKGS)" deps
	@tests/install.sh

clean:
	rm -rf build build-asan build-fuzz marlsim

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_RG_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)
-include $(PIC_OBJ:.o=.d) $(BUILD)/docs/docgen.d $(BUILD)/tests/tools/lake_attack.d $(BENCH_SRC:%.c=$(BUILD)/%.d)
-include $(wildcard $(BUILD)/tests/fuzz/*.d $(BUILD)/tests/fault/*.d $(BUILD)/tests/tools/*.d $(FUZZ_BUILD)/tests/*/*.d)
