import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The package root: the nearest directory above this file holding Package.swift.
func packageRoot(from file: String = #filePath) -> URL {
    var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}

/// The `fervid` binary under test: `FERVID_BIN` (set by `make test`), else the package's
/// `.build/release/fervid`, else `.build/debug/fervid`. Missing, it fails the calling test with
/// the fix rather than letting it pass.
func fervidBinary(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["FERVID_BIN"], !env.isEmpty {
        candidates = [env]
    } else {
        let root = packageRoot()
        candidates = ["release", "debug"].map { root.appendingPathComponent(".build/\($0)/fervid").path }
    }
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
    Issue.record("""
        the fervid binary is not built (looked for \(candidates.joined(separator: ", "))): \
        run `make test`, or `swift build -c release --product fervid` first, or set FERVID_BIN
        """, sourceLocation: sourceLocation)
    return nil
}

/// The sample videos (`FERVID_SAMPLES`, else the package's `samples/`). `make samples` fetches them.
func samplePath(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let dir = ProcessInfo.processInfo.environment["FERVID_SAMPLES"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        ?? packageRoot().appendingPathComponent("samples")
    let path = dir.appendingPathComponent(name).path
    guard FileManager.default.fileExists(atPath: path) else {
        Issue.record("sample \(path) is missing: run `make samples`", sourceLocation: sourceLocation)
        return nil
    }
    return path
}

let sampleNames = ["WolfgangLanger_Pexels.mp4", "single_face.mp4", "no_face.mp4"]

/// What a finished command printed.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// Runs `executable args…` to completion (a bare name is looked up on PATH), capturing both outputs.
func run(_ executable: String, _ args: [String]) throws -> CommandResult {
    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + args
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let errBox = DataBox()
    let errThread = Thread { errBox.set(err.fileHandleForReading.readDataToEndOfFile()) }
    errThread.start()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errBox.done { usleep(1000) }
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: errBox.data, as: UTF8.self))
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    func set(_ d: Data) { lock.lock(); _data = d; _done = true; lock.unlock() }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
    var data: Data { lock.lock(); defer { lock.unlock() }; return _data }
}

/// ffprobe's `key=value` lines for `entries` of the first video stream (or the format).
func ffprobe(_ path: String, _ entries: String, extra: [String] = []) throws -> [String: String] {
    let result = try run("ffprobe", ["-v", "error", "-select_streams", "v:0"] + extra
        + ["-show_entries", entries, "-of", "default=noprint_wrappers=1", path])
    var fields: [String: String] = [:]
    for line in result.stdout.split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
        if kv.count == 2 { fields[kv[0]] = kv[1] }
    }
    return fields
}

func temporaryPath(_ suffix: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("fervid-cli-\(UUID().uuidString)\(suffix)").path
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: addr.sin_port)
}
