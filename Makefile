# Sluice: `make demo` and `make test` are all a fresh machine needs; both install missing system packages first.
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
# C libraries the package links against.
DEPS := libpcre2-dev zlib1g-dev libbz2-dev libisal-dev
# Peers the benchmarks compare against.
PEERS := ripgrep mawk gawk pigz isal lbzip2 pbzip2 bzip2 goaccess hyperfine time python3
DEMO := demo-data
SLUICE := .build/release/sluice

.PHONY: install-deps install-peers build release demo test perf-compare clean

# Installs those of the packages $(1) that dpkg does not list as installed (a removed package whose configuration
# files remain counts as missing), with apt-get as root or through sudo; without either it says what to run.
define install_missing
	@missing=""; for p in $(1); do \
		[ "$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null)" = installed ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then as_root=""; \
		elif command -v sudo >/dev/null 2>&1; then as_root="sudo"; \
		else echo "make: missing packages:$$missing; installing them needs root: run apt-get install$$missing as root" >&2; exit 1; fi; \
		echo "installing:$$missing"; \
		$$as_root apt-get update -qq && $$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

install-deps:
	$(call install_missing,$(DEPS))

install-peers: install-deps
	$(call install_missing,$(PEERS))

build: install-deps
	$(SWIFT) build

# The Swift runtime is linked in statically: a process then starts in about 9 ms of CPU instead of 14, since the
# loader has fewer libraries to relocate and the runtime fewer images to search for protocol conformances.
release: install-deps
	$(SWIFT) build -c release --static-swift-stdlib

# Generates a 64 MiB combined log (plus gzip and bzip2 twins) and asks it the tutorial's questions. Each file is
# written under a .partial name and renamed, so one cut short by any signal is made again by the next run.
demo: release
	@mkdir -p $(DEMO)
	@test -s $(DEMO)/access.log || { $(SLUICE) gen --size 64M --format combined --seed 2008 -o $(DEMO)/access.log.partial \
		&& mv $(DEMO)/access.log.partial $(DEMO)/access.log; }
	@test -s $(DEMO)/access.log.gz || { $(SLUICE) gen --size 64M --format combined --seed 2008 --gzip -o $(DEMO)/access.log.gz.partial \
		&& mv $(DEMO)/access.log.gz.partial $(DEMO)/access.log.gz; }
	@test -s $(DEMO)/access.log.bz2 || { $(SLUICE) gen --size 64M --format combined --seed 2008 --bzip2 -o $(DEMO)/access.log.bz2.partial \
		&& mv $(DEMO)/access.log.bz2.partial $(DEMO)/access.log.bz2; }
	@ls -l $(DEMO)
	@echo; echo '$$ sluice sum bytes $(DEMO)/access.log                  # total bytes served'
	@$(SLUICE) sum bytes $(DEMO)/access.log
	@echo; echo '$$ sluice top host -k 5 $(DEMO)/access.log.gz            # busiest clients (gzip, decoded in-process)'
	@$(SLUICE) top host -k 5 $(DEMO)/access.log.gz
	@echo; echo '$$ sluice count --by status $(DEMO)/access.log.bz2        # status codes (bzip2, block-parallel)'
	@$(SLUICE) count --by status $(DEMO)/access.log.bz2
	@echo; echo "$$ sluice max bytes --with request $(DEMO)               # largest response, all three files"
	@$(SLUICE) max bytes --with request $(DEMO)
	@echo; echo "$$ sluice distinct request --where status=404 $(DEMO)/access.log | head -5"
	@$(SLUICE) distinct request --where status=404 $(DEMO)/access.log | head -5
	@echo; echo "$$ sluice grep -c 'ply-.*\\.gz' $(DEMO)"
	@$(SLUICE) grep -c 'ply-.*\.gz' $(DEMO)

test: install-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# The bzip2 decoder's robustness check under AddressSanitizer and UndefinedBehaviorSanitizer (Tests/Fuzz/), about
# 15 seconds; not part of `make test`, whose Swift tests already cover damage and truncation.
.PHONY: fuzz
fuzz: install-deps
	mkdir -p .build/fuzz
	$(CC) -std=c11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -Wall -Wextra \
		-ICShims/CBZip2/include -ICShims/CBZip2 Tests/Fuzz/bzip2_decoder.c CShims/CBZip2/fast_*.c -lbz2 \
		-o .build/fuzz/bzip2_decoder
	ASAN_OPTIONS=detect_leaks=1 .build/fuzz/bzip2_decoder

clean:
	rm -rf .build $(DEMO)

# Benchmarks (Perf/): the whole-command comparison against peer tools (report in Perf/results/latest.md; QUICK=1
# for a smoke test), and the microbenchmarks checked against, or stored as, the p90 thresholds in Perf/Thresholds/.
.PHONY: perf-compare perf-check perf-baseline
perf-compare: install-peers release
	bash Perf/compare.sh

perf-check: install-deps
	SWIFT="$(SWIFT)" bash Perf/thresholds.sh check

perf-baseline: install-deps
	SWIFT="$(SWIFT)" bash Perf/thresholds.sh update
