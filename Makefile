# fleetlake — the front door. `make run` and `make test` are all a new user needs.
#   make run    install packages, build (optimised), start `fleetlake serve --demo`; prints
#               the dashboard's URL (http://127.0.0.1:8080/) and a demo API key to sign in with
#               (make run TLS=1: HTTPS only, with a self-signed certificate in $(DATA)/tls/)
#   make test   install packages, build with ASan+UBSan, run the whole suite through ctest
#   make bench  optimised build, run the benchmarks, print tables (see docs/PERFORMANCE.md)
#   make soak   long fault campaigns (kill -9: 200 cycles of ingest, 50 of delivery, 30 of compaction,
#               50 of processing, 40 of lifecycle, 20 of erase, 50 of notification delivery)
#   make fuzz   run the libFuzzer harnesses for FUZZ_SECONDS each (clang)

JOBS        ?= $(shell nproc)
BUILD_TEST  ?= build
BUILD_REL   ?= build-release
BUILD_FUZZ  ?= build-fuzz
DATA        ?= ./fleetlake-data
LISTEN      ?= 127.0.0.1:8080
TLS         ?= 0
FUZZ_SECONDS ?= 60
CTEST_ARGS  ?=

.PHONY: all run test bench soak fuzz deps release debug clean format

all: release

deps:
	@scripts/install-deps.sh build

release: deps
	@scripts/install-web-npm.sh
	@cmake -S . -B $(BUILD_REL) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_REL) -j$(JOBS)

debug:
	@scripts/install-deps.sh test
	@scripts/install-test-npm.sh
	@scripts/install-web-npm.sh --test
	@cmake -S . -B $(BUILD_TEST) -DCMAKE_BUILD_TYPE=Debug -DFL_SANITIZE=address,undefined >/dev/null
	@cmake --build $(BUILD_TEST) -j$(JOBS)

run: release
	@tls=""; if [ "$(TLS)" = 1 ]; then tls=$$(scripts/gen-cert.sh $(DATA)) || exit 1; \
	  echo "HTTPS only; try: curl --cacert $(DATA)/tls/cert.pem https://$(LISTEN)/healthz"; fi; \
	echo "starting fleetlake with its fleet simulator; data in $(DATA); Ctrl-C to stop"; \
	exec $(BUILD_REL)/fleetlake serve --demo --data $(DATA) --listen $(LISTEN) $$tls

test: debug
	@cd $(BUILD_TEST) && ctest --output-on-failure -j2 --label-exclude 'soak|browser-slow' $(CTEST_ARGS)

bench:
	@scripts/install-deps.sh bench
	@cmake -S . -B $(BUILD_REL) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_REL) -j$(JOBS)
	@bench/run.sh $(BUILD_REL)

# The fault campaigns of `make test`, with many more kill -9 cycles, on the optimised build.
SOAK_ENV = FLEETLAKE_BIN=$(BUILD_REL)/fleetlake FL_TEST_TMP=$(BUILD_REL)/tmp FL_SOURCE_DIR=$(CURDIR)
soak: release
	@scripts/install-deps.sh test
	@scripts/install-test-npm.sh
	@$(SOAK_ENV) FL_KILL_CYCLES=200 python3 tests/fault/test_kill9.py
	@$(SOAK_ENV) FL_KILL_CYCLES=50 python3 tests/fault/test_kill9_delivery.py
	@$(SOAK_ENV) FL_KILL_CYCLES=30 python3 tests/fault/test_kill9_compact.py
	@$(SOAK_ENV) FL_KILL_CYCLES=50 python3 tests/fault/test_kill9_process.py
	@$(SOAK_ENV) FL_KILL_CYCLES=40 python3 tests/fault/test_kill9_lifecycle.py
	@$(SOAK_ENV) FL_KILL_CYCLES=20 python3 tests/fault/test_kill9_erase.py
	@$(SOAK_ENV) FL_KILL_CYCLES=50 python3 tests/fault/test_kill9_notify.py

fuzz:
	@scripts/install-deps.sh fuzz
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DFL_FUZZ=ON -DFL_SANITIZE=address,undefined >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)
	@for f in $(BUILD_FUZZ)/fuzz_*; do n=$${f##*/fuzz_}; mkdir -p tests/fuzz/crashers/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/crashers/$$n/ tests/fuzz/corpus/$$n || exit 1; done

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

clean:
	rm -rf $(BUILD_TEST) $(BUILD_REL) $(BUILD_FUZZ)
