# Portable builds of the C core, included by the top-level Makefile.
#
#   make portable-deps  install the Debian packages below if any is missing (root, apt-get; a no-op
#                       taking a fraction of a second when they are all present)
#   make arm            64-bit ARM Linux (Android's CPU): static build-arm64/liteport, the library and
#                       the C tests, cross-compiled with Debian's aarch64 GCC
#   make arm-test       the C tests under qemu-user (qemu-aarch64)
#   make wasm           the core compiled to WebAssembly with Debian's emscripten, and the static
#                       web page that converts in the browser: build/web/ (serve it with any static
#                       server, e.g. `python3 -m http.server -d build/web`)
#   make portable       all of the above; `make test` depends on it, and tests/test_portable.py then
#                       compares the ARM CLI (under qemu) and the page (in headless Chromium) with
#                       the native CLI byte for byte

PORTABLE_DEBS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user emscripten chromium chromium-driver

ARM_CC ?= aarch64-linux-gnu-gcc
ARM_AR ?= aarch64-linux-gnu-ar
QEMU_ARM ?= qemu-aarch64
# -Wcast-align=strict: a cast that raises alignment is an error even where the CPU would not trap.
# Static: the binaries run under qemu without an ARM sysroot, and copy onto a device as one file.
ARM_CFLAGS := -O2 -g -Wcast-align=strict
ARM_LDFLAGS := -static

EMCC ?= emcc
# Debian's emscripten runs its JavaScript tools with `node`; a node from outside Debian (this machine's
# image has one) does not search /usr/share/nodejs, where Debian keeps the acorn parser they need.
export NODE_PATH := /usr/share/nodejs$(if $(NODE_PATH),:$(NODE_PATH))
WASM_CFLAGS := -O2
# Growable memory up to wasm32's 4 GiB: the model and the .tflite both live in the module's heap.
# The in-memory file system (FS) holds external data files dropped with a model.
WASM_LDFLAGS := -O2 -sMODULARIZE=1 -sEXPORT_NAME=createLiteport -sENVIRONMENT=web,worker \
	-sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sINITIAL_MEMORY=32MB \
	-sEXPORTED_FUNCTIONS=_malloc,_free,_lpw_convert,_lpw_output,_lpw_output_size,_lpw_report_json,_lpw_message,_lpw_version \
	-sEXPORTED_RUNTIME_METHODS=FS,HEAPU8,UTF8ToString,stringToUTF8,lengthBytesUTF8

.PHONY: portable portable-deps arm arm-test wasm

portable: arm-test wasm build/wasm/convert_list.js build/tests/convert_list build-asan/tests/convert_list

# The install step runs only when a package is missing, so `make test` stays quick on a machine that
# has them. DPkg::Lock::Timeout waits for another apt run instead of failing.
portable-deps:
	@missing=; for p in $(PORTABLE_DEBS); do \
	  dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "portable-deps: installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "portable-deps: not root; run: apt-get install$$missing"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null && \
	  apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# ---- 64-bit ARM ----
build-arm64/obj/%.o: %.c $(LIB_HDR) | portable-deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(CFLAGS_BASE) $(ARM_CFLAGS) -c $< -o $@

build-arm64/libliteport.a: $(LIB_SRC:%.c=build-arm64/obj/%.o)
	@rm -f $@
	$(ARM_AR) rcs $@ $^

build-arm64/liteport: build-arm64/obj/tools/main.o build-arm64/libliteport.a
	$(ARM_CC) $(ARM_CFLAGS) $(ARM_LDFLAGS) -o $@ $^ -lm

build-arm64/tests/%: tests/c/%.c build-arm64/libliteport.a
	@mkdir -p $(dir $@)
	$(ARM_CC) $(CFLAGS_BASE) $(ARM_CFLAGS) $(ARM_LDFLAGS) -o $@ $< build-arm64/libliteport.a -lm

build-arm64/tests/convert_list: tests/portable/convert_list.c build-arm64/libliteport.a
	@mkdir -p $(dir $@)
	$(ARM_CC) $(CFLAGS_BASE) $(ARM_CFLAGS) $(ARM_LDFLAGS) -o $@ $< build-arm64/libliteport.a -lm

# the same driver natively, plain and under the sanitizers, for tests/test_portable.py
build/tests/convert_list: tests/portable/convert_list.c build/libliteport.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< build/libliteport.a -lm

build-asan/tests/convert_list: tests/portable/convert_list.c build-asan/libliteport.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -o $@ $< build-asan/libliteport.a -lm

arm: build-arm64/liteport build-arm64/libliteport.a $(C_TESTS:%=build-arm64/tests/%) build-arm64/tests/convert_list

# The binaries are AArch64 (checked, so that a host build slipping in cannot pass for one) and run
# under qemu-user; `file` is not needed: the ELF header's e_machine (bytes 18-19) is 0xb7 0x00.
arm-test: arm $(FIXTURES)/.stamp build/tests/convert_list build-asan/tests/convert_list
	@for b in build-arm64/liteport $(C_TESTS:%=build-arm64/tests/%); do \
	  m=$$(od -An -tx1 -j18 -N2 $$b | tr -d ' '); \
	  [ "$$m" = b700 ] || { echo "$$b is not an AArch64 binary (e_machine $$m)"; exit 1; }; \
	done
	$(QEMU_ARM) build-arm64/liteport version
	@# ONNX payloads are used in place as little-endian data: a big-endian target (aarch64_be here,
	@# compiled only: Debian has no big-endian libc, an empty stub header stands in) must stop at
	@# the #error in src/onnx/onnx.c rather than build a converter that writes garbage
	@mkdir -p build-arm64/be/gnu && : > build-arm64/be/gnu/stubs-lp64_be.h
	@if $(ARM_CC) -mbig-endian $(CFLAGS_BASE) -Ibuild-arm64/be -fsyntax-only src/onnx/onnx.c 2> build-arm64/be/log; \
	then echo "a big-endian build of src/onnx/onnx.c did not stop"; exit 1; fi; \
	grep -q "big-endian hosts are not supported" build-arm64/be/log || { cat build-arm64/be/log; exit 1; }; \
	echo "big-endian build refused at compile time (#error in src/onnx/onnx.c), as intended"
	@for t in $(C_TESTS); do \
	  echo "== $$t (aarch64, qemu-user)"; $(QEMU_ARM) build-arm64/tests/$$t $(FIXTURES) || exit 1; \
	done

# ---- WebAssembly and the page ----
WEB_FILES := $(wildcard web/*.html web/*.js web/*.css)

build/wasm/obj/%.o: %.c $(LIB_HDR) | portable-deps
	@mkdir -p $(dir $@)
	$(EMCC) $(CFLAGS_BASE) $(WASM_CFLAGS) -c $< -o $@

build/web/liteport_core.js: $(LIB_SRC:%.c=build/wasm/obj/%.o) build/wasm/obj/web/wasm_api.o mk/portable.mk
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_LDFLAGS) -o $@ $(filter %.o,$^)

build/web/%: web/%
	@mkdir -p $(dir $@)
	cp $< $@

wasm: build/web/liteport_core.js $(WEB_FILES:web/%=build/web/%)

# the batch driver for Node.js, reading and writing real files (NODERAWFS), for tests/test_portable.py;
# synchronous compilation: this emscripten's asynchronous path trips over Node 18+'s global fetch
build/wasm/convert_list.js: tests/portable/convert_list.c $(LIB_SRC:%.c=build/wasm/obj/%.o)
	$(EMCC) $(CFLAGS_BASE) -O2 -sENVIRONMENT=node -sNODERAWFS=1 -sWASM_ASYNC_COMPILATION=0 \
		-sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -o $@ $^

.PHONY: clean-portable
clean-portable:
	rm -rf build-arm64
