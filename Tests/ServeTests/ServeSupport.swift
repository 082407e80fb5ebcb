import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every suite of the service, one after another: each starts servers, browsers and streams
/// that would compete for the same two cores if they ran side by side.
@Suite("fervid serve", .serialized)
enum ServeSuites {}

/// Whether a program a service test drives is installed. When it is not, the test is skipped
/// with the reason, except under `make test`, which installs them all first
/// (tools/setup-serve.sh) and sets `FERVID_REQUIRE_SERVE_TOOLS=1`: there a missing program runs
/// the test, which fails naming the command that installs it.
func serveToolAvailable(_ path: String) -> Bool {
    FileManager.default.isExecutableFile(atPath: path) || ProcessInfo.processInfo.environment["FERVID_REQUIRE_SERVE_TOOLS"] == "1"
}

/// The `fervid-serve` binary under test: next to `FERVID_BIN` (set by `make test`), else the
/// package's `.build/release/fervid-serve`.
func serveBinary(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["FERVID_BIN"], !env.isEmpty {
        candidates.append(URL(fileURLWithPath: env).deletingLastPathComponent().appendingPathComponent("fervid-serve").path)
    }
    candidates += ["release", "debug"].map { packageRoot().appendingPathComponent(".build/\($0)/fervid-serve").path }
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
    Issue.record("fervid-serve is not built (looked for \(candidates.joined(separator: ", "))): run `make test` or `make serve`",
                 sourceLocation: sourceLocation)
    return nil
}

/// A child process the test owns: output to a log file, stopped by pid, its exit status kept.
///
/// The child inherits no descriptor of the test process but its standard input (/dev/null) and
/// outputs (the log files). Foundation's `Process` detects a child's exit by the end of a socket
/// the child holds: a daemon started through it (`pg_ctl start` forks the PostgreSQL server)
/// keeps that socket, so `waitUntilExit` never returned and the suite hung with a postgres left
/// behind. Every process the service's tests start goes through here instead (`posix_spawn`,
/// descriptors from 3 up closed, `waitpid` with a time limit).
final class Child: @unchecked Sendable {
    let pid: pid_t
    let log: String
    let errorLog: String?
    let group: Bool
    private var status: Int32?

    /// Starts `arguments` (a bare name looked up on PATH); stdout to `log`, stderr to `errorLog`
    /// or also to `log`.
    /// With `group`, the child leads a process group of its own, and ``stop()`` ends the whole
    /// group (a browser's helper processes with it).
    init(_ arguments: [String], log: String, errorLog: String? = nil, environment: [String: String] = [:],
         group: Bool = false) throws {
        self.log = log
        self.errorLog = errorLog
        self.group = group
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if group {
            posix_spawnattr_setpgroup(&attributes, 0)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorLog {
            posix_spawn_file_actions_addopen(&actions, 2, errorLog, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let closeFrom = spawnCloseFrom { _ = closeFrom(&actions, 3) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, arguments[0], &actions, &attributes, &argv, &envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        pid = child
    }

    func signal(_ sig: Int32) { if status == nil { kill(pid, sig) } }

    /// Waits up to `timeout` seconds for the exit; the exit code (128+signal when killed), or nil.
    func wait(timeout: Double) -> Int32? {
        if let status { return status }
        let end = now() + timeout
        while now() < end {
            var raw: Int32 = 0
            let r = waitpid(pid, &raw, WNOHANG)
            if r == pid {
                let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                status = code
                return code
            }
            usleep(20_000)
        }
        return nil
    }

    var exited: Bool { wait(timeout: 0) != nil }

    func stop() {
        if group {
            // The group: SIGTERM first (a browser closes its helpers), SIGKILL to what is left.
            if status == nil { kill(-pid, SIGTERM); _ = wait(timeout: 5) }
            kill(-pid, SIGKILL)
        }
        guard status == nil else { return }
        kill(pid, SIGKILL)
        _ = wait(timeout: 10)
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    var errors: String { errorLog.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }

    deinit { stop() }

    /// Runs `arguments` to completion within `timeout` seconds (killed beyond that: an error
    /// naming the command); its exit code, stdout and stderr.
    static func run(_ arguments: [String], timeout: Double,
                    environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = temporaryPath(".out"), err = temporaryPath(".err")
        defer { unlink(out); unlink(err) }
        let child = try Child(arguments, log: out, errorLog: err, environment: environment)
        guard let status = child.wait(timeout: timeout) else {
            child.stop()
            throw ServeTestError("`\(arguments.joined(separator: " "))` did not finish in \(timeout) s (killed): \(child.output) \(child.errors)")
        }
        return (status, child.output, child.errors)
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+; Swift's Glibc module does not
/// export it): closes every descriptor from N up in the child.
private let spawnCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// A fresh temporary directory (under `base`, else the user's temporary folder); the caller removes it.
func temporaryDirectory(_ tag: String, base: String? = nil) throws -> String {
    let root = base.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
    let path = root.appendingPathComponent("fervid-\(tag)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct HTTPReply: Sendable {
    var status: Int
    var body: Data
    var headers: [String: String]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
}

/// A running `fervid-serve` on 127.0.0.1 and a small HTTP client for it.
final class ServeInstance: @unchecked Sendable {
    let process: Child
    let port: Int
    let out: String
    let dir: String
    var token: String?

    /// Starts the server (port 0, written to a file) and waits until `/readyz` says ready.
    init(extra: [String] = [], token: String? = nil, waitReady: Bool = true) async throws {
        guard let binary = serveBinary() else { throw CancellationError() }
        dir = try temporaryDirectory("serve")
        out = dir + "/out"
        let portFile = dir + "/port"
        var args = [binary, "--listen", "127.0.0.1:0", "--port-file", portFile, "--out", out, "--threads", "2"]
        if let token { args += ["--token", token] }
        self.token = token
        process = try Child(args + extra, log: dir + "/server.log",
                            environment: ["FERVID_MODELS": modelsDirectory.path])
        var found: Int?
        for _ in 0 ..< 600 {  // 60 s: the first start loads the model on a busy machine
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let p = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                found = p
                break
            }
            if process.exited { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let found else {
            let log = process.output
            process.stop()
            throw ServeTestError("fervid-serve did not start: \(log)")
        }
        port = found
        if waitReady {
            for _ in 0 ..< 600 {
                if let r = try? await request("GET", "/readyz", timeout: 5), r.status == 200 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw ServeTestError("fervid-serve never became ready: \(process.output)")
        }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:],
                 auth: Bool = true, timeout: Double = 60) async throws -> HTTPReply {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = timeout
        if let body, !body.isEmpty { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if auth, let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h["\(k)".lowercased()] = "\(v)" }
        return HTTPReply(status: http.statusCode, body: data, headers: h)
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await request("GET", path, headers: headers)
    }

    func post(_ path: String, json: [String: Any]) async throws -> HTTPReply {
        try await request("POST", path, body: try JSONSerialization.data(withJSONObject: json))
    }

    /// Adds a stream; its id.
    func addStream(_ url: String, options: [String: Any] = [:], name: String? = nil) async throws -> String {
        var body: [String: Any] = ["url": url, "options": options]
        if let name { body["name"] = name }
        let r = try await post("/streams", json: body)
        guard r.status == 201, let id = r.json["id"] as? String else { throw ServeTestError("POST /streams: \(r.status) \(r.text)") }
        return id
    }

    func stream(_ id: String) async throws -> [String: Any] { try await get("/streams/\(id)").json }

    /// Polls the stream until `predicate` holds (or `timeout` seconds pass); the last state.
    @discardableResult
    func waitStream(_ id: String, timeout: Double = 60, _ predicate: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let end = now() + timeout
        var last: [String: Any] = [:]
        while now() < end {
            last = try await stream(id)
            if predicate(last) { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    /// `name{labels} value` lines of `/metrics`.
    func metrics() async throws -> [String: Double] {
        let text = try await get("/metrics").text
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = v
        }
        return values
    }

    func stop() {
        process.stop()
    }

    deinit { process.stop() }
}

struct ServeTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A live MPEG-TS stream over HTTP served by the ffmpeg CLI (one client), at real-time pace.
/// `file` is sent as it is (`-c copy`), so the frames the server reads are exactly the file's.
func ffmpegHTTPServer(file: String, port: UInt16, log: String) throws -> Child {
    try Child(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", file, "-c", "copy", "-f", "mpegts",
               "-listen", "1", "http://127.0.0.1:\(port)/live.ts"], log: log)
}

/// The first `seconds` of a sample as MPEG-TS video only (the stream the tests serve), and its
/// frame count by ffprobe.
func sampleClip(_ sample: String, seconds: Double, dir: String) throws -> (path: String, frames: Int) {
    let path = dir + "/clip-\(Int(seconds)).ts"
    let r = try Child.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", sample, "-t", String(seconds), "-an", "-c:v", "copy",
                           "-f", "mpegts", path], timeout: 120)
    guard r.status == 0 else { throw ServeTestError("ffmpeg clip: \(r.stderr)") }
    let count = try Child.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                               "stream=nb_read_frames", "-of", "csv=p=0", path], timeout: 120)
    guard let frames = count.stdout.split(whereSeparator: \.isNewline).compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }).first else {
        throw ServeTestError("ffprobe count: \(count.stdout) \(count.stderr)")
    }
    return (path, frames)
}

/// The timeline rows of JSON Lines text.
func jsonLines(_ text: String) -> [[String: Any]] {
    text.split(separator: "\n").compactMap { line in
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}

/// A TCP socket on 127.0.0.1 that accepts connections (the kernel's backlog) and never sends.
func silentListener() -> (Int32, UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = listen(fd, 16)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, UInt16(bigEndian: addr.sin_port))
}

/// Waits until something listens on 127.0.0.1:`port` (read from /proc/net/tcp, so that the
/// check does not take the one client an `ffmpeg -listen 1` server accepts).
func waitListening(_ port: UInt16, timeout: Double = 30) async throws {
    let key = String(format: ":%04X", port)
    let end = now() + timeout
    while now() < end {
        let table = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
        for line in table.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 3, f[1].hasSuffix(key), f[3] == "0A" { return }
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ServeTestError("nothing listens on port \(port) after \(timeout) s")
}
