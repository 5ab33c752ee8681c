#!/usr/bin/env bash
# Write→print latency of `sluice follow` (p50 and p99 over N appended lines) and its CPU use while idle, with
# inotify and with the polling fallback. Runs LiveCLITests.testLatencyAndIdleCPU with more samples; the test
# fails if p99 reaches 250 ms or an idle follower uses CPU.
#
#   Perf/live-latency.sh [SAMPLES]        default 1000 samples; CONFIG=release to measure an optimised build;
#                                         SCRATCH=DIR for the build folder (default .build)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
samples="${1:-1000}"
scratch="${SCRATCH:-.build}"
config=()
if [ "${CONFIG:-debug}" = release ]; then config=(-c release -Xswiftc -enable-testing); fi
swift build "${config[@]}" --build-tests --scratch-path "$scratch" >/dev/null
SLUICE_LATENCY_SAMPLES="$samples" swift test "${config[@]}" --skip-build --scratch-path "$scratch" \
    --disable-swift-testing --filter 'LiveCLITests.testLatencyAndIdleCPU' 2>&1 \
    | grep -E 'follow latency|error|Executed .* tests' | sort -u
