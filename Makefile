# mdagent - top-level commands. The real build is CMake; each build directory is one preset
# of CMakePresets.json (release build/, debug build-asan/, tsan build-tsan/, fuzz build-fuzz/,
# coverage build-coverage/), so the flags are spelled once, there.
#   make            build build/mdagent
#   make run        install missing packages, build the binary, load the sample data, serve on
#                   127.0.0.1:8080 (make run LISTEN=HOST:PORT DB=PATH)
#   make check      install, lint, build (release + ASan/UBSan), start PostgreSQL and Redis, run
#                   every test, the cache and stream under ThreadSanitizer, then fuzz every
#                   parser for a bounded time
#   make bench      run the benchmarks (see bench/README.md)
#   make lint       clang-format check, cppcheck, clang-tidy (scripts/lint.sh)
#   make format     apply clang-format to the tracked C files
#   make coverage   the tests on a gcov build; HTML report in build-coverage/html
#   make fuzz       the libFuzzer targets for a bounded time
# See docs/HACKING.md.
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DB ?= data/mdagent.db
LISTEN ?= 127.0.0.1:8080
# the static analyzer's mode in make lint / make check (scripts/lint.sh): shallow or deep
LINT_ANALYZER ?= shallow
MAKEFLAGS += --no-print-directory
# configure (quietly) and build one preset: $(call preset,NAME,DIR[,TARGET])
preset = cd "$(ROOT)" && cmake --preset $(1) >/dev/null && cmake --build $(2) -j$(JOBS) $(if $(3),--target $(3))
# one stage of make check, timed: $(call stage,NAME,COMMAND)
stage = s=$$(date +%s); $(2) || exit $$?; echo "make check: $(1) passed in $$(( $$(date +%s) - s ))s"

.PHONY: all build build-asan build-fuzz build-tsan build-coverage deps deps-browser run check \
        test bench clean fuzz lint format coverage tsan

all: build

deps:
	@"$(ROOT)/scripts/install-deps.sh"

# make check also needs Chromium for the dashboard's browser test.
deps-browser:
	@"$(ROOT)/scripts/install-deps.sh" --browser

build:
	@$(call preset,release,build)

build-asan:
	@$(call preset,debug,build-asan)

build-fuzz:
	@$(call preset,fuzz,build-fuzz)

build-tsan:
	@$(call preset,tsan,build-tsan,mdagent)

build-coverage:
	@$(call preset,coverage,build-coverage)

# Every parser that takes outside input runs under libFuzzer (ASan+UBSan) for a bounded time.
fuzz: build-fuzz
	@cd "$(ROOT)/build-fuzz" && ctest --output-on-failure -j$(JOBS) -L fuzz

# make run builds the binary alone (no tests, no benchmarks), its output in a log: the screen
# shows one line per step, and the log's end only when the build fails.
RUN_LOG := $(ROOT)/build/make-run.log
run: deps
	@mkdir -p "$(ROOT)/build"; echo "make run: building build/mdagent (log: build/make-run.log)"; \
	 ( $(call preset,release,build,mdagent) ) >"$(RUN_LOG)" 2>&1 || { tail -n 40 "$(RUN_LOG)"; \
	   echo "make run: the build failed; the whole output is in build/make-run.log"; exit 1; }
	@"$(ROOT)/scripts/run.sh" "$(DB)" "$(LISTEN)"

# The checks need only the compile commands of a configured tree (the debug preset: asserts
# on, as the code runs under test), not a build.
lint:
	@cd "$(ROOT)" && cmake --preset debug >/dev/null && cmake --build build-asan --target md_generated >/dev/null && JOBS=$(JOBS) LINT_ANALYZER=$(LINT_ANALYZER) scripts/lint.sh build-asan

format:
	@cd "$(ROOT)" && scripts/lint.sh --format

# The cache and the stream under the real server's threads (Criterion cannot start under
# TSan, so these are whole-agent runs rather than the unit tests).
tsan: build-tsan
	@cd "$(ROOT)" && scripts/tsan-cache.sh && scripts/tsan-stream.sh

# The unit and end-to-end tests on a gcov build (-O0), then an lcov report of src/.
coverage: deps-browser build-coverage
	@cd "$(ROOT)" && JOBS=$(JOBS) scripts/coverage.sh build-coverage

# Lint first (it needs no build and fails fast); then the whole suite runs once under
# AddressSanitizer + UBSan (unit and end-to-end tests, the sanitized binary serving the e2e
# tests); the release build runs the unit tests again; the cache and the stream run under
# ThreadSanitizer; last, every parser is fuzzed.
check: deps-browser
	@$(call stage,lint,$(MAKE) lint)
	@$(call stage,build,$(MAKE) build build-asan)
	@$(call stage,release unit tests,cd "$(ROOT)/build" && ctest --output-on-failure -j$(JOBS) -L unit)
	@$(call stage,asan tests,cd "$(ROOT)/build-asan" && ctest --output-on-failure -j$(JOBS))
	@$(call stage,tsan,$(MAKE) tsan)
	@$(call stage,fuzz,$(MAKE) fuzz)

test: check

bench: build
	@"$(ROOT)/scripts/install-deps.sh" --bench
	@cd "$(ROOT)" && bench/run.sh

clean:
	cd "$(ROOT)" && rm -rf build build-asan build-tsan build-fuzz build-coverage
