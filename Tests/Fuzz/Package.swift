// swift-tools-version: 6.0
// Coverage-guided fuzz targets (libFuzzer, through swiftc's -sanitize=fuzzer) for the parsers
// that read untrusted bytes. Not part of the main package: `make fuzz` builds this package with
// `-sanitize=fuzzer,address` and runs each target (tools/fuzz.sh,
// docs/reliability.md). Seed corpora: corpus/<target>/.
import PackageDescription

/// One target: `<name>/main.swift`, built as `fuzz-<name>`, on the shared driver.
func fuzzTarget(_ name: String) -> Target {
    .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzDriver", .product(name: "FervidKit", package: "fervid")],
                      path: name)
}

let package = Package(
    name: "fervid-fuzz",
    dependencies: [.package(name: "fervid", path: "../..")],
    // libFuzzer's driver loop, shared by every target (each main.swift ends in runFuzzer(entry)).
    targets: [.target(name: "FuzzDriver", path: "driver")]
        + ["safetensors", "boxes", "timeline", "metadata"].map(fuzzTarget),
    swiftLanguageModes: [.v6]
)
