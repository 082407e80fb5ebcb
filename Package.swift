// swift-tools-version: 6.0
import PackageDescription

// Module layout: docs/architecture.md. Dependencies point downward only:
// fervid -> (Analysis, Corpus) ; Analysis -> (Video, Faces, Timeline, Models) ; Corpus -> Timeline ; Faces -> (Models, CNN, CGemm) ;
// Models -> CNN -> (CGemm, CBLAS).
let package = Package(
    name: "fervid",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fervid", targets: ["fervid"]),
        .library(name: "FervidKit", targets: ["Analysis", "Video", "Faces", "Timeline", "Models", "CNN"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        // The engine's own SGEMM (C: per-function AVX2/AVX-512 targets, chosen at run time).
        .target(name: "CGemm"),
        .target(name: "CNN", dependencies: ["CBLAS", "CGemm"]),
        .target(name: "Models", dependencies: ["CNN"]),
        .target(name: "Video", dependencies: ["CFFmpeg"]),
        .target(name: "Faces", dependencies: ["CNN", "Models", "CGemm"]),
        .target(name: "Timeline"),
        // FMA peak loops for `fervid models bench --peak` (C: per-function AVX2/AVX-512 targets).
        .target(name: "CPeak"),
        .target(name: "Analysis", dependencies: ["Video", "Faces", "Timeline", "Models", "CNN"]),
        // Corpus runs: input expansion (folders, manifests), output layout, shards, `collect`.
        .target(name: "Corpus", dependencies: ["Timeline"]),
        .executableTarget(
            name: "fervid",
            dependencies: ["Analysis", "Corpus", "Video", "Faces", "Timeline", "Models", "CNN", "CPeak",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Shared by the test targets: samples, the binary under test, processes, ports, ffprobe.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "CNNTests", dependencies: ["CNN"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "CNN"], resources: [.copy("Golden")]),
        .testTarget(name: "VideoTests", dependencies: ["Video", "TestSupport"]),
        .testTarget(name: "FacesTests", dependencies: ["Faces", "Models", "CNN", "CGemm"]),
        .testTarget(name: "TimelineTests", dependencies: ["Timeline"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Video", "Faces", "Timeline", "Models", "CNN", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "Timeline", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
