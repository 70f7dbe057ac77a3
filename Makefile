# Convenience front door: every target is a thin wrapper over CMake/ctest (the one build system).
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
CC ?= cc

.PHONY: all build test asan test-asan check build-clang run fmt fmt-check lint bench clean
all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(CC) >/dev/null
	cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

# Unit + API + deploy tiers. LABEL=unit|api|deploy narrows it.
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(if $(LABEL),-L $(LABEL))

asan:
	cmake -S . -B $(ASAN_BUILD) -DFORGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=$(CC) >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE 'deploy|browser' $(if $(LABEL),-L $(LABEL))

# Everything CI runs (the README's test command): gcc build + all tiers, the same tests under
# ASan+UBSan, a -Werror build with clang, and the static checks.
check:
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory build-clang
	$(MAKE) --no-print-directory lint
	@echo "make check: all passed"

build-clang:
	cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build build-clang -j$(JOBS)

run: build
	./$(BUILD)/forge serve

fmt:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

fmt-check:
	clang-format --dry-run --Werror $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

lint: fmt-check
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	  --suppress=missingIncludeSystem -I src -D_GNU_SOURCE $$(git ls-files 'src/*.c')
	./scripts/check-banned.sh

bench: build
	$(MAKE) -C bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# libFuzzer targets (tests/fuzz, docs/operations/fuzzing.md): clang + ASan + UBSan in build-fuzz,
# then every target (or FUZZ_TARGETS="jwt kw") for FUZZ_SECONDS each; prints execs and coverage.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFORGE_FUZZ=ON -DFORGE_SANITIZE=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD_DIR=build-fuzz ./tests/fuzz/run.sh $(FUZZ_TARGETS)
