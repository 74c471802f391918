# marlsim — one binary, ./marlsim. See README.md.
#
# `make` installs missing Debian packages when run as root (saying what it
# installs), then builds. Flags come from pkg-config, so swapping the BLAS is a
# matter of BLAS_PC (see vendor/README.md).

CC       ?= cc
BLAS_PC  ?= openblas
PKGS      = $(BLAS_PC) inih sqlite3 libcrypto
DEB_PKGS  = libsqlite3-dev libopenblas-dev libssl-dev libinih-dev pkg-config sqlite3
# -O2, never -Ofast/-ffast-math: they break NaN checks and bit-determinism.
# The "cheap" vectoriser cost model lets GCC vectorise the elementwise loops
# (Adam, activation gradients); it never reassociates floating point, so
# lakes are bit-identical to a plain -O2 build (same head hash), ~15% faster.
OPT      ?= -O2 -fvect-cost-model=cheap
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmvec -lm $(EXTRA_LDFLAGS)
BUILD    ?= build
PREFIX   ?= /usr/local

# The library (every layer but the commands) and the command layer.
LIB_SRC  = $(wildcard base/*.c keys/*.c sim/*.c nn/*.c ledger/*.c exp/*.c report/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  = $(wildcard cli/*.c)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC = $(wildcard bench/*.c)

.PHONY: all deps test asan bench curves clean install run soak fuzz interop report-shot
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
$(BUILD)/lake_attack: $(BUILD)/tests/tools/lake_attack.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bench_marlsim: $(BENCH_SRC:%.c=$(BUILD)/%.o) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# Unit tests, then the command-line tests against the built binary; the last
# line is the total "N passed, N failed".
test: marlsim $(BUILD)/unit_tests $(BUILD)/lake_attack
	@MARLSIM_TOOLS=$(BUILD) tests/run.sh $(BUILD)/unit_tests ./marlsim

# The whole suite under AddressSanitizer + UBSan, in its own build tree.
ASAN_OPT = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
asan:
	$(MAKE) BUILD=build-asan OPT="$(ASAN_OPT)" build-asan/marlsim build-asan/unit_tests build-asan/lake_attack
	$(ASAN_ENV) MARLSIM_TOOLS=build-asan tests/run.sh build-asan/unit_tests build-asan/marlsim

build-asan/marlsim: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench: marlsim $(BUILD)/bench_marlsim
	@$(BUILD)/bench_marlsim

# Long loops CI also runs: 200 kill -9 crashes at random moments, each lake
# verified as an intact prefix, plus the rest of the lake tests.
soak: marlsim
	@tests/lake.sh ./marlsim 200

# Fuzz loops CI also runs, on the sanitizer binary: verify on mutated lakes
# (exit 0/1/2, never a crash or a write), eval on mutated configs (exit 0 or
# 2 naming the file). Seeded: FUZZ_SEED=N make fuzz; see tests/fuzz.sh.
fuzz:
	$(MAKE) BUILD=build-asan OPT="$(ASAN_OPT)" build-asan/marlsim
	@$(ASAN_ENV) tests/fuzz.sh build-asan/marlsim

# Interop (CI): marlsim's checkpoints checked by golang.org/x/mod/sumdb/note,
# the reference C2SP note verifier. Installs Go (test-only) when run as root.
GO_PKGS = golang-go golang-golang-x-mod-dev
interop: marlsim
	@$(MAKE) --no-print-directory DEB_PKGS="$(GO_PKGS)" deps
	@mkdir -p $(BUILD)/gocache
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(abspath $(BUILD))/gocache go build -o $(BUILD)/notecheck tests/interop/notecheck.go
	@tests/interop.sh ./marlsim $(BUILD)/notecheck

# The HTML report as a browser draws it (CI): headless Chromium screenshots a
# report and a check finds its charts in the pixels (tests/report_shot.sh;
# keeps $(BUILD)/report-shot.png). Installs chromium (test-only) as root.
report-shot: marlsim
	@$(MAKE) --no-print-directory DEB_PKGS="chromium" deps
	@tests/report_shot.sh ./marlsim $(BUILD)

# Learning curves (3 seeds x observe = modality / all, 0.5M env-steps each).
curves: marlsim
	@bench/curves.sh

run: marlsim
	./marlsim run configs/default.ini --force

install: marlsim
	install -D -m 0755 marlsim $(DESTDIR)$(PREFIX)/bin/marlsim

clean:
	rm -rf build build-asan marlsim

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
