// swift-tools-version:6.0
import PackageDescription

/// Sluice: a parallel log ingestion engine. The C libraries (PCRE2, zlib, libbz2, ISA-L) are reached through
/// one thin shim module each under `CShims/`; all engine logic lives in the `Sluice` library.
let package = Package(
    name: "Sluice",
    products: [
        .library(name: "Sluice", targets: ["Sluice"]),
        .executable(name: "sluice", targets: ["SluiceCLI"]),
        .executable(name: "sluice-tutorial", targets: ["Tutorial"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CPCRE2", path: "CShims/CPCRE2", linkerSettings: [.linkedLibrary("pcre2-8")]),
        .target(name: "CZlib", path: "CShims/CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CBZip2", path: "CShims/CBZip2", linkerSettings: [.linkedLibrary("bz2")]),
        .target(name: "CISAL", path: "CShims/CISAL", linkerSettings: [.linkedLibrary("isal")]),
        .target(name: "CSysGuard", path: "CShims/CSysGuard"),
        .target(name: "CByteScan", path: "CShims/CByteScan"),
        .target(name: "CInotify", path: "CShims/CInotify"),
        .target(
            name: "Sluice",
            dependencies: ["CPCRE2", "CZlib", "CBZip2", "CISAL", "CSysGuard", "CByteScan", "CInotify"],
            path: "Sources/Sluice"
        ),
        .executableTarget(
            name: "SluiceCLI",
            dependencies: ["Sluice", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/SluiceCLI"
        ),
        .executableTarget(name: "Tutorial", dependencies: ["Sluice"], path: "Sources/Tutorial"),
        .testTarget(
            name: "SluiceTests",
            dependencies: ["Sluice", "SluiceCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tests/SluiceTests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
