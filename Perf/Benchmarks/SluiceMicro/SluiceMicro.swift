import Benchmark
import Sluice

// Microbenchmarks of Sluice's stages, each driven through the public API (`Engine` over a generated file):
// line scanning, access-log parsing, PCRE2 JIT search, gzip and bzip2 decoding, and aggregation. Every
// benchmark reports wall clock, CPU time, runs per second, MB/s of decoded log bytes, and malloc calls.
//
// Tolerances for `make perf-check`, which compares a run's p90 with the p90 stored in Thresholds/. This is a
// shared 2-core virtual machine: while other builds run, the wall clock p90 of the same code moved by up to 3x
// between two runs, and CPU time (which counts time stolen by the host) by up to 60 %. So each iteration runs its
// query three times and the gate is the best run's CPU time, at 35 % (in the same conditions it moved by 37 %
// at most, bzip2, and all other benchmarks stayed within 35 %); malloc counts (the whole iteration) are nearly deterministic and get a small absolute allowance
// per benchmark (dispatch's worker threads allocate a little, unevenly).
//
// Wall clock, MB/s and runs per second are reported but not gated: wall clock is noise-bound here, and
// package-benchmark 1.38.1 stores the raw p90 of a larger-is-better metric (MB/s, runs per second) but checks the
// polarity-reversed p90 (the raw p10) against it. `make perf-baseline` drops them from the stored thresholds.
// A loss of parallelism shows in wall clock only, so compare `swift package benchmark` tables (or
// Perf/compare.sh's thread table) by eye after changing the scheduling.

/// 35 % on the p90, both ways, for the best run's CPU time.
let cpuTolerance = BenchmarkThresholds(relative: [.p90: 35.0])

/// Benchmarks that use one worker measure a stage per core; the block-parallel bzip2 and merge benchmarks use
/// both cores, which is what they are about.
func configuration(mallocAllowance: Int, maxDuration: Duration) -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.wallClock, cpuMicroseconds, .throughput, megabytesPerSecond, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: maxDuration,
        maxIterations: 40,
        thresholds: [
            cpuMicroseconds: cpuTolerance,
            .mallocCountTotal: BenchmarkThresholds(absolute: [.p90: mallocAllowance]),
        ]
    )
}

/// Registers a benchmark whose setup generates (or finds cached) its input and compiles its query.
func register(_ name: String, mallocAllowance: Int, maxDuration: Duration = .seconds(4), repeats: Int = 3,
              input: @escaping () throws -> InputFile, query: Query, options: ExecutionOptions) {
    Benchmark(name, configuration: configuration(mallocAllowance: mallocAllowance, maxDuration: maxDuration)) {
        benchmark, workload in
        workload.run(benchmark)
    } setup: {
        try Workload(name, try input(), query, options, repeats: repeats)
    }
}

// Inputs. Sizes keep one run between about 15 and 350 ms on one core, so a few seconds collect enough
// iterations for a usable p90.
let common64 = GeneratorOptions(size: 64 << 20, format: .common, seed: 11)
let combined64 = GeneratorOptions(size: 64 << 20, format: .combined, seed: 7)
let common16 = GeneratorOptions(size: 16 << 20, format: .common, seed: 11)
let combined32 = GeneratorOptions(size: 32 << 20, format: .combined, seed: 7)
/// bzip2 decodes only about 8 MB/s of these logs per core, so its input is small.
let combined4 = GeneratorOptions(size: 4 << 20, format: .combined, seed: 7)
/// Many distinct hosts, so each worker's table is large and merging the two is real work.
let manyHosts = GeneratorOptions(size: 32 << 20, format: .combined, seed: 13, hosts: 4_000_000)

/// The tutorial's record pattern with named groups, as a `regex:` format.
let tutorialPattern = #"(?<host>\S+) (?<ident>\S+) (?<user>\S+) \[(?<datetime>.*?)\] "(?<method>\S+) (?<request>\S+) (?<proto>\S+)" (?<status>\S+) (?<bytes>\S+)"#

let oneWorker = ExecutionOptions(threads: 1)
let twoWorkers = ExecutionOptions(threads: 2)

let benchmarks: @Sendable () -> Void = {
    // Line scanning: a literal that never occurs, so the run is chunking, the SIMD literal filter and newline
    // counting: the closest the public API gets to `wc -l`.
    register("LineScan_absentLiteral", mallocAllowance: 8,
             input: { try Inputs.file(common64, .plain) },
             query: Query(operation: .grep("sluice-absent-literal", countOnly: true)), options: oneWorker)

    // Parsing: the access-log scanner on every line, summing bytes.
    register("ParseCommon_sumBytes", mallocAllowance: 8,
             input: { try Inputs.file(common64, .plain) },
             query: Query(format: .common, operation: .sum("bytes")), options: oneWorker)
    register("ParseCombined_sumBytes", mallocAllowance: 8,
             input: { try Inputs.file(combined64, .plain) },
             query: Query(format: .combined, operation: .sum("bytes")), options: oneWorker)

    // PCRE2 JIT: the tutorial's grep (literal prefix `ply-` first, then the regex), the same pattern without a
    // usable prefix (the regex searches every chunk itself), and the tutorial's record regex as a format.
    register("PCRE2_grepTutorial", mallocAllowance: 8,
             input: { try Inputs.file(common64, .plain) },
             query: Query(operation: .grep(#"ply-.*\.gz"#, countOnly: true)), options: oneWorker)
    register("PCRE2_grepNoPrefix", mallocAllowance: 8,
             input: { try Inputs.file(common64, .plain) },
             query: Query(operation: .grep(#"[Pp]ly-.*\.gz"#, countOnly: true)), options: oneWorker)
    register("PCRE2_regexFormat_sumBytes", mallocAllowance: 8,
             input: { try Inputs.file(common16, .plain) },
             query: Query(format: .regex(tutorialPattern), operation: .sum("bytes")), options: oneWorker)

    // gzip: the same file through ISA-L and through zlib (a decoder thread feeding one worker).
    var zlib = oneWorker
    zlib.gzipDecoder = .zlib
    register("Gzip_ISAL_sumBytes", mallocAllowance: 16,
             input: { try Inputs.file(combined32, .gzip) },
             query: Query(format: .combined, operation: .sum("bytes")), options: oneWorker)
    register("Gzip_zlib_sumBytes", mallocAllowance: 16,
             input: { try Inputs.file(combined32, .gzip) },
             query: Query(format: .combined, operation: .sum("bytes")), options: zlib)

    // bzip2: sequential decoding on one worker, and block-parallel decoding on two.
    var sequential = oneWorker
    sequential.parallelBzip2 = false
    register("BZip2_sequential_sumBytes", mallocAllowance: 8, maxDuration: .seconds(8),
             input: { try Inputs.file(combined4, .bzip2) },
             query: Query(format: .combined, operation: .sum("bytes")), options: sequential)
    register("BZip2_blockParallel_sumBytes", mallocAllowance: 16, maxDuration: .seconds(6),
             input: { try Inputs.file(combined4, .bzip2) },
             query: Query(format: .combined, operation: .sum("bytes")), options: twoWorkers)

    // Aggregation: a per-value table on one worker, and two workers' large tables merged (many hosts, small
    // chunks, so both workers see most of them).
    register("Aggregate_topHost", mallocAllowance: 16,
             input: { try Inputs.file(combined64, .plain) },
             query: Query(format: .combined, operation: .top("host", k: 10)), options: oneWorker)
    register("AggregateMerge_distinctHosts_2workers", mallocAllowance: 512,
             input: { try Inputs.file(manyHosts, .plain) },
             query: Query(format: .combined, operation: .distinct("host", withCounts: true)),
             options: ExecutionOptions(threads: 2, chunkSize: 256 << 10))
}
