# Convenience front door: every target is a thin wrapper over CMake/ctest (the one build system).
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
CC ?= cc

.PHONY: all build test asan test-asan run fmt fmt-check lint bench clean deps
all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(CC) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# Unit + API + deploy tiers. LABEL=unit|api|deploy narrows it.
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(if $(LABEL),-L $(LABEL))

asan:
	cmake -S . -B $(ASAN_BUILD) -DFORGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=$(CC) >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE deploy $(if $(LABEL),-L $(LABEL))

run: build
	./$(BUILD)/forge serve

fmt:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

fmt-check:
	clang-format --dry-run --Werror $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	  --suppress=missingIncludeSystem -I src -D_GNU_SOURCE $$(git ls-files 'src/*.c')
	./scripts/check-banned.sh

bench: build
	$(MAKE) -C bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
