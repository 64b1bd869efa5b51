# Kasse build. `make` builds build/kasse (release); `make test` runs everything CI runs;
# `make run` installs what is missing, builds and starts the server on var/kasse.db.

CC      ?= gcc
PKGS    := jansson sqlite3 openssl libcurl libqrencode libpq
WARN    := -std=c17 -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes \
           -Wmissing-prototypes -Werror
CPPFLAGS := -D_GNU_SOURCE -Isrc -Ibuild/gen
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
REL_FLAGS  := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
DBG_FLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRC      := $(sort $(wildcard src/lib/*.c src/core/*.c src/store/*.c src/http/*.c src/api/*.c src/outbox/*.c))
WEB      := $(sort $(wildcard web/*/*.* web/*/*/*.* web/*/*/*/*.*))
GEN      := build/gen/web_assets.c build/gen/schema_sqlite.h build/gen/schema_pg.h
REL_OBJ  := $(patsubst src/%.c,build/rel/%.o,$(SRC)) build/rel/gen/web_assets.o
DBG_OBJ  := $(patsubst src/%.c,build/dbg/%.o,$(SRC)) build/dbg/gen/web_assets.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRC))

.PHONY: all debug run test unit api contract api-pg contract-pg api-rerun browser bench soak deps clean fuzz fuzz-regress check-banned
all: build/kasse

build/kasse: $(REL_OBJ) build/rel/main.o
	@echo "  LD      $@"
	@$(CC) $(REL_FLAGS) -o $@ $^ $(PKG_LIBS)

build/kasse-debug: $(DBG_OBJ) build/dbg/main.o
	@echo "  LD      $@"
	@$(CC) $(DBG_FLAGS) -o $@ $^ $(PKG_LIBS)

debug: build/kasse-debug

build/rel/%.o: src/%.c $(GEN) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(REL_FLAGS) -c -o $@ $<

build/dbg/%.o: src/%.c $(GEN) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC [asan,ubsan] $<"
	@$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(DBG_FLAGS) -c -o $@ $<

build/rel/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(CPPFLAGS) $(WARN) $(REL_FLAGS) -c -o $@ $<

build/dbg/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(CPPFLAGS) $(WARN) $(DBG_FLAGS) -c -o $@ $<

# Browser assets are embedded so one binary is the whole product.
build/gen/web_assets.c: tools/embed.sh $(WEB)
	@mkdir -p build/gen
	sh tools/embed.sh web > $@

build/gen/schema_sqlite.h: src/store/schema_sqlite.sql tools/sql2h.sh
	@mkdir -p build/gen
	sh tools/sql2h.sh $< > $@

build/gen/schema_pg.h: src/store/schema_pg.sql tools/sql2h.sh
	@mkdir -p build/gen
	sh tools/sql2h.sh $< > $@

# Unit tests: cmocka, one file per module, linked against the sanitizer build of src/.
build/unit/%: tests/unit/%.c $(DBG_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p build/unit
	@echo "  CC [asan,ubsan] $<"
	@$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(DBG_FLAGS) -o $@ $(filter %.c %.o,$^) $(PKG_LIBS) -lcmocka

# test_store_pg needs a PostgreSQL server: tools/with-pg.sh starts a throwaway one (or uses
# KASSE_TEST_PG's).
unit: $(UNIT_BIN)
	@export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; \
	sh tools/with-pg.sh sh -c 'set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done'

# Black-box tests against the real binary (sanitizer build), direct and through the
# OpenAPI-validating proxy.
api: build/kasse-debug node_modules/.installed
	KASSE_BIN=build/kasse-debug node --test --test-concurrency=1 tests/api/

contract: build/kasse-debug node_modules/.installed
	KASSE_BIN=build/kasse-debug KASSE_CONTRACT=1 node --test --test-concurrency=1 tests/api/

# The same black-box suite and contract proxies against PostgreSQL (issue 10): a throwaway
# cluster (tools/with-pg.sh; or the server KASSE_TEST_PG names), a database per Kasse instance,
# and the two-node tests (tests/api/44-two-nodes), which only run there.
api-pg: build/kasse-debug node_modules/.installed
	KASSE_BIN=build/kasse-debug sh tools/with-pg.sh node --test --test-concurrency=1 tests/api/

contract-pg: build/kasse-debug node_modules/.installed
	KASSE_BIN=build/kasse-debug KASSE_CONTRACT=1 sh tools/with-pg.sh node --test --test-concurrency=1 tests/api/

# Every store transaction function must be safe to run again (store.h, Concurrency): SQLite's
# writer runs each one twice, the first attempt rolled back, under the whole black-box suite.
api-rerun: build/kasse-debug node_modules/.installed
	KASSE_BIN=build/kasse-debug KASSE_STORE_RERUN=1 node --test --test-concurrency=1 tests/api/

# The shopper's checkout in a real browser (Debian chromium driven by playwright-core).
browser: build/kasse-debug node_modules/.installed
	KASSE_BIN=build/kasse-debug node --test --test-concurrency=1 tests/browser/

node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

check-banned:
	@sh tools/check-banned.sh

# Fuzzing: one libFuzzer target per parser (fuzz/*_fuzz.c), corpora in fuzz/corpus/<name>/.
# `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-regress` (part of `make test`) replays the
# corpora once, so an input that once crashed stays fixed.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=c17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BIN     := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/*_fuzz.c))

build/fuzz/%: fuzz/%.c $(SRC) $(GEN) $(wildcard src/*/*.h)
	@mkdir -p build/fuzz
	@echo "  CC [fuzzer] $<"
	@$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_FLAGS) -o $@ $< $(SRC) build/gen/web_assets.c $(PKG_LIBS)

fuzz: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do n=$$(basename $$t _fuzz); mkdir -p build/fuzz/found-$$n build/fuzz/corpus-$$n; \
	echo "== $$t ($(FUZZ_SECONDS) s)"; \
	$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build/fuzz/found-$$n/ \
	    build/fuzz/corpus-$$n fuzz/corpus/$$n 2>&1 | tail -4; done

fuzz-regress: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do n=$$(basename $$t _fuzz); \
	$$t -runs=0 fuzz/corpus/$$n > build/fuzz/$$n-regress.log 2>&1 || { cat build/fuzz/$$n-regress.log; exit 1; }; \
	echo "fuzz-regress $$n: $$(ls fuzz/corpus/$$n | wc -l) corpus inputs replayed, no finding"; done

test: deps check-banned unit fuzz-regress api contract api-rerun api-pg contract-pg browser

bench: build/kasse
	@KASSE_DEPS_BENCH=1 sh tools/deps.sh
	sh bench/run.sh

# Soak (not part of `make test`): the release build under the crash test's mixed load from
# SOAK_CONNS (64) connections for SOAK_MINUTES (30); a line per minute of RSS, WAL, database and
# request-log size, requests, p50/p99 latency, errors. Fails on errors, on RSS over
# SOAK_MAX_RSS_MB (100) at steady state or growing. Knobs: tools/soak.mjs.
soak: build/kasse
	@KASSE_DEPS_PROFILE=run KASSE_DEPS_SOAK=1 sh tools/deps.sh
	node tools/soak.mjs

deps:
	@sh tools/deps.sh

run:
	@KASSE_DEPS_PROFILE=run sh tools/deps.sh
	@$(MAKE) --no-print-directory build/kasse
	@sh tools/run.sh

clean:
	rm -rf build
