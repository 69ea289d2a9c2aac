# SPDX-License-Identifier: MIT
MAKEFLAGS += --no-print-directory
# Front door to the CMake build.  Everything lands in build/.
#   make            library, CLI, examples, tests, benchmarks (release)
#   make check      lint + headertest + sanitizer build + every test + TSan programs + install check + short fuzz
#   make tsan       the threaded spawn/helper/loop-wake programs under ThreadSanitizer
#   make bench      benchmarks (see docs/PERFORMANCE.md)
#   make fuzz       fuzz targets, run FUZZ_SECONDS each (default 60)
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make lint       clang-format --dry-run --Werror, cppcheck and clang-tidy
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD := build
ASAN := build/asan
TSAN := build/tsan
FUZZBUILD := build/fuzz
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: all demo check test tsan lint headertest install installcheck bench fuzz fuzz-check clean

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

# Criterion crashes under TSan: tests/tsan/*.c are plain programs (exit 0 = pass).
tsan:
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DPK_TSAN=ON -DPK_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target tsan_programs
	@for t in $(TSAN)/tests/tsan/*; do TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $$t || exit 1; done

check: lint headertest test tsan installcheck fuzz-check
	@echo "make check: all passed"

installcheck: all
	@scripts/installcheck $(BUILD)

install: all
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
