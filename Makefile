# updraft build.
#
#   make            bin/updraft-scheduler bin/updraft-worker bin/updraft-webserver bin/updraft
#   make test       install what is missing, build, run every test (ends "N passed, N failed, N skipped")
#   make asan       the same tests against an AddressSanitizer + UBSan build
#   make standalone private Postgres + Redis under var/standalone, all daemons, example DAGs
#
# O is the object directory and BIN the binary directory, so that the
# sanitizer build lives beside the normal one without mixing objects.

CC      ?= cc
O       ?= build
BIN     ?= bin
OPT     ?= -O2
PKGS    := hiredis libpq libcyaml yaml-0.1 libcurl libcjson libxcrypt openssl libsystemd zlib

# pkg-config answers only once `make deps` has installed it and the
# libraries; the targets that install (test, asan, standalone, bench) run
# it first and then build in a second make, which reads these afresh.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
NODEPS_GOALS := deps clean format test asan standalone bench bench-quick check-tree
ifeq ($(PKG_LIBS),)
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
$(error pkg-config does not find the build libraries ($(PKGS)): run 'make deps' first; 'make test' and 'make standalone' run it themselves)
endif
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -fno-common -Wno-missing-field-initializers
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -I. -Ilib -I$(O)/gen -MMD -MP $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lcivetweb -lpthread -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# The library, in layers (docs/design.md "Layout"): each uses only the ones
# below it. proto/ (the contracts) is the lowest; sched the highest. Link
# order is the reverse: a layer before the ones it uses.
LAYERS      := proto core model store sched
proto_SRC   := $(wildcard proto/*.c)
proto_OBJ   := $(proto_SRC:%.c=$(O)/%.o) $(O)/gen/migrations.o
$(foreach l,core model store sched,$(eval $(l)_SRC := $(wildcard lib/$(l)/*.c)))
$(foreach l,core model store sched,$(eval $(l)_OBJ := $$($(l)_SRC:%.c=$(O)/%.o)))
LAYER_LIBS  := $(foreach l,sched store model core proto,$(O)/lib/lib$(l).a)

# Each program is a library of its own plus a short main.c, so that tests
# link its parts instead of including them.
APPS        := scheduler worker webserver cli
$(foreach a,$(APPS),$(eval $(a)_SRC := $(filter-out $(a)/main.c,$(wildcard $(a)/*.c))))
$(foreach a,$(APPS),$(eval $(a)_OBJ := $$($(a)_SRC:%.c=$(O)/%.o)))
APP_LIBS    := $(foreach a,$(APPS),$(O)/app/lib$(a).a)
# The web UI (ui/), bundled and embedded in the webserver (webserver/ui.c).
UI_SRC      := ui/build.sh ui/index.html $(wildcard ui/src/*.js ui/src/*.css ui/src/views/*.js)
webserver_OBJ += $(O)/gen/ui_assets.o
ALL_LIBS    := $(APP_LIBS) $(LAYER_LIBS)

DAEMONS := scheduler worker webserver
PROGS   := $(DAEMONS:%=$(BIN)/updraft-%) $(BIN)/updraft

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/tests/%)

.PHONY: all libs deps test unit integration asan standalone clean format fuzz-build fuzz bench bench-quick check-tree docs-config docs-metrics

all: $(PROGS)

libs: $(ALL_LIBS)

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

$(O)/gen/ui_assets.c: $(UI_SRC)
	@mkdir -p $(dir $@)
	sh ui/build.sh $(O)/ui $@

$(O)/gen/ui_assets.o: $(O)/gen/ui_assets.c
	$(CC) $(CFLAGS) -c $< -o $@

# The commit the binaries are built from (core/version.h): rewritten only
# when it changes, so that an unchanged checkout rebuilds nothing.
.PHONY: FORCE
$(O)/gen/git_version.h: FORCE
	@mkdir -p $(dir $@)
	@v=$$(git rev-parse --short=12 HEAD 2>/dev/null); \
	if [ -n "$$v" ]; then git diff --quiet HEAD -- 2>/dev/null || v=$$v.dirty; \
	  line="#define UPDRAFT_GIT_VERSION \"$$v\""; \
	else line="#define UPDRAFT_GIT_VERSION NULL"; fi; \
	[ "$$(cat $@ 2>/dev/null)" = "$$line" ] || echo "$$line" > $@

$(O)/lib/core/version.o: $(O)/gen/git_version.h

define archive_rule
$(1): $(2)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call archive_rule,$(O)/lib/lib$(l).a,$$($(l)_OBJ))))
$(foreach a,$(APPS),$(eval $(call archive_rule,$(O)/app/lib$(a).a,$$($(a)_OBJ))))

# Keep the main.o objects the pattern rule below builds (make would delete
# them as intermediates and rebuild every binary on the next run).
.SECONDARY:

$(BIN)/updraft-%: $(O)/%/main.o $(ALL_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/app/lib$*.a $(LAYER_LIBS) $(LDLIBS)

$(BIN)/updraft: $(O)/cli/main.o $(ALL_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/app/libcli.a $(LAYER_LIBS) $(LDLIBS)

# Each unit test is its test_*.c with the shared fixtures (tests/unit/helpers.c).
$(O)/tests/test_%: tests/unit/test_%.c tests/unit/helpers.c tests/unit/helpers.h $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/unit/helpers.c $(ALL_LIBS) $(LDLIBS) -lcmocka

# Fuzz targets build two ways: with a replay driver (for make test, any
# compiler) and, with clang, as libFuzzer binaries (make fuzz).
$(O)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(ALL_LIBS) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Coverage-guided fuzzing with libFuzzer (needs clang): every target for
# FUZZ_SECONDS under ASan+UBSan (any finding stops it), starting from its
# corpus; new finds go to build/fuzz/new-<name>, the output to
# build/fuzz/<name>.log, and each target's executions are printed.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	@$(MAKE) --no-print-directory O=build/fuzz/obj CC=clang SAN=fuzz OPT=-O1 libs
	@mkdir -p build/fuzz
	@for src in $(FUZZ_SRC); do \
	  name=$$(basename $$src .c); short=$${name#fuzz_}; \
	  clang -g -O1 -std=c11 -D_GNU_SOURCE -I. -Ilib $(PKG_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -o build/fuzz/$$name $$src \
	    $(subst $(O)/,build/fuzz/obj/,$(ALL_LIBS)) $(LDLIBS) || exit 1; \
	  mkdir -p build/fuzz/new-$$short; \
	  build/fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build/fuzz/new-$$short tests/fuzz/corpus/$$short \
	    >build/fuzz/$$name.log 2>&1 || { tail -60 build/fuzz/$$name.log; exit 1; }; \
	  printf '%-18s %12s runs in %s s\n' $$name \
	    "$$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/$$name.log)" \
	    "$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' build/fuzz/$$name.log)"; \
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
bench: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) bash tests/bench/run.sh

bench-quick: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) bash tests/bench/run.sh --quick

# The house rules (tests/check/*.sh): include direction, SQL only in
# lib/store, formatting, no .c included by a test. No build needed.
check-tree:
	@ONLY=check bash tests/run.sh

# docs/configuration.md's key reference, from the key table (checked by check-tree).
docs-config: $(BIN)/updraft
	@BIN=$(BIN) bash tests/check/generated_docs.sh --write config

# docs/metrics.md's metric table, from the table in lib/core/metrics.c (checked by check-tree).
docs-metrics: $(BIN)/updraft
	@BIN=$(BIN) bash tests/check/generated_docs.sh --write metrics

standalone: deps
	@$(MAKE) --no-print-directory all
	@bash deploy/standalone.sh

format:
	find lib proto scheduler worker webserver cli tests -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
