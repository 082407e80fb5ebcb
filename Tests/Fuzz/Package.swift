// swift-tools-version: 6.0
// Coverage-guided fuzz targets (libFuzzer, through swiftc's -sanitize=fuzzer) for the parsers
// that read untrusted bytes. Not part of the main package: `make fuzz` builds this package with
// `-sanitize=fuzzer,address` and runs each target (tools/fuzz.sh,
// docs/reliability.md). Seed corpora: corpus/<target>/.
import PackageDescription

let package = Package(
    name: "fervid-fuzz",
    dependencies: [.package(name: "fervid", path: "../..")],
    targets: [
        .executableTarget(name: "fuzz-safetensors", dependencies: [.product(name: "FervidKit", package: "fervid")],
                          path: "safetensors"),
        .executableTarget(name: "fuzz-boxes", dependencies: [.product(name: "FervidKit", package: "fervid")],
                          path: "boxes"),
        .executableTarget(name: "fuzz-timeline", dependencies: [.product(name: "FervidKit", package: "fervid")],
                          path: "timeline"),
        .executableTarget(name: "fuzz-metadata", dependencies: [.product(name: "FervidKit", package: "fervid")],
                          path: "metadata"),
    ],
    swiftLanguageModes: [.v6]
)
