// swift-tools-version: 6.0
import PackageDescription

// Module layout: docs/architecture.md. Dependencies point downward only:
// fervid -> (Analysis, Corpus) ; Analysis -> (Video, Faces, Timeline, Models) ; Corpus -> Timeline ; Faces -> (Models, CNN, CKernels, Timeline) ;
// Models -> CNN -> (CKernels, CBLAS) ; (Video, Timeline, Faces) -> Geometry.
// The static runtime is what the Makefile builds (it exports FERVID_STATIC_RUNTIME=1): a plain
// `swift build` links the shared runtime, which is what the sanitizers need — ThreadSanitizer
// aborts at start-up in the static Foundation (its environment read frees memory that TSan's
// allocator never handed out: "CHECK failed: sanitizer_allocator_secondary.h:297").
let staticRuntime = Context.environment["FERVID_STATIC_RUNTIME"] == "1"

let package = Package(
    name: "fervid",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fervid", targets: ["fervid"]),
        .library(name: "FervidKit", targets: ["Analysis", "Video", "Faces", "Timeline", "Models", "CNN", "Geometry"]),
        // The service (`fervid serve`): its own binary, so that the analysis-only build (`make run`)
        // does not compile the server stack (docs/serve.md, "Build cost").
        .executable(name: "fervid-serve", targets: ["fervid-serve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The service's stack (FervidServe only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        // The engine's own SGEMM (C: per-function AVX2/AVX-512 targets, chosen at run time).
        .target(name: "CKernels"),
        .target(name: "CNN", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Models", dependencies: ["CNN"]),
        // The rectangles every module shares: `FaceRect` (real, source pixels), `PixelRect` (integer).
        .target(name: "Geometry"),
        .target(name: "Video", dependencies: ["CFFmpeg", "Geometry"]),
        .target(name: "Faces", dependencies: ["CNN", "Models", "CKernels", "Timeline", "Geometry"]),
        .target(name: "Timeline", dependencies: ["Geometry"]),
        // The git commit `fervid --version` prints (tools/build-info.sh records it).
        .target(name: "CBuildInfo"),
        // FMA peak loops for `fervid models bench --peak` (C: per-function AVX2/AVX-512 targets).
        .target(name: "CPeak"),
        .target(name: "Analysis", dependencies: ["Video", "Faces", "Timeline", "Models", "CNN", "CBuildInfo"]),
        // Corpus runs: input expansion (folders, manifests), output layout, shards, `collect`.
        .target(name: "Corpus", dependencies: ["Timeline"]),
        // On Linux the executable carries the Swift runtime and Foundation (`-static-stdlib`), so it
        // needs only Debian's own libraries (FFmpeg, OpenBLAS, libstdc++, libc: `ldd`). Only the link
        // is static: the modules are compiled as usual, so the test bundles (Swift Testing and XCTest
        // exist only as shared libraries) share the build. Compiled against the shared Foundation, the
        // objects do not name the archives the static Foundation needs: they are listed here, the
        // ICU one last (it serves the others).
        .executableTarget(
            name: "fervid",
            dependencies: ["Analysis", "Corpus", "Video", "Faces", "Timeline", "Models", "CNN", "CPeak",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            linkerSettings: staticRuntime ? [
                .unsafeFlags(["-static-stdlib"], .when(platforms: [.linux])),
                .linkedLibrary("CoreFoundation", .when(platforms: [.linux])),
                .linkedLibrary("_FoundationCShims", .when(platforms: [.linux])),
                .linkedLibrary("_FoundationCollections", .when(platforms: [.linux])),
                .linkedLibrary("_FoundationICU", .when(platforms: [.linux])),
            ] : []),
        // `fervid serve`: many live streams in one process (HTTP API, WebSocket/SSE rows, metrics,
        // PostgreSQL, dashboard). docs/serve.md.
        .target(
            name: "FervidServe",
            dependencies: ["Analysis", "Video", "Timeline", "CNN", "CKernels", "Models",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "PostgresNIO", package: "postgres-nio")]),
        .executableTarget(
            name: "fervid-serve",
            dependencies: ["FervidServe", "Analysis", "CNN",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Shared by the test targets: samples, the binary under test, processes, ports, ffprobe.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "CNNTests", dependencies: ["CNN"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "CNN"], resources: [.copy("Golden")]),
        .testTarget(name: "VideoTests", dependencies: ["Video", "TestSupport"]),
        .testTarget(name: "FacesTests", dependencies: ["Faces", "Models", "CNN", "CKernels", "TestSupport"]),
        .testTarget(name: "TimelineTests", dependencies: ["Timeline"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Video", "Faces", "Timeline", "Models", "CNN", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "Timeline", "TestSupport"]),
        .testTarget(name: "ServeTests", dependencies: [
            "FervidServe", "TestSupport",
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "PostgresNIO", package: "postgres-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
