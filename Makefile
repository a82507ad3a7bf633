# cpm-store top-level Makefile (GNU make, no autotools).
#
#   make            install missing Debian packages, build everything into build/
#   make test       build, then run unit + integration tests; ends "N passed, N failed"
#   make run        build, then start a single-node cluster in the foreground
#   make asan       the same build with AddressSanitizer + UBSan into build-asan/
#   make deps       only install the Debian packages the build and tests need
#
# Layout: common/ -> libcpmcommon.a (with the protoc-c output from proto/),
# frontend/ -> cpm-frontend, backend/ -> cpm-backend and cpm-admin,
# tests/unit/test-*.c -> one cmocka binary each.

BUILD    ?= build
CC       ?= cc
PKGS     := libuv lmdb nanomsg libprotobuf-c inih openssl zlib libgsasl
CSTD     := -std=gnu17
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla
OPT      ?= -O2 -g
SAN      ?=
CPPFLAGS += -D_GNU_SOURCE -I. -Icommon -I$(BUILD)/gen
CFLAGS   += $(CSTD) $(WARN) $(OPT) $(SAN) -fno-strict-aliasing -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS   += $(PKG_LIBS) -lunistring -lm -pthread
LDFLAGS  += $(SAN)

PROTOS      := $(wildcard proto/*.proto)
PROTO_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
PROTO_H     := $(PROTO_C:.c=.h)
COMMON_SRC  := $(wildcard common/*.c)
FRONT_SRC   := $(wildcard frontend/*.c)
# cpm-backend links every backend/*.c except cpm-admin's main.
ADMIN_SRC   := backend/admin-main.c
BACK_SRC    := $(filter-out $(ADMIN_SRC),$(wildcard backend/*.c))
CLIENT_SRC  := $(wildcard client/*.c)
UNIT_SRC    := $(wildcard tests/unit/test-*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ  := $(call obj,$(COMMON_SRC)) $(patsubst %.c,%.o,$(PROTO_C))
FRONT_OBJ   := $(call obj,$(FRONT_SRC))
BACK_OBJ    := $(call obj,$(BACK_SRC))
ADMIN_OBJ   := $(call obj,$(ADMIN_SRC))
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

LIBCOMMON   := $(BUILD)/lib/libcpmcommon.a
BINS        := $(BUILD)/bin/cpm-frontend $(BUILD)/bin/cpm-backend $(BUILD)/bin/cpm-admin

.PHONY: all deps test unit run cluster asan clean fuzz
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build-all

build-all: $(BINS) $(UNIT_BINS)

deps:
	@./deploy/deps.sh

# Generated protobuf code: never committed, always built from proto/.
$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/gen/proto/%.pb-c.o: $(BUILD)/gen/proto/%.pb-c.c
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CSTD) $(OPT) $(SAN) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/cpm-frontend: $(FRONT_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FRONT_OBJ) $(LIBCOMMON) $(LDLIBS)

$(BUILD)/bin/cpm-backend: $(BACK_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(BACK_OBJ) $(LIBCOMMON) $(LDLIBS)

$(BUILD)/bin/cpm-admin: $(ADMIN_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(ADMIN_OBJ) $(LIBCOMMON) $(LDLIBS)

# Unit tests: tests/unit/test-NAME.c links libcpmcommon, plus the back-end or
# front-end objects (minus main) when its name starts with backend- / frontend-.
FRONT_LIB_OBJ := $(filter-out $(BUILD)/obj/frontend/main.o,$(FRONT_OBJ))
BACK_LIB_OBJ  := $(filter-out $(BUILD)/obj/backend/main.o,$(BACK_OBJ))
$(BUILD)/tests/test-backend-%: $(BUILD)/obj/tests/unit/test-backend-%.o $(BACK_LIB_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BACK_LIB_OBJ) $(LIBCOMMON) $(LDLIBS) -lcmocka
$(BUILD)/tests/test-frontend-%: $(BUILD)/obj/tests/unit/test-frontend-%.o $(FRONT_LIB_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(FRONT_LIB_OBJ) $(LIBCOMMON) $(LDLIBS) -lcmocka
$(BUILD)/tests/test-%: $(BUILD)/obj/tests/unit/test-%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBCOMMON) $(LDLIBS) -lcmocka

# libcpmclient (client/*.c, plus the socket-free TLS engine frontend/tls.c it
# shares with the front-end) and the load generator cpm-bench (bench/*.c).
# tests/unit/test-client-*.c link libcpmclient.
LIBCLIENT   := $(BUILD)/lib/libcpmclient.a
CLIENT_OBJ  := $(call obj,$(CLIENT_SRC)) $(BUILD)/obj/frontend/tls.o
BENCH_OBJ   := $(call obj,$(wildcard bench/*.c))
build-all: $(LIBCLIENT) $(BUILD)/bin/cpm-bench
$(LIBCLIENT): $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/bin/cpm-bench: $(BENCH_OBJ) $(LIBCLIENT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJ) $(LIBCLIENT) $(LIBCOMMON) $(LDLIBS)
$(BUILD)/tests/test-client-%: $(BUILD)/obj/tests/unit/test-client-%.o $(LIBCLIENT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBCLIENT) $(LIBCOMMON) $(LDLIBS) -lcmocka

unit: all
	@python3 tests/run_tests.py --build $(BUILD) --unit-only

test: all
	@python3 tests/run_tests.py --build $(BUILD)

run: all
	@./deploy/run-single.sh

cluster: all
	@./deploy/run-cluster.sh

asan:
	@./deploy/deps.sh
	@$(MAKE) --no-print-directory build-all BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

asan-test: asan
	@python3 tests/run_tests.py --build build-asan

# libFuzzer harnesses (clang): tests/fuzz/fuzz-NAME.c fuzzes common/NAME.c
# (or frontend/NAME.c); a harness #includes the other modules it needs.
# Run e.g.: build/fuzz/fuzz-imap-parser -max_len=4096 -max_total_time=60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz-*.c)
fuzz:
	@command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)"; exit 1; }
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); m=$${n#fuzz-}; echo "  FUZZ $$n"; \
		src=common/$$m.c; [ -f $$src ] || src=frontend/$$m.c; \
		clang -std=gnu17 -D_GNU_SOURCE -I. -Icommon -g -O1 -fsanitize=fuzzer,address,undefined \
			-o build/fuzz/$$n $$f $$src common/buf.c || exit 1; \
	done

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
