import Faces
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

struct MissingFixture: Error, CustomStringConvertible {
    let description: String
}

private func locate(env: String, folder: String, file: String, hint: String) throws -> String {
    let dir = ProcessInfo.processInfo.environment[env].flatMap { $0.isEmpty ? nil : $0 }
        ?? packageRoot().appendingPathComponent(folder).path
    let path = dir + "/" + file
    guard FileManager.default.fileExists(atPath: path) else {
        throw MissingFixture(description: "\(path) is missing: run `\(hint)` first (or set \(env))")
    }
    return path
}

/// `NAME.safetensors` from $FERVID_MODELS, else `<package root>/models/`.
func modelPath(_ name: String) throws -> String {
    try locate(env: "FERVID_MODELS", folder: "models", file: name + ".safetensors", hint: "make models")
}

/// A sample video from $FERVID_SAMPLES, else `<package root>/samples/`.
func samplePath(_ name: String) throws -> String {
    try locate(env: "FERVID_SAMPLES", folder: "samples", file: name, hint: "make samples")
}

/// A golden file shared with ModelsTests (Tests/ModelsTests/Golden), decoded.
func golden<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let url = packageRoot().appendingPathComponent("Tests/ModelsTests/Golden/\(name).json")
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

/// Decodes `sample` with the ffmpeg CLI to packed RGB (the same command as
/// tools/make_face_golden.py, so both sides see identical pixels) and calls `body` per frame,
/// streaming. `only`: a single frame index (ffmpeg's select filter), else every frame.
func decodeFrames(_ sample: String, width: Int, height: Int, only: Int? = nil,
                  _ body: (Int, RGBImage) throws -> Void) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    var args = ["ffmpeg", "-v", "error", "-nostdin", "-i", try samplePath(sample)]
    if let only { args += ["-vf", "select=eq(n\\,\(only))", "-vframes", "1"] }
    p.arguments = args + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let size = width * height * 3
    var index = 0
    var buffer = Data()
    while true {
        let chunk = out.fileHandleForReading.readData(ofLength: size - buffer.count)
        if chunk.isEmpty { break }
        buffer.append(chunk)
        if buffer.count == size {
            try body(only ?? index, RGBImage(width: width, height: height, pixels: [UInt8](buffer)))
            buffer.removeAll(keepingCapacity: true)
            index += 1
        }
    }
    p.waitUntilExit()
    guard p.terminationStatus == 0, buffer.isEmpty else {
        throw MissingFixture(description: "ffmpeg failed on \(sample) (status \(p.terminationStatus), \(buffer.count) stray bytes)")
    }
}

func decodeFrame(_ sample: String, index: Int, width: Int, height: Int) throws -> RGBImage {
    var image: RGBImage?
    try decodeFrames(sample, width: width, height: height, only: index) { _, img in image = img }
    guard let image else { throw MissingFixture(description: "\(sample): no frame \(index)") }
    return image
}
