import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The reliability fault suite (docs/reliability.md): odd and damaged videos made at test time,
/// signals at seeded random points, and live faults. Every case must end in a clean state: exit
/// 0, 1 or 3 (never a signal or a crash), at most one line on stderr naming the input when it is
/// not 0, a timeline that parses with rows in frame order, and a sidecar whose status matches the
/// exit code. Each case appends one line to `$FERVID_FAULT_REPORT` when it is set (the figures in
/// docs/reliability.md come from there).
enum FaultReport {
    static func record(_ line: String) {
        guard let path = ProcessInfo.processInfo.environment["FERVID_FAULT_REPORT"], !path.isEmpty else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// Deterministic 64-bit LCG for seeded damage and delays.
struct SeededRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// What every analyze run in the suite must satisfy, whatever the input.
struct CleanOutcome {
    var status: Int32
    var rows = 0
    var sidecarStatus: String?

    /// Checks the invariants and returns the outcome; `expected` limits the allowed exit codes.
    @discardableResult
    static func check(_ result: CommandResult, input: String, csv: String, expected: Set<Int32> = [0, 1, 3],
                      case name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> CleanOutcome {
        var outcome = CleanOutcome(status: result.status)
        #expect(expected.contains(result.status), "\(name): exit \(result.status), stderr: \(result.stderr)",
                sourceLocation: sourceLocation)
        if result.status != 0 {
            #expect(result.stderrLines.count == 1, "\(name): stderr: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(input) || result.stderr.contains(csv), "\(name): stderr: \(result.stderr)",
                    sourceLocation: sourceLocation)
        }
        if FileManager.default.fileExists(atPath: csv) {
            let table = try TimelineCSV(path: csv)
            #expect(table.badLines.isEmpty, "\(name): torn lines \(table.badLines)", sourceLocation: sourceLocation)
            let frames = table.rows.compactMap { Int($0["frame"] ?? "") }
            #expect(frames == frames.sorted(), "\(name): rows out of frame order", sourceLocation: sourceLocation)
            #expect(table.rows.allSatisfy { $0["success"] == "0" || $0["label"] != "" }, sourceLocation: sourceLocation)
            outcome.rows = table.rows.count
            if let sidecar = try? jsonObject(csv + ".json") {
                let status = sidecar["status"] as? String
                outcome.sidecarStatus = status
                let matches = ["complete": Int32(0), "partial": 3, "failed": 1][status ?? ""]
                #expect(matches == result.status, "\(name): sidecar \(status ?? "nil") vs exit \(result.status)",
                        sourceLocation: sourceLocation)
                #expect(sidecar["rows"] as? Int == table.rows.count, "\(name): sidecar rows", sourceLocation: sourceLocation)
            }
        }
        return outcome
    }
}

@Suite(.serialized) struct OddVideoFaultTests {
    /// ffmpeg arguments making each odd input from lavfi sources (small, made at test time).
    static let classes: [(name: String, suffix: String, args: [String])] = [
        ("tiny 2x2", ".mp4", ["-f", "lavfi", "-i", "testsrc=size=2x2:rate=5:duration=1", "-pix_fmt", "yuv420p"]),
        ("odd 161x97", ".mkv", ["-f", "lavfi", "-i", "testsrc=size=161x97:rate=10:duration=1", "-c:v", "ffv1"]),
        ("10-bit", ".mkv", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1", "-pix_fmt", "yuv420p10le", "-c:v", "ffv1"]),
        ("gray", ".mkv", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1", "-pix_fmt", "gray", "-c:v", "ffv1"]),
        ("still image", ".png", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=1:duration=1", "-frames:v", "1"]),
        ("audio only", ".m4a", ["-f", "lavfi", "-i", "sine=duration=1"]),
        ("VFR", ".mkv", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                         "-vf", "setpts='N/10/TB+if(gt(N,9),0.37/TB,0)+if(gt(N,14),0.05*N/TB,0)'", "-c:v", "ffv1"]),
        ("two video streams", ".mkv", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
                                       "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=5:duration=1",
                                       "-map", "0", "-map", "1", "-c:v", "ffv1"]),
        ("timestamp gap", ".ts", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                                  "-vf", "setpts='N/10/TB+if(gt(N,9),5/TB,0)'", "-pix_fmt", "yuv420p"]),
    ]

    @Test("odd videos: a clean outcome for each class", arguments: 0 ..< classes.count)
    func oddVideo(_ index: Int) throws {
        guard let bin = fervidBinary() else { return }
        let c = Self.classes[index]
        let input = temporaryPath(c.suffix), csv = temporaryPath(".csv")
        defer { remove(input, csv, csv + ".json") }
        let made = try run("ffmpeg", ["-v", "error", "-y"] + c.args + [input])
        try #require(made.status == 0, "ffmpeg (\(c.name)): \(made.stderr)")
        let result = try run(bin, ["analyze", input, "-o", csv, "--quiet"])
        let expected: Set<Int32> = c.name == "audio only" ? [1] : [0]
        let outcome = try CleanOutcome.check(result, input: input, csv: csv, expected: expected, case: c.name)
        FaultReport.record("odd\t\(c.name)\texit=\(outcome.status)\trows=\(outcome.rows)\tstatus=\(outcome.sidecarStatus ?? "-")")
    }

    @Test("inputs that are not videos: one clean line, exit 1 (an empty folder: no inputs, exit 2), no output",
          arguments: ["zero bytes", "random bytes", "directory", "missing"])
    func notVideo(_ kind: String) throws {
        guard let bin = fervidBinary() else { return }
        let input = temporaryPath(".mp4"), csv = temporaryPath(".csv")
        defer { remove(input, csv, csv + ".json") }
        switch kind {
        case "zero bytes": try Data().write(to: URL(fileURLWithPath: input))
        case "random bytes":
            var rng = SeededRandom(state: 12)
            try Data((0 ..< 65536).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: URL(fileURLWithPath: input))
        case "directory": try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        default: break
        }
        let result = try run(bin, ["analyze", input, "-o", csv, "--quiet"])
        // A folder is searched for videos; an empty one holds no inputs: bad usage.
        let outcome = try CleanOutcome.check(result, input: input, csv: csv, expected: kind == "directory" ? [2] : [1],
                                             case: kind)
        #expect(!FileManager.default.fileExists(atPath: csv), "\(kind): a timeline was written")
        FaultReport.record("notvideo\t\(kind)\texit=\(outcome.status)")
    }

    @Test("bit flips at fixed seeds: never a crash; the sidecar matches the exit code", arguments: [1, 2, 3, 4, 5, 6])
    func bitFlips(_ seed: Int) throws {
        guard let bin = fervidBinary() else { return }
        let clean = try Fixtures.video(seconds: 2)
        let input = temporaryPath(".mp4"), csv = temporaryPath(".csv")
        defer { remove(clean, input, csv, csv + ".json") }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clean)))
        var rng = SeededRandom(state: UInt64(seed))
        // 20 flips anywhere past the first 32 bytes (the index and the media data).
        for _ in 0 ..< 20 {
            let i = 32 + rng.below(bytes.count - 32)
            bytes[i] ^= UInt8(1 << rng.below(8))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let result = try run(bin, ["analyze", input, "-o", csv, "--faces", "center", "--quiet"])
        let outcome = try CleanOutcome.check(result, input: input, csv: csv, case: "bit flips seed \(seed)")
        FaultReport.record("bitflip\tseed \(seed)\texit=\(outcome.status)\trows=\(outcome.rows)\tstatus=\(outcome.sidecarStatus ?? "-")")
    }
}

@Suite(.serialized) struct SignalFaultTests {
    @Test("SIGINT, SIGTERM, SIGKILL at seeded random points: whole lines, frame order, a truthful sidecar",
          arguments: [(SIGINT, 1), (SIGTERM, 2), (SIGKILL, 3), (SIGINT, 4), (SIGTERM, 5), (SIGKILL, 6)])
    func signalAtRandomPoint(_ sig: Int32, _ seed: Int) throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let long = temporaryPath(".mp4"), csv = temporaryPath(".csv")
        defer { remove(long, csv, csv + ".json") }
        let made = try run("ffmpeg", ["-v", "error", "-y", "-stream_loop", "3", "-i", sample, "-c", "copy", long])
        try #require(made.status == 0, "ffmpeg: \(made.stderr)")
        var rng = SeededRandom(state: UInt64(seed))
        let rowsBeforeSignal = 1 + rng.below(400)
        let child = try Child(bin, ["analyze", long, "-o", csv, "--faces", "center", "--quiet", "--threads", "1"])
        defer { child.stop() }
        let reached = eventually(120) { ((try? TimelineCSV(path: csv))?.rows.count ?? 0) >= rowsBeforeSignal }
        try #require(reached, "never reached \(rowsBeforeSignal) rows")
        kill(child.pid, sig)
        let status = child.wait(seconds: 60)
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        #expect(text.hasSuffix("\n"), "a partial last line")
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        let frames = table.rows.compactMap { Int($0["frame"] ?? "") }
        #expect(frames == Array(0 ..< frames.count), "rows are not one per frame in order")
        let sidecar = try jsonObject(csv + ".json")
        let analyzed = (sidecar["frames"] as? [String: Any])?["analyzed"] as? Int ?? -1
        #expect(sidecar["status"] as? String == "partial")
        if sig == SIGKILL {
            #expect(status == nil || status == SIGKILL || status == 137 || status == 9)
            #expect(sidecar["reason"] as? String == "running")
            #expect(analyzed <= table.rows.count)
        } else {
            #expect(status == 3, "stderr: \(child.stderr)")
            #expect(sidecar["reason"] as? String == "interrupted")
            #expect(analyzed == table.rows.count, "sidecar \(analyzed) frames, file \(table.rows.count) rows")
            #expect(sidecar["rows"] as? Int == table.rows.count)
        }
        FaultReport.record("signal\t\(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGKILL") after \(rowsBeforeSignal) rows\t"
                           + "exit=\(status.map(String.init) ?? "killed")\trows=\(table.rows.count)\tsidecar_analyzed=\(analyzed)\tlost=0")
    }
}

@Suite(.serialized) struct LiveFaultTests {
    /// A Python TCP server on `port`: `silent` accepts and sends nothing, `garbage` sends random
    /// bytes then idles.
    static func pythonServer(_ kind: String, port: UInt16) throws -> Child {
        let script = """
            import socket, time, random
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(port))); s.listen(8)
            conns = []
            while True:
                c, _ = s.accept(); conns.append(c)
                if "\(kind)" == "garbage":
                    r = random.Random(7)
                    try: c.sendall(bytes(r.getrandbits(8) for _ in range(200000)))
                    except OSError: pass
            """
        let child = try Child("python3", ["-c", script])
        // Listening before the test goes on (a connection made here is accepted and dropped).
        _ = eventually(15) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        return child
    }

    private func measure(_ name: String, timeout: Double, _ args: [String], expected: Set<Int32>,
                         server: Child? = nil) throws {
        guard let bin = fervidBinary() else { return }
        let csv = temporaryPath(".csv")
        defer { remove(csv, csv + ".json") }
        let url = args[0]
        let start = Date()
        let result = try run(bin, ["analyze"] + args + ["-o", csv, "--faces", "center", "--quiet", "--timeout", "\(timeout)",
                                                        "--reconnect", "1", "--reconnect-delay", "0.2"])
        let seconds = Date().timeIntervalSince(start)
        try CleanOutcome.check(result, input: url, csv: csv, expected: expected, case: name)
        // No hang: far inside the test's own patience (the figure goes to the report, not an assertion on speed).
        #expect(seconds < 60, "\(name) took \(seconds) s")
        FaultReport.record(String(format: "live\t%@\texit=%d\t%.2f s\ttimeout %.1f s", name, result.status, seconds, timeout))
        _ = server
    }

    @Test("refused: a port nobody listens on")
    func refused() throws {
        try measure("refused", timeout: 2, ["tcp://127.0.0.1:\(freePort())"], expected: [1])
    }

    @Test("silent: a server that accepts and sends nothing")
    func silent() throws {
        let port = freePort()
        let server = try Self.pythonServer("silent", port: port)
        defer { server.stop() }
        try measure("silent", timeout: 2, ["tcp://127.0.0.1:\(port)", "--live", "live"], expected: [1], server: server)
    }

    @Test("garbage: a server that sends random bytes")
    func garbage() throws {
        let port = freePort()
        let server = try Self.pythonServer("garbage", port: port)
        defer { server.stop() }
        try measure("garbage", timeout: 2, ["tcp://127.0.0.1:\(port)", "--live", "live"], expected: [1], server: server)
    }

    @Test("UDP with no sender")
    func udpNoSender() throws {
        try measure("udp no sender", timeout: 2, ["udp://127.0.0.1:\(freePort(udp: true))", "--live", "live"], expected: [1])
    }

    @Test("stalled and dying servers end the run cleanly (exit 0; the detail says the stream ended)", arguments: ["stalled", "dying"])
    func stalledOrDying(_ kind: String) throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/live.ts"
        let csv = temporaryPath(".csv")
        defer { remove(csv, csv + ".json") }
        let server = try Child("ffmpeg", ["-v", "error", "-re", "-stream_loop", "-1", "-i", sample, "-an", "-c:v", "copy",
                                          "-f", "mpegts", "-listen", "1", url])
        defer { kill(server.pid, SIGCONT); server.stop() }
        let c = try #require(try liveClient(bin, ["analyze", url, "-o", csv, "--faces", "center", "--timeout", "2",
                                                  "--reconnect", "1", "--reconnect-delay", "0.2", "--quiet"], csv: csv))
        defer { c.stop() }
        #expect(eventually(20) { ((try? TimelineCSV(path: csv))?.rows.count ?? 0) >= 10 })
        let start = Date()
        if kind == "stalled" { kill(server.pid, SIGSTOP) } else { server.stop() }
        let status = c.wait(seconds: 60)
        let seconds = Date().timeIntervalSince(start)
        #expect(status == 0, "\(kind): stderr \(c.stderr)")
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        let sidecar = try jsonObject(csv + ".json")
        #expect(sidecar["status"] as? String == "complete")
        #expect((sidecar["detail"] as? String ?? "").contains("live stream ended"))
        #expect(sidecar["rows"] as? Int == table.rows.count)
        FaultReport.record(String(format: "live\t%@\texit=%d\t%.2f s after the fault\ttimeout 2.0 s, 1 reconnect", kind,
                                  status ?? -1, seconds))
    }
}
