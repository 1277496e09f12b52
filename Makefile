# mdagent - top-level commands. The real build is CMake (build/ release, build-asan/ sanitizers).
#   make            build build/mdagent
#   make run        install missing packages, build, load the sample data, serve on 127.0.0.1:8080
#   make check      install, build (release + ASan/UBSan), start PostgreSQL and Redis, run every
#                   test, then fuzz every parser for a bounded time
#   make bench      run the benchmarks (see bench/README.md)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DB ?= data/mdagent.db
LISTEN ?= 127.0.0.1:8080

.PHONY: all build build-asan build-fuzz deps deps-browser run check test bench clean fuzz

all: build

deps:
	@scripts/install-deps.sh

# make check also needs Chromium for the dashboard's browser test.
deps-browser:
	@scripts/install-deps.sh --browser

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

build-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMD_SANITIZE=ON -DMD_WERROR=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

build-fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMD_FUZZ=ON -DMD_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

# Every parser that takes outside input runs under libFuzzer (ASan+UBSan) for a bounded time.
fuzz: build-fuzz
	@cd build-fuzz && ctest --output-on-failure -j$(JOBS) -L fuzz

run: deps build
	@scripts/run.sh "$(DB)" "$(LISTEN)"

# The whole suite runs once under AddressSanitizer + UBSan (unit and end-to-end tests, the
# sanitized binary serving the e2e tests); the release build runs the unit tests again.
check: deps-browser build
	@$(MAKE) --no-print-directory build-asan
	@cd build && ctest --output-on-failure -j$(JOBS) -L unit
	@cd build-asan && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory fuzz

test: check

bench: build
	@scripts/install-deps.sh --bench
	@bench/run.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz
