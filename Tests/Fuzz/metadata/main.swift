// libFuzzer target: the model metadata parsers — DBA-Net's `fervid.*` keys (input size, labels,
// colour, mean/std) and the label → CSV column mapping — on `key=value` lines.
import Foundation
import FuzzDriver
import Models
import Timeline

// Also exported under libFuzzer's name (see FuzzDriver).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzMetadata(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    guard let text = String(data: Data(bytes: data, count: size), encoding: .utf8) else { return 0 }
    var metadata: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        metadata[String(line[..<eq])] = String(line[line.index(after: eq)...])
    }
    if let meta = try? DBANetMetadata(metadata, source: "fuzz") {
        _ = try? ClassMapping(modelLabels: meta.labels)
        _ = meta.dictionary
    }
    if let labels = metadata["fervid.labels"] {
        _ = try? ClassMapping(modelLabels: labels.split(separator: ",").map(String.init))
    }
    return 0
}

runFuzzer(fuzzMetadata)
