#!/usr/bin/env bash
# Perf/compare.sh: times whole `sluice` commands against peer tools on the same files and writes a Markdown
# report (median times, ratios, sluice's peak RSS, scaling with input size and threads).
#
# Every peer's answer is checked against sluice's (after normalising the output format) before it is timed; a
# peer that disagrees or fails (or prints no answer) is reported and left out. Anchors (`wc -l`, decompress-and-
# count pipelines) answer a different question and only show how close sluice gets to reading the bytes at all;
# each must exit 0 with every command of its pipeline and print the input's line count (as `sluice grep -c ''`
# counts it), or it is left out too.
#
# Environment:
#   SLUICE         the sluice binary            (default: ../.build/release/sluice, as `make release` builds;
#                  the Makefile sets it too, so through make write `make perf-compare SLUICE=PATH`)
#   PERF_DATA      folder for generated inputs  (default: /tmp/perf-data; QUICK=1 uses PERF_DATA/quick)
#   PERF_OUT       the Markdown report          (default: Perf/results/latest.md; QUICK=1: PERF_DATA/quick/quick.md)
#   QUICK=1        small inputs and fewer runs, a smoke test of a few minutes
#   SCALE_4G=1     add a 4 GiB step to the size-scaling table (needs 4 GiB more disk and a few minutes)
#   PERF_COMMIT    the commit named in the report (default: the work tree's HEAD when the run starts, noting
#                  uncommitted changes; "unknown" when SLUICE names another binary than this tree's build)
#   RUNS           timed runs for fast commands (default 5; QUICK=1: 2)
#   TUTORIAL_LOG   the tutorial's access-log    (default: ../shared/data/tutorial/access-log beside this
#                  repository, where the project's shared data lives; makebig-2000 is made from it)
#
# Needs hyperfine, mawk, gawk, ripgrep, grep, igzip (isal), lbzip2, goaccess, python3, GNU time: `make
# install-peers` installs them. A missing peer is reported as skipped. Paths must not contain spaces.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
SLUICE=${SLUICE:-$root/.build/release/sluice}
TUTORIAL_BIN=${SLUICE_TUTORIAL:-$(dirname "$SLUICE")/sluice-tutorial}
TUTORIAL_LOG=${TUTORIAL_LOG:-$root/../shared/data/tutorial/access-log}
# The commit the report names, taken now: a commit made during the run is not what was built.
if [ -n "${PERF_COMMIT:-}" ]; then
    commit=$PERF_COMMIT
elif [ "$SLUICE" != "$root/.build/release/sluice" ]; then
    commit="unknown (SLUICE=$SLUICE, not this tree's build)"
else
    commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- Sources CShims Package.swift 2>/dev/null || echo ' (with uncommitted changes)')"
fi
QUICK=${QUICK:-0}
SCALE_4G=${SCALE_4G:-0}
DATA=${PERF_DATA:-/tmp/perf-data}

if [ "$QUICK" = 1 ]; then
    DATA=$DATA/quick
    OUT=${PERF_OUT:-$DATA/quick.md}
    RUNS=${RUNS:-2}
    REPEAT=100; BIG=64M; GZ=16M; BZ=4M; TREE_FILES=500; TREE_SIZE=16M; SCALE_SIZES="16M 64M"
else
    OUT=${PERF_OUT:-$here/results/latest.md}
    RUNS=${RUNS:-5}
    REPEAT=2000; BIG=1G; GZ=256M; BZ=64M; TREE_FILES=10000; TREE_SIZE=320M; SCALE_SIZES="128M 1G"
fi
[ "$SCALE_4G" = 1 ] && SCALE_SIZES="$SCALE_SIZES 4G"

work=$DATA/compare-work
mkdir -p "$DATA" "$work"
rm -f "$work"/*.json "$work"/*.sh "$work"/*.out "$work"/*.err "$work"/*.tsv
rows=$work/rows.tsv          # workload, tool, kind, median, min, max, runs, answer, rss_kib
scaling=$work/scaling.tsv    # table, row, column, median
inputs=$work/inputs.tsv      # label, path
: > "$rows"; : > "$scaling"; : > "$inputs"

say() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (run 'make release' or set SLUICE)"
have hyperfine || die "hyperfine is missing (make install-peers)"
have python3 || die "python3 is missing"
[ -r "$TUTORIAL_LOG" ] || die "no tutorial log at $TUTORIAL_LOG (set TUTORIAL_LOG)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$EPOCHREALTIME

# MARK: - Data

# gen_file NAME SLUICE-GEN-ARGS...: $DATA/NAME, unless it is already there. Written under a temporary name and
# renamed when complete, so an interrupted run leaves nothing that looks finished.
gen_file() {
    local name=$1; shift
    if [ -s "$DATA/$name" ]; then return; fi
    say "generating $name"
    "$SLUICE" gen "$@" -o "$DATA/$name.partial"
    mv "$DATA/$name.partial" "$DATA/$name"
}

makebig=makebig-$REPEAT.log
big=combined-$BIG.log
gz=combined-$GZ.log.gz
bz=combined-$BZ.log.bz2
tree=tree-$TREE_FILES-$TREE_SIZE

gen_file "$makebig" --repeat "$TUTORIAL_LOG" "$REPEAT"
gen_file "$big" --size "$BIG" --format combined --seed 7
gen_file "$gz" --size "$GZ" --format combined --seed 7 --gzip
gen_file "$bz" --size "$BZ" --format combined --seed 7 --bzip2
if [ ! -f "$DATA/$tree.done" ]; then
    say "generating $tree ($TREE_FILES files)"
    rm -rf "${DATA:?}/$tree"
    "$SLUICE" gen --files "$TREE_FILES" --size "$TREE_SIZE" --format common --seed 5 -o "$DATA/$tree"
    touch "$DATA/$tree.done"
fi
for size in $SCALE_SIZES; do
    if [ "$size" = "$BIG" ]; then continue; fi
    gen_file "combined-$size.log" --size "$size" --format combined --seed 7
done
printf '%s\t%s\n' "makebig-$REPEAT (tutorial log × $REPEAT)" "$DATA/$makebig" \
    "combined $BIG (seed 7, 200k hosts)" "$DATA/$big" \
    "combined $GZ, gzip -6" "$DATA/$gz" \
    "combined $BZ, bzip2 -9" "$DATA/$bz" \
    "tree of $TREE_FILES common logs, $TREE_SIZE in all" "$DATA/$tree" >> "$inputs"

# reread FILE...: drops the files' pages from the page cache and reads them once with `cat`, so that every
# workload starts from the same warm cache: the one a sequential read leaves, which on recent kernels holds large
# folios. Without it the cache depends on history. On the VM these figures come from, a DAMON scheme pages out
# file pages left idle for a minute, and the pages a memory mapping then faults back are often single 4 KiB
# pages, each of which sluice's mapping must map and unmap alone (`sum bytes` on makebig-2000 measured 1.27x
# `wc -l` in that state and 1.09x after a `cat`, in alternating runs at b8aa9a9).
cat > "$work/drop-pages.py" <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
reread() {
    python3 "$work/drop-pages.py" "$@"
    cat "$@" > /dev/null
}

# Warm the page cache so every tool, the first one included, reads from memory (each workload reads its input
# again before it starts; see `begin`).
reread "$DATA/$makebig" "$DATA/$big" "$DATA/$gz" "$DATA/$bz"
find "$DATA/$tree" -type f -print0 | xargs -0 cat > /dev/null

# MARK: - Checking and timing

# Normalisers turn a command's output file into the answer that is compared.
norm_int() { { grep -oE '[0-9]+' "$1" || true; } | tail -n 1; }    # `Total N`, `N`, `path:N` -> N; "" if none
norm_lines() { awk '{ $1 = $1; print }' "$1" | md5sum | cut -d' ' -f1; }   # whitespace-insensitive lines

workload=""; normaliser=""; expected=""; sluice_median=""; sluice_code=""; counter=0; paired=""

# begin ID TITLE NORMALISER [FILE]: starts a workload; the next `reference` is sluice's command. A FILE is read
# again from a cold cache first (`reread`); a directory, file by file.
begin() {
    workload=$1; normaliser=$3; expected=""; sluice_median=""; sluice_code=""
    say "== $2"
    if [ -d "${4:-}" ]; then
        find "$4" -type f -print0 | xargs -0 python3 "$work/drop-pages.py"
        find "$4" -type f -print0 | xargs -0 cat > /dev/null
    elif [ -n "${4:-}" ]; then
        reread "$4"
    fi
    printf '#\t%s\t%s\n' "$1" "$2" >> "$rows"
}

# script_for CODE: a command line hyperfine can run without a shell: CODE itself when it is one simple
# command, otherwise `bash FILE` with CODE in FILE (pipelines and redirections).
script_for() {
    local code=$1
    if [[ $code == *"|"* || $code == *">"* || $code == *"<"* ]]; then
        # Named after the code: this runs in a command substitution, where a counter would not advance.
        local file=$work/cmd-$(printf '%s' "$code" | md5sum | cut -c1-16).sh
        printf '%s\n' "$code" > "$file"
        printf 'bash %s' "$file"
    else
        printf '%s' "$code"
    fi
}

# hyperfine_stats JSON: "median min max runs" of the one command in a hyperfine export.
hyperfine_stats() {
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f'{r["median"]:.3f} {r["min"]:.3f} {r["max"]:.3f} {len(r["times"])}')
PY
}

# probe CODE [pipefail]: runs CODE once through bash, output to $work/probe.out; sets probe_seconds and
# probe_status. With `pipefail`, a failure anywhere in a pipeline counts (peers that end in `| head` may see
# their writer stopped by SIGPIPE, so only anchors use it).
probe() {
    local t0=$EPOCHREALTIME
    probe_status=0
    bash ${2:+-o $2} -c "$1" > "$work/probe.out" 2> "$work/probe.err" || probe_status=$?
    probe_seconds=$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.3f}')")
}

# measure TOOL CODE: times CODE with hyperfine (or keeps the probe when one run is all the budget allows) and
# sets median/minimum/maximum/runs. The probe run serves as warm-up. Runs shrink with the probe's time so the
# whole comparison stays within about 25 minutes: a command over 60 s is timed by its probe alone.
measure() {
    local tool=$1 code=$2 json warmup count slow
    slow=$(python3 -c "t=$probe_seconds; print(0 if t < 3 else 1 if t < 15 else 2 if t < 60 else 3)")
    case $slow in
        0) warmup=1; count=$RUNS ;;
        1) warmup=0; count=3 ;;
        2) warmup=0; count=1 ;;
        3) median=$probe_seconds; minimum=$probe_seconds; maximum=$probe_seconds; runs="1 (probe)"; return ;;
    esac
    if [ "$QUICK" = 1 ] && [ "$count" -gt "$RUNS" ]; then count=$RUNS; fi
    counter=$((counter + 1))
    json=$work/run-$counter.json
    hyperfine -N --style basic --output=pipe --warmup "$warmup" --runs "$count" --export-json "$json" \
        --command-name "$tool" "$(script_for "$code")" >&2
    read -r median minimum maximum runs < <(hyperfine_stats "$json")
}

record() { # tool kind answer rss
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$1" "$2" "${median:-}" "${minimum:-}" \
        "${maximum:-}" "${runs:-}" "$3" "${4:-}" "${paired:-}" >> "$rows"
}

# pair TOOL CODE: the ratio of CODE's time to sluice's measured in alternation: each round runs both once, in
# turn (which goes first alternates), and the ratio is the median of the rounds' ratios. On a shared machine
# whose speed drifts over minutes, both sides of each round see the same conditions. Sets `paired`; left empty
# for commands too slow to repeat (over 15 s) or when the workload has no sluice command.
pair() {
    local tool=$1 code=$2 rounds=$RUNS json first second ours theirs
    paired=""
    [ -n "$sluice_code" ] || return 0
    python3 -c "import sys; sys.exit(0 if $probe_seconds < 15 else 1)" || return 0
    python3 -c "import sys; sys.exit(0 if $probe_seconds < 3 else 1)" || rounds=3
    : > "$work/pair.txt"
    ours=$(script_for "$sluice_code"); theirs=$(script_for "$code")
    for ((round = 0; round < rounds; round++)); do
        counter=$((counter + 1))
        json=$work/pair-$counter.json
        first=$ours; second=$theirs
        if (( round % 2 == 1 )); then first=$theirs; second=$ours; fi
        hyperfine -N --style none --output=pipe --warmup 0 --runs 1 --export-json "$json" "$first" "$second" >&2
        python3 - "$json" "$ours" >> "$work/pair.txt" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
times = {r["command"]: r["median"] for r in results}
sluice = times.pop(sys.argv[2])
print(list(times.values())[0] / sluice)
PY
    done
    paired=$(sort -g "$work/pair.txt" | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    say "$tool paired ratio $paired"
}

# reference TOOL CODE: sluice's command: its answer is the one peers must give; also records its peak RSS.
reference() {
    local tool=$1 code=$2
    probe "$code"
    [ "$probe_status" = 0 ] || die "$tool failed (exit $probe_status): $(head -c 300 "$work/probe.err")"
    expected=$($normaliser "$work/probe.out")
    [ -n "$expected" ] || die "$tool printed no answer: $(head -c 300 "$work/probe.out")"
    say "$tool answers $(head -c 120 "$work/probe.out" | head -n 3 | tr '\n' ' ')"
    local rss=""
    if /usr/bin/time -f %M -o "$work/rss.txt" bash -c "exec $code" > /dev/null 2>&1; then
        rss=$(tail -n 1 "$work/rss.txt")
    fi
    measure "$tool" "$code"
    sluice_median=$median
    sluice_code=$code
    paired=""
    record "$tool" sluice "reference" "$rss"
}

# peer TOOL NEEDS CODE: a tool answering the same question; skipped when NEEDS is not installed, excluded
# when its answer differs.
peer() {
    local tool=$1 needs=$2 code=$3 got
    median=""; minimum=""; maximum=""; runs=""; paired=""
    if [ -n "$needs" ] && ! have "$needs"; then record "$tool" peer "skipped: $needs not installed"; return; fi
    probe "$code"
    if [ "$probe_status" != 0 ]; then
        say "$tool FAILED (exit $probe_status), excluded: $(head -c 200 "$work/probe.err")"
        record "$tool" peer "failed (exit $probe_status), excluded"
        return
    fi
    got=$($normaliser "$work/probe.out")
    if [ "$got" != "$expected" ]; then
        say "$tool DISAGREES, excluded: got '$(head -c 100 "$work/probe.out" | head -n 2 | tr '\n' ' ')'"
        record "$tool" peer "differs ($got vs $expected), excluded"
        return
    fi
    measure "$tool" "$code"
    pair "$tool" "$code"
    record "$tool" peer "same"
}

# line_count FILE: the lines of FILE (decoded, for compressed files) as sluice counts them.
line_count() { norm_int <("$SLUICE" grep -c '' "$1"); }

# anchor TOOL NEEDS CODE FILE: a command that reads FILE's bytes but answers another question (a line count). It
# must succeed in every command of its pipeline and print FILE's line count, or it is left out.
anchor() {
    local tool=$1 needs=$2 code=$3 file=$4 got lines
    median=""; minimum=""; maximum=""; runs=""; paired=""
    if [ -n "$needs" ] && ! have "$needs"; then record "$tool" anchor "skipped: $needs not installed"; return; fi
    probe "$code" pipefail
    if [ "$probe_status" != 0 ]; then
        say "$tool FAILED (exit $probe_status), excluded: $(head -c 200 "$work/probe.err")"
        record "$tool" anchor "failed (exit $probe_status), excluded"
        return
    fi
    got=$(awk '{ print $1; exit }' "$work/probe.out"); lines=$(line_count "$file")  # `wc -l` prints "N [path]"
    if [ "$got" != "$lines" ]; then
        say "$tool counted '$got' lines, not $lines: excluded"
        record "$tool" anchor "counted $got lines, not $lines, excluded"
        return
    fi
    measure "$tool" "$code"
    pair "$tool" "$code"
    record "$tool" anchor "anchor (line count checked)"
}

S=$SLUICE
py=$here/python
M=$DATA/$makebig; B=$DATA/$big; G=$DATA/$gz; Z=$DATA/$bz; T=$DATA/$tree

# awk programs, in files so the pipelines need no nested quoting.
cat > "$work/sum-bytes.awk" <<'AWK'
# The tutorial's records end in the bytes field; "-" counts as 0.
{ b = $NF; if (b != "-") s += b }
END { printf "Total %.0f\n", s }
AWK
cat > "$work/count-hosts.awk" <<'AWK'
{ c[$1]++ }
END { for (h in c) print c[h], h }
AWK
cat > "$work/requests-404.awk" <<'AWK'
# Combined log fields: $4-$5 date, $6 "METHOD, $7 request, $8 PROTO", $9 status.
$9 == 404 { seen[$7] = 1 }
END { for (r in seen) print r }
AWK
cat > "$work/sum-counts.awk" <<'AWK'
{ s += $1 }
END { printf "%.0f\n", s }
AWK
cat > "$work/goaccess-hosts.awk" <<'AWK'
# goaccess -o csv: "idx",,"hosts","hits",...,"host" for the hosts panel, in CRLF lines.
$3 == "\"hosts\"" { gsub(/"/, "", $4); gsub(/["\r]/, "", $NF); print $4, $NF }
AWK
goaccess_panels=""
for panel in VISITORS REQUESTS REQUESTS_STATIC NOT_FOUND OS BROWSERS VISIT_TIMES VIRTUAL_HOSTS REFERRERS \
             REFERRING_SITES KEYPHRASES STATUS_CODES REMOTE_USER CACHE_STATUS GEO_LOCATION MIME_TYPE TLS_TYPE; do
    goaccess_panels="$goaccess_panels --ignore-panel=$panel"
done

# MARK: - Workloads

begin sum "sum bytes — $makebig" norm_int "$M"
reference sluice "$S sum bytes $M"
anchor "wc -l" wc "wc -l $M" "$M"
peer mawk mawk "mawk -f $work/sum-bytes.awk $M"
peer gawk gawk "gawk -f $work/sum-bytes.awk $M"
peer "python (generators)" python3 "python3 $py/sum_bytes.py $M"

begin grep "grep -c 'ply-.*\\.gz' — $makebig" norm_int "$M"
reference sluice "$S grep -c 'ply-.*\\.gz' $M"
peer "rg -c" rg "rg -c 'ply-.*\\.gz' $M"
peer "grep -E -c" grep "grep -E -c 'ply-.*\\.gz' $M"
peer "python (generators)" python3 "python3 $py/grep_count.py 'ply-.*\\.gz' $M"

begin grep-print "grep GET — $makebig, printing almost every line" norm_lines "$M"
reference sluice "$S grep GET $M"
peer "rg" rg "rg --no-filename --no-line-number GET $M"
peer "grep" grep "grep GET $M"

begin pipe-sum "sum bytes — $makebig through a pipe (cat |)" norm_int "$M"
reference sluice "cat $M | $S sum bytes"
anchor "cat | wc -l" wc "cat $M | wc -l" "$M"
peer "cat | mawk" mawk "cat $M | mawk -f $work/sum-bytes.awk"

begin pipe-grep "grep -c 'ply-.*\\.gz' — $makebig through a pipe (cat |)" norm_int "$M"
reference sluice "cat $M | $S grep -c 'ply-.*\\.gz'"
peer "cat | rg -c" rg "cat $M | rg -c 'ply-.*\\.gz'"

begin top "top host -k 10 — $big" norm_lines "$B"
reference sluice "$S top host -k 10 $B"
anchor "wc -l" wc "wc -l $B" "$B"
peer "mawk + sort" mawk "mawk -f $work/count-hosts.awk $B | sort -k1,1nr -k2,2 | head -n 10"
peer "gawk + sort" gawk "gawk -f $work/count-hosts.awk $B | sort -k1,1nr -k2,2 | head -n 10"
peer "goaccess (hosts panel only, CSV)" goaccess \
    "goaccess $B --log-format=COMBINED --no-global-config --no-progress --no-parsing-spinner$goaccess_panels -o csv | awk -F, -f $work/goaccess-hosts.awk | sort -k1,1nr -k2,2 | head -n 10"

begin distinct "distinct request --where status=404 — $big" norm_lines "$B"
reference sluice "$S distinct request --where status=404 $B"
anchor "wc -l" wc "wc -l $B" "$B"
peer "mawk + sort" mawk "mawk -f $work/requests-404.awk $B | sort"
peer "gawk + sort" gawk "gawk -f $work/requests-404.awk $B | sort"

begin gzip "sum bytes — $gz" norm_int "$G"
reference sluice "$S sum bytes $G"
anchor "igzip -dc | wc -l" igzip "igzip -dc $G | wc -l" "$G"
anchor "zcat | wc -l" zcat "zcat $G | wc -l" "$G"

begin bzip2 "sum bytes — $bz" norm_int "$Z"
reference sluice "$S sum bytes $Z"
anchor "lbzip2 -n2 -dc | wc -l" lbzip2 "lbzip2 -n2 -dc $Z | wc -l" "$Z"
anchor "bzcat | wc -l" bzcat "bzcat $Z | wc -l" "$Z"

begin bzip2-stdin "sum bytes — $bz from standard input" norm_int "$Z"
reference sluice "$S sum bytes < $Z"
anchor "lbzip2 -n2 -dc < | wc -l" lbzip2 "lbzip2 -n2 -dc < $Z | wc -l" "$Z"
peer "sluice --sequential-bzip2 <" "" "$S sum bytes --sequential-bzip2 < $Z"

begin tree "count — $tree ($TREE_FILES files)" norm_int "$T"
reference sluice "$S count $T"
peer "rg -c . | awk sum" rg "rg -c . --no-filename $T | awk -f $work/sum-counts.awk"
peer "find | xargs cat | wc -l" find "find $T -type f -print0 | xargs -0 cat | wc -l"

if [ -x "$TUTORIAL_BIN" ]; then
    begin facade "bytesgen (tutorial facade) — $makebig" norm_int "$M"
    reference "sluice CLI (sum bytes --grep)" "$S sum bytes --grep 'ply-.*\\.gz' $M"
    peer "sluice-tutorial bytesgen" "" "$TUTORIAL_BIN bytesgen $M"
    if [ -f "$py/bytesgen.py" ]; then
        peer "python bytesgen.py" python3 "python3 $py/bytesgen.py $M"
    fi
else
    say "no $TUTORIAL_BIN: facade workload skipped"
fi

# MARK: - Scaling

say "== scaling with input size"
scale_runs=3; [ "$QUICK" = 1 ] && scale_runs=2
scale_time() { # table row column code
    counter=$((counter + 1))
    local json=$work/run-$counter.json
    hyperfine -N --style basic --output=pipe --warmup 1 --runs "$scale_runs" --export-json "$json" \
        --command-name "$3" "$4" >&2
    local stats
    read -r -a stats < <(hyperfine_stats "$json")
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${stats[0]}" >> "$scaling"
}
for size in $SCALE_SIZES; do
    f=$DATA/combined-$size.log
    reread "$f"
    bytes=$(stat -c %s "$f")
    printf 'size\t%s\tbytes\t%s\n' "$size" "$bytes" >> "$scaling"
    scale_time size "$size" "sum bytes" "$S sum bytes $f"
    scale_time size "$size" "top host -k 10" "$S top host -k 10 $f"
done

say "== scaling with threads"
for threads in 1 2; do
    scale_time threads "sum bytes, $BIG log" "$threads" "$S sum bytes --threads $threads $B"
    scale_time threads "top host -k 10, $BIG log" "$threads" "$S top host -k 10 --threads $threads $B"
    scale_time threads "sum bytes, $GZ .gz" "$threads" "$S sum bytes --threads $threads $G"
    scale_time threads "sum bytes, $BZ .bz2" "$threads" "$S sum bytes --threads $threads $Z"
    scale_time threads "count, $TREE_FILES-file tree" "$threads" "$S count --threads $threads $T"
done

# MARK: - Report

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(python3 -c "print(round(($EPOCHREALTIME - $started) / 60, 1))")
version() { "$@" 2>&1 | head -n 1 | tr -d '\r' || true; }
{
    echo "machine_cpus=$(nproc)"
    echo "machine_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "machine_memory=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "machine_kernel=$(uname -sr)"
    echo "load_start=$load_start"
    echo "load_end=$load_end"
    echo "elapsed=$elapsed"
    echo "mode=$([ "$QUICK" = 1 ] && echo "quick (QUICK=1)" || echo full)"
    echo "runs=$RUNS"
    echo "commit=$commit"
    echo "binary=$SLUICE"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "v_hyperfine=$(version hyperfine --version)"
    echo "v_mawk=$(version mawk -W version)"
    echo "v_gawk=$(version gawk --version)"
    echo "v_rg=$(version rg --version)"
    echo "v_grep=$(version grep --version)"
    echo "v_goaccess=$(version goaccess --version)"
    echo "v_igzip=$(version igzip --version)"
    echo "v_zcat=$(version gzip --version)"
    echo "v_lbzip2=$(version lbzip2 --version)"
    echo "v_bzip2=$(bzip2 --help 2>&1 | head -n 1)"
    echo "v_python=$(version python3 --version)"
} > "$work/meta.txt"

mkdir -p "$(dirname "$OUT")"
python3 - "$rows" "$scaling" "$inputs" "$work/meta.txt" > "$OUT" <<'PY'
import os, sys

rows_path, scaling_path, inputs_path, meta_path = sys.argv[1:5]
meta = dict(line.rstrip("\n").split("=", 1) for line in open(meta_path) if "=" in line)

def seconds(text):
    return float(text) if text else None

def fmt(value):
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 10 else f"{value:.2f}" if value < 100 else f"{value:.1f}"

out = []
w = out.append
w("# Sluice against its peers: whole commands")
w("")
w(f"Generated by `Perf/compare.sh` ({meta['mode']}) on {meta['date']}, sluice at commit {meta['commit']} "
  f"(`{meta['binary']}`); the run took {meta['elapsed']} minutes.")
w("")
w("## Machine")
w("")
w(f"- {meta['machine_cpus']} CPUs: {meta['machine_cpu']}; {meta['machine_memory']} of memory; {meta['machine_kernel']}.")
w(f"- Shared and noisy: load average {meta['load_start']} at the start and {meta['load_end']} at the end "
  "(1, 5 and 15 minutes). No hardware performance counters.")
w("- Tools: " + "; ".join(meta[k] for k in sorted(meta) if k.startswith("v_") and meta[k]) + ".")
w("")
w("## Method")
w("")
w("- Each command's answer is checked against sluice's first (outputs normalised: the integer of `Total N` "
  "or `N`; whitespace-insensitive lines for lists). A peer that disagrees or fails is listed and not timed.")
w("  Anchors answer another question (`wc -l`, decompress and count) and show how fast the bytes can be read at all.")
w(f"- Times are hyperfine medians (`hyperfine -N`, no shell; pipelines run as `bash FILE`), page cache warm "
  "(each workload first drops its input from the page cache and reads it once with `cat`, so that every workload "
  "starts from the cache a sequential read leaves), "
  f"`LC_ALL=C` for every tool, output into a pipe (`--output=pipe`: GNU grep stops at the first match when its "
  f"output is /dev/null). Fast commands get 1 warm-up and {meta['runs']} runs; commands over 3 s get "
  "3 runs, over 15 s one run, and over 60 s only the checking run is timed, so the whole comparison stays "
  "within about 25 minutes.")
w("- **Ratio** is the tool's median divided by sluice's: above 1, sluice is that many times faster.")
w("- **Paired ratio** is measured again in alternation: rounds that run sluice and the tool once each, one "
  "after the other (which goes first alternates), giving the median of the rounds' ratios. Both sides of a "
  "round see the same load, so it is the steadier figure when this shared machine's speed drifts during a run; "
  "commands over 15 s are not paired.")
w("- Peak RSS is sluice's maximum resident set (`/usr/bin/time -f %M`) in one extra run.")
w("")
w("## Inputs")
w("")
w("| Input | Size | Path |")
w("| --- | ---: | --- |")
for line in open(inputs_path):
    label, path = line.rstrip("\n").split("\t")
    if os.path.isdir(path):
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    else:
        size = os.path.getsize(path)
    w(f"| {label} | {size / 2**20:,.1f} MiB | `{path}` |")
w("")
w("## Results")
w("")
w("| Workload | Tool | Median (s) | Min–max (s) | Runs | Ratio (tool ÷ sluice) | Paired ratio | Answer | sluice peak RSS |")
w("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
reference = None
title = current = ""
notes = []

def cell(text):
    return text.replace("|", "\\|")

def labels_of(rows):
    """The rows' labels (second column), each once, in first-seen order."""
    return list(dict.fromkeys(r[1] for r in rows))

for line in open(rows_path):
    parts = line.rstrip("\n").split("\t")
    if parts[0] == "#":
        title = current = parts[2]
        reference = None
        continue
    _, tool, kind, median, low, high, runs, answer, rss, paired = (parts + [""])[:10]
    median, low, high = seconds(median), seconds(low), seconds(high)
    if kind == "sluice":
        reference = median
    ratio = "—"
    if median is not None and reference:
        ratio = "**1**" if kind == "sluice" else f"{median / reference:.2f}×"
    rss_text = f"{int(rss) / 1024:,.0f} MiB" if rss else ""
    span = f"{fmt(low)}–{fmt(high)}" if low is not None else "—"
    if "excluded" in answer or "skipped" in answer or "failed" in answer:
        notes.append(f"- {current}: **{tool}** {answer}.")
    paired_text = "**1**" if kind == "sluice" else (f"{float(paired):.2f}×" if paired else "—")
    w(f"| {cell(title)} | {cell(tool)} | {fmt(median)} | {span} | {runs or '—'} | {ratio} | {paired_text} | {cell(answer)} | {rss_text} |")
    title = ""
w("")
if notes:
    w("Peers left out:")
    w("")
    out.extend(notes)
    w("")

scaling = [line.rstrip("\n").split("\t") for line in open(scaling_path)]
sizes = [r for r in scaling if r[0] == "size"]
if sizes:
    w("## Scaling with input size")
    w("")
    w("Generated combined logs (seed 7), default threads; medians of hyperfine runs.")
    w("")
    w("| Input | Bytes | sum bytes (s) | sum bytes (MB/s) | top host -k 10 (s) | top host (MB/s) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label in labels_of(sizes):
        cells = {r[2]: r[3] for r in sizes if r[1] == label}
        size = int(cells["bytes"])
        s, t = float(cells["sum bytes"]), float(cells["top host -k 10"])
        w(f"| {label} | {size:,} | {fmt(s)} | {size / s / 1e6:,.0f} | {fmt(t)} | {size / t / 1e6:,.0f} |")
    w("")
threads = [r for r in scaling if r[0] == "threads"]
if threads:
    w("## Scaling with threads")
    w("")
    w("| Command | --threads 1 (s) | --threads 2 (s) | Speed-up |")
    w("| --- | ---: | ---: | ---: |")
    for label in labels_of(threads):
        cells = {r[2]: float(r[3]) for r in threads if r[1] == label}
        one, two = cells.get("1"), cells.get("2")
        w(f"| {cell(label)} | {fmt(one)} | {fmt(two)} | {one / two:.2f}× |")
    w("")
print("\n".join(out))
PY
say "report written to $OUT"
cat "$OUT"
