# liteport: ONNX -> TFLite converter (C11 core, Python package on top).
#
#   make demo    train the built-in digits CNN, export it, convert it, compare PyTorch and LiteRT
#   make test    everything: C build with -Werror, C tests (also under ASan/UBSan), Python tests
#   make         the C library and the `build/liteport` command-line tool
#   make asan    the same build with address and undefined-behaviour sanitizers (build-asan/)

CC ?= cc
CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -Iinclude -Isrc
CFLAGS ?= -O2 -g
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC := $(sort $(shell find src -name '*.c'))
LIB_HDR := $(shell find src include -name '*.h' -o -name '*.def')

.PHONY: all asan ctest test clean demo fuzz-replay
all: build/liteport build/libliteport.a

# ---- normal build ----
build/obj/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

build/libliteport.a: $(LIB_SRC:%.c=build/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

build/liteport: build/obj/tools/main.o build/libliteport.a
	$(CC) $(CFLAGS) -o $@ $^ -lm

# ---- sanitizer build ----
build-asan/obj/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -c $< -o $@

build-asan/libliteport.a: $(LIB_SRC:%.c=build-asan/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

build-asan/liteport: build-asan/obj/tools/main.o build-asan/libliteport.a
	$(CC) $(SAN_FLAGS) -o $@ $^ -lm

asan: build-asan/liteport

# ---- C tests (tests/c/test_*.c, each a main() returning nonzero on failure) ----
C_TESTS := $(patsubst tests/c/%.c,%,$(wildcard tests/c/test_*.c))

build/tests/%: tests/c/%.c build/libliteport.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< build/libliteport.a -lm

build-asan/tests/%: tests/c/%.c build-asan/libliteport.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -o $@ $< build-asan/libliteport.a -lm

include mk/python.mk

FIXTURES := build/fixtures

$(FIXTURES)/.stamp: tests/c/make_onnx_fixtures.py $(PY_VENV_STAMP)
	@mkdir -p $(FIXTURES)
	$(VENV_PY) tests/c/make_onnx_fixtures.py $(FIXTURES)
	touch $@

# ---- fuzz targets (fuzz/) replayed without libFuzzer under the sanitizers: the stored crashers ----
FUZZ_TARGETS := onnx convert

build-asan/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz_check.h build-asan/libliteport.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -o $@ fuzz/fuzz_$*.c fuzz/replay.c build-asan/libliteport.a -lm

fuzz-replay: $(FUZZ_TARGETS:%=build-asan/fuzz/replay_%)
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz target $$t: stored crashers (asan+ubsan)"; \
	  ASAN_OPTIONS=detect_leaks=1 build-asan/fuzz/replay_$$t tests/fuzz/crashers || exit 1; \
	done

ctest: $(C_TESTS:%=build/tests/%) $(C_TESTS:%=build-asan/tests/%) build/liteport build-asan/liteport $(FIXTURES)/.stamp fuzz-replay
	@for t in $(C_TESTS); do \
	  echo "== $$t"; build/tests/$$t $(FIXTURES) || exit 1; \
	  echo "== $$t (asan+ubsan)"; build-asan/tests/$$t $(FIXTURES) || exit 1; \
	done

# tflite-support in its own venv: the independent reader of the TFLite metadata (tests/test_android.py)
TFLS_VENV := build/tfls-venv
$(TFLS_VENV)/.stamp: tools/tflite_support_venv.sh
	tools/tflite_support_venv.sh $(TFLS_VENV)

test: ctest install $(TFLS_VENV)/.stamp
	$(VENV_PY) -m pytest -q tests $(PYTEST_ARGS)

clean:
	rm -rf build build-asan build-fuzz out

# 64-bit ARM (cross-compiled, tested under qemu-user) and WebAssembly (the converter web page)
include mk/portable.mk
test: portable
clean: clean-portable
