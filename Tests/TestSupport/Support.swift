import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The package root: the nearest directory above this file holding Package.swift.
public func packageRoot(from file: String = #filePath) -> URL {
    var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}

/// The sample videos (`FERVID_SAMPLES`, else the package's `samples/`). `make samples` fetches them.
public enum Samples {
    public static let names = ["WolfgangLanger_Pexels.mp4", "single_face.mp4", "no_face.mp4"]

    public static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["FERVID_SAMPLES"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return packageRoot().appendingPathComponent("samples")
    }

    /// The path of sample `name`; records a test failure naming the fix when it is missing.
    public static func path(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let path = directory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("sample \(path) is missing: run `make samples`", sourceLocation: sourceLocation)
            return nil
        }
        return path
    }
}

/// What a finished command printed.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdoutData: Data
    public var stderr: String
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    public var text: String { stdout }
    public var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// Runs `executable args…` to completion (a bare name is looked up on PATH), capturing both outputs.
/// `environment` replaces the child's environment, `currentDirectory` sets its working folder, and
/// `stdin` is written to its standard input (else it reads /dev/null).
public func run(_ executable: String, _ args: [String], environment: [String: String]? = nil,
                currentDirectory: String? = nil, stdin: Data? = nil) throws -> CommandResult {
    let process = Process()
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
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
    let input = stdin.map { _ in Pipe() }
    process.standardInput = input ?? FileHandle.nullDevice
    try process.run()
    if let input, let stdin {
        // Feed standard input on its own thread; a child that stops reading early gets EPIPE
        // (ignored: the child's exit status says what happened).
        signal(SIGPIPE, SIG_IGN)
        Thread {
            try? input.fileHandleForWriting.write(contentsOf: stdin)
            try? input.fileHandleForWriting.close()
        }.start()
    }
    // Drain stderr on another thread so neither pipe can fill and stall the child.
    let errData = DataBox()
    let errThread = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    errThread.start()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errData.done { usleep(1000) }
    return CommandResult(status: process.terminationStatus, stdoutData: stdout,
                         stderr: String(decoding: errData.data, as: UTF8.self))
}

/// `run` for a tool on PATH.
public func runTool(_ tool: String, _ args: [String]) throws -> CommandResult { try run(tool, args) }

public final class DataBox: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    public func set(_ d: Data) { lock.lock(); _data = d; _done = true; lock.unlock() }
    public var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
    public var data: Data { lock.lock(); defer { lock.unlock() }; return _data }
}

/// ffprobe's view of one video stream: the oracle for counts and timestamps.
public struct ProbeOracle {
    public var timeBase: (num: Int, den: Int)
    public var timestamps: [Int64?]
    public var width: Int
    public var height: Int
    public var codec: String
    public var pixelFormat: String
    public var nominalRate: String
    public var averageRate: String

    public init(path: String, streamIndex: Int) throws {
        let stream = try runTool("ffprobe", ["-v", "error", "-select_streams", "\(streamIndex)", "-show_entries",
                                             "stream=time_base,width,height,codec_name,pix_fmt,r_frame_rate,avg_frame_rate",
                                             "-of", "default=noprint_wrappers=1", path])
        var fields: [String: String] = [:]
        for line in stream.text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        let tb = (fields["time_base"] ?? "0/1").split(separator: "/").compactMap { Int($0) }
        timeBase = (tb.first ?? 0, tb.last ?? 1)
        width = Int(fields["width"] ?? "") ?? -1
        height = Int(fields["height"] ?? "") ?? -1
        codec = fields["codec_name"] ?? ""
        pixelFormat = fields["pix_fmt"] ?? ""
        nominalRate = fields["r_frame_rate"] ?? ""
        averageRate = fields["avg_frame_rate"] ?? ""
        // ffprobe decodes every frame; with -v error a damaged file still lists what decoded.
        let frames = try runTool("ffprobe", ["-v", "error", "-select_streams", "\(streamIndex)", "-show_entries",
                                             "frame=best_effort_timestamp", "-of", "csv=p=0", path])
        timestamps = frames.text.split(separator: "\n").map { line in
            Int64(line.trimmingCharacters(in: CharacterSet(charactersIn: ", \r")))
        }
    }
}

/// A server process started with posix_spawn, so the test owns it: stop() kills it by pid and
/// reaps it with waitpid. Its stdin, stdout and stderr are /dev/null.
public final class ServerProcess: @unchecked Sendable {
    public let pid: pid_t
    private var reaped = false

    public init(_ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, arguments[0], &actions, nil, &argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        pid = child
    }

    public func signal(_ sig: Int32) { if !reaped { kill(pid, sig) } }

    /// Kills and reaps the process (idempotent).
    public func stop() {
        guard !reaped else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
    }

    deinit { stop() }
}

/// A port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released).
public func freePort(udp: Bool = false) -> UInt16 {
    let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return UInt16(bigEndian: addr.sin_port)
}

/// Seconds on the monotonic clock.
public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A fresh temporary file path with `suffix`; removed by the caller.
public func temporaryPath(_ suffix: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("fervid-test-\(UUID().uuidString)\(suffix)").path
}

/// The `fervid` binary under test: `FERVID_BIN` (set by `make test`), else the package's
/// `.build/release/fervid`, else `.build/debug/fervid`. Missing, it fails the calling test with
/// the fix rather than letting it pass.
public func fervidBinary(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
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


/// The path of sample `name`; records a test failure naming the fix when it is missing.
public func samplePath(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    Samples.path(name, sourceLocation: sourceLocation)
}

public let sampleNames = Samples.names

/// The shipped models folder: `FERVID_MODELS`, else the package's `models/` (`make models`).
public var modelsDirectory: URL {
    ProcessInfo.processInfo.environment["FERVID_MODELS"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        ?? packageRoot().appendingPathComponent("models")
}

/// ffprobe's `key=value` lines for `entries` of the first video stream (or the format).
public func ffprobe(_ path: String, _ entries: String, extra: [String] = []) throws -> [String: String] {
    let result = try run("ffprobe", ["-v", "error", "-select_streams", "v:0"] + extra
        + ["-show_entries", entries, "-of", "default=noprint_wrappers=1", path])
    var fields: [String: String] = [:]
    for line in result.stdout.split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
        if kv.count == 2 { fields[kv[0]] = kv[1] }
    }
    return fields
}

