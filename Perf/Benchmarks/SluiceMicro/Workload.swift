import Benchmark
import Sluice
#if canImport(Glibc)
import Glibc
#endif

/// Log bytes (decoded) per second, in MB/s (10^6 bytes). Custom because the built-in `.throughput` metric counts
/// iterations per second, rounded to an integer, which says nothing about bytes and is coarse for long runs.
let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// CPU time of the whole process (`CLOCK_PROCESS_CPUTIME_ID`, all threads) for one run of the query, in
/// microseconds: the least of the iteration's runs. It moves less than wall clock when other work competes for
/// the cores, and the least of a few runs filters out most of the rest, so it is the metric regressions are
/// gated on. (The built-in `.cpuTotal` counts scheduler ticks of 10 ms, too coarse for these runs.)
let cpuMicroseconds = BenchmarkMetric.custom("CPU time (us)", polarity: .prefersSmaller, useScalingFactor: false)

/// One query over one input, compiled once and run `repeats` times per benchmark iteration. The engine is reused
/// (it resets its aggregates after each run), so an iteration measures what runs cost, not what compiling the
/// query costs. Wall clock and malloc counts cover the whole iteration; CPU time and MB/s are those of its best
/// run, the usual defence of a benchmark against noise that only ever adds time.
final class Workload {
    let name: String
    let engine: Engine
    let inputs: [InputSpec]
    let logBytes: Int
    let repeats: Int
    /// The first run's answer; every later run must give the same one.
    private var expected: (Answer, Int64)?

    init(_ name: String, _ input: InputFile, _ query: Query, _ options: ExecutionOptions, repeats: Int) throws {
        self.name = name
        engine = try Engine(query: query, options: options)
        inputs = [.file(input.path)]
        logBytes = input.logBytes
        self.repeats = repeats
    }

    /// Runs the query `repeats` times, records the best CPU time and MB/s, and stops the benchmark if an answer
    /// changed or an input failed.
    func run(_ benchmark: Benchmark) {
        var bestWall = Int.max, bestCPU = Int.max
        for _ in 0..<repeats {
            var start = timespec(), cpuStart = timespec(), end = timespec(), cpuEnd = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuStart)
            clock_gettime(CLOCK_MONOTONIC, &start)
            let report: RunReport
            do {
                report = try engine.run(inputs)
            } catch {
                fatalError("\(name): \(error)")
            }
            clock_gettime(CLOCK_MONOTONIC, &end)
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuEnd)
            bestWall = min(bestWall, Workload.nanoseconds(start, end))
            bestCPU = min(bestCPU, Workload.nanoseconds(cpuStart, cpuEnd))
            if let error = report.errors.first { fatalError("\(name): \(error)") }
            if let expected {
                precondition(expected.0 == report.answer && expected.1 == report.selected, "\(name): the answer changed")
            } else {
                expected = (report.answer, report.selected)
            }
            blackHole(report)
        }
        benchmark.measurement(cpuMicroseconds, bestCPU / 1_000)
        if bestWall > 0 {
            benchmark.measurement(megabytesPerSecond, Int((Double(logBytes) * 1_000 / Double(bestWall)).rounded()))
        }
    }

    private static func nanoseconds(_ start: timespec, _ end: timespec) -> Int {
        (end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec)
    }
}
