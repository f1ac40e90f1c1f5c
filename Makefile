# updraft build.
#
#   make            bin/updraft-scheduler bin/updraft-worker bin/updraft-webserver bin/updraft
#   make test       install what is missing, build, run every test (ends "N passed, N failed")
#   make asan       the same tests against an AddressSanitizer + UBSan build
#   make standalone private Postgres + Redis under var/standalone, all daemons, example DAGs
#
# O is the object directory and BIN the binary directory, so that the
# sanitizer build lives beside the normal one without mixing objects.

CC      ?= cc
O       ?= build
BIN     ?= bin
OPT     ?= -O2
PKGS    := hiredis libpq libcyaml yaml-0.1 libcurl libcjson libxcrypt openssl

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -fno-common -Wno-missing-field-initializers
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -I. -I$(O)/gen -MMD -MP \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC := $(wildcard common/*.c) $(wildcard proto/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o) $(O)/gen/migrations.o
LIB     := $(O)/libupdraft.a

DAEMONS := scheduler worker webserver
PROGS   := $(DAEMONS:%=$(BIN)/updraft-%) $(BIN)/updraft

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/tests/%)

.PHONY: all deps test unit integration asan standalone clean format fuzz-build fuzz bench bench-quick

all: $(PROGS)

deps:
	@bash deploy/install-deps.sh

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/gen/migrations.c: $(sort $(wildcard proto/migrations/*.sql)) proto/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh proto/embed-migrations.sh $(sort $(wildcard proto/migrations/*.sql)) > $@

$(O)/gen/migrations.o: $(O)/gen/migrations.c
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# One rule per binary keeps the object lists explicit.
define daemon_rule
$(BIN)/updraft-$(1): $(patsubst %.c,$(O)/%.o,$(wildcard $(1)/*.c)) $(LIB)
	@mkdir -p $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

$(BIN)/updraft: $(patsubst %.c,$(O)/%.o,$(wildcard cli/*.c)) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LIB) $(LDLIBS) -lcmocka

# Fuzz targets build two ways: with a replay driver (for make test, any
# compiler) and, with clang, as libFuzzer binaries (make fuzz).
$(O)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Coverage-guided fuzzing with libFuzzer (needs clang): every target for
# FUZZ_SECONDS, starting from its corpus; new finds go to build/fuzz/new-<name>.
FUZZ_SECONDS ?= 60
fuzz: $(O)/gen/migrations.c
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	@mkdir -p build/fuzz
	@for src in $(FUZZ_SRC); do \
	  name=$$(basename $$src .c); short=$${name#fuzz_}; \
	  clang -g -O1 -std=c11 -D_GNU_SOURCE -I. -I$(O)/gen $(shell pkg-config --cflags $(PKGS)) \
	    -fsanitize=fuzzer,address,undefined -o build/fuzz/$$name $$src $(LIB_SRC) $(O)/gen/migrations.c $(LDLIBS) || exit 1; \
	  mkdir -p build/fuzz/new-$$short; \
	  build/fuzz/$$name -max_total_time=$(FUZZ_SECONDS) build/fuzz/new-$$short tests/fuzz/corpus/$$short || exit 1; \
	done

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(FUZZ_BIN)
	@O=$(O) BIN=$(BIN) bash tests/run.sh

unit: $(UNIT_BIN)
	@O=$(O) BIN=$(BIN) ONLY=unit bash tests/run.sh

integration: all
	@O=$(O) BIN=$(BIN) ONLY=integration bash tests/run.sh

asan: deps
	@SKIP_BENCH=1 $(MAKE) --no-print-directory O=build/asan BIN=build/asan/bin SAN=1 OPT=-O1 test

# Benchmarks (tests/bench/README.md): release build, private Postgres and Redis.
bench: deps all
	@BIN=$(BIN) bash tests/bench/run.sh

bench-quick: deps all
	@BIN=$(BIN) bash tests/bench/run.sh --quick

standalone: deps all
	@bash deploy/standalone.sh

format:
	clang-format -i $(wildcard common/*.[ch] proto/*.[ch] scheduler/*.[ch] worker/*.[ch] webserver/*.[ch] cli/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
