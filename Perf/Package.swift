// swift-tools-version:6.1
import PackageDescription

/// Sluice's benchmark suite: microbenchmarks of the engine's stages through the public `Sluice` API, run with
/// ordo-one/benchmark (`swift package benchmark`), with p90 thresholds stored in `Thresholds/`. The
/// whole-command comparison against other tools is `compare.sh`, which needs no Swift beyond the release CLI.
let package = Package(
    name: "SluicePerf",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sluice", path: ".."),
        // MallocInterposer gives the malloc metrics; naming it alone also leaves out the runtime interposer
        // trait, whose package is not needed here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SluiceMicro",
            dependencies: [
                .product(name: "Sluice", package: "Sluice"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SluiceMicro",
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
