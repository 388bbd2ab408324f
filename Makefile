# Entry points for people and CI. The real build is Meson; this file only
# strings the steps together. See README.md.

BUILD      ?= build
BUILD_ASAN ?= build-asan
MESON_FLAGS ?= --werror

.PHONY: all deps build build-asan check soak fuzz-merge demo bench clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# clang, so that the same tree also builds the libFuzzer targets.
$(BUILD_ASAN)/build.ninja:
	CC=clang meson setup $(BUILD_ASAN) $(MESON_FLAGS) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug -Dfuzz=true

build-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

check: build build-asan
	python3 tests/run.py --build $(BUILD) --build $(BUILD_ASAN)

# Open-ended fuzzing with random seeds; not part of check (see README.md).
SOAK_FUZZ_TIME ?= 60

soak: build-asan
	python3 tests/run.py --build $(BUILD_ASAN) --phases fuzz --fuzz-soak --fuzz-time $(SOAK_FUZZ_TIME)

fuzz-merge: build-asan
	python3 tests/run.py --build $(BUILD_ASAN) --phases fuzz --fuzz-merge

demo: build
	python3 demo/demo.py --imgfetch $(BUILD)/cli/imgfetch

bench: build
	python3 bench/bench_get.py --imgfetch $(BUILD)/cli/imgfetch
	python3 bench/bench_signature.py --imgfetch $(BUILD)/cli/imgfetch
	python3 bench/bench_convert.py --imgfetch $(BUILD)/cli/imgfetch
	python3 bench/bench_pull.py --imgfetch $(BUILD)/cli/imgfetch
	python3 bench/bench_zvol.py --imgfetch $(BUILD)/cli/imgfetch

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
