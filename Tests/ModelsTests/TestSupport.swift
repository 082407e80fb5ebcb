import CNN
import Foundation
import Testing

/// The package root: the nearest folder above this file holding Package.swift.
func packageRoot(_ file: String = #filePath) -> URL {
    var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}

/// `NAME.safetensors` from $FERVID_MODELS, else `<package root>/models/`; a clear failure if absent.
func modelPath(_ name: String) throws -> String {
    let dir = ProcessInfo.processInfo.environment["FERVID_MODELS"].flatMap { $0.isEmpty ? nil : $0 }
        ?? packageRoot().appendingPathComponent("models").path
    let path = dir + "/" + name + ".safetensors"
    guard FileManager.default.fileExists(atPath: path) else {
        Issue.record("\(path) is missing: run `make models` first (or set FERVID_MODELS)")
        throw CancellationError()
    }
    return path
}

/// A committed golden file (Tests/ModelsTests/Golden), decoded.
func golden<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Golden") else {
        Issue.record("golden file \(name).json missing from the test bundle")
        throw CancellationError()
    }
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    return zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}
