# SPDX-License-Identifier: MIT
MAKEFLAGS += --no-print-directory
# Front door to the CMake build.  Everything lands in build/.
#   make            library, CLI, examples, tests, benchmarks (release)
#   make check      lint + headertest + sanitizer build + every test + the tests again as released
#                   (-O2, _FORTIFY_SOURCE=3) and under clang + TSan programs + install check + short fuzz
#   make test-release  the test suite built -O2 -D_FORTIFY_SOURCE=3 without sanitizers (build/release-test)
#   make test-clang    everything built by clang -Werror with ASan+UBSan at -O1, the C tests run (build/clang)
#   make tsan       the threaded spawn/helper/loop-wake programs under ThreadSanitizer
#   make bench      benchmarks (see docs/PERFORMANCE.md)
#   make fuzz       fuzz targets, run FUZZ_SECONDS each (default 60)
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make lint       clang-format --dry-run --Werror, cppcheck and clang-tidy (incremental: build/lint-cache)
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD := build
ASAN := build/asan
TSAN := build/tsan
RELTEST := build/release-test
CLANG := build/clang
# The clang tree runs the C tests: the OTP and Elixir suites drive the same
# CLI source through the VM and run in the gcc trees.
CLANG_SKIP := ^(erlang_eunit|elixir_mix_test)$$
FUZZBUILD := build/fuzz
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: all demo check test test-release test-clang tsan lint headertest install installcheck bench fuzz fuzz-check clean

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@ln -sf $(BUILD)/compile_commands.json compile_commands.json

demo: all
	@scripts/demo

lint:
	@scripts/lint

headertest:
	@scripts/headertest

test: 
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DPK_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The suite as it ships: RelWithDebInfo (-O2) with _FORTIFY_SOURCE=3, no sanitizer.
test-release:
	@cmake -S . -B $(RELTEST) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPK_FORTIFY=3 $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELTEST) -j $(JOBS)
	@cd $(RELTEST) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# clang's warnings (-Wcomma, -Wdocumentation) with -Werror and clang's
# ASan+UBSan, at -O1: the gcc tree is -O0, and clang's -O0 frames under ASan
# are too large for the tests that bound a walk's stack (test_etf_deep).
test-clang:
	@CC=clang cmake -S . -B $(CLANG) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
		-DPK_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(CLANG) -j $(JOBS)
	@cd $(CLANG) && ctest --output-on-failure -j $(JOBS) -E '$(CLANG_SKIP)' $(CTEST_ARGS)

# Criterion crashes under TSan: tests/tsan/*.c are plain programs (exit 0 = pass).
tsan:
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DPK_TSAN=ON -DPK_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target tsan_programs
	@for t in $(TSAN)/tests/tsan/*; do TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $$t || exit 1; done

check: lint headertest test test-release test-clang tsan installcheck fuzz-check
	@echo "make check: all passed"

installcheck: all
	@scripts/installcheck $(BUILD)

# Builds only what it installs: the libraries and the CLI.
install:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target portkit_static portkit_shared portkit_cli
	@cmake --install $(BUILD) --prefix $(PREFIX)

bench: all
	@scripts/bench

fuzz:
	@CC=clang cmake -S . -B $(FUZZBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPK_FUZZ=ON -DPK_TESTS=OFF >/dev/null
	@cmake --build $(FUZZBUILD) -j $(JOBS)
	@scripts/fuzz $(FUZZBUILD) $(FUZZ_SECONDS)

fuzz-check:
	@CC=clang cmake -S . -B $(FUZZBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPK_FUZZ=ON -DPK_TESTS=OFF >/dev/null
	@cmake --build $(FUZZBUILD) -j $(JOBS)
	@scripts/fuzz $(FUZZBUILD) $(CHECK_FUZZ_SECONDS)

clean:
	rm -rf build compile_commands.json
