import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL 15 server of the test's own: initdb + pg_ctl in a temporary folder, on a loopback
/// port (Debian's postgresql-15, installed by tools/setup-serve.sh). As root it runs as the
/// `postgres` user (PostgreSQL refuses root). Every command is time-bounded (``Child/run``, never
/// Foundation's `Process`: the server `pg_ctl` forks kept the socket `Process` waits on, which was
/// the suite's hang), and ``shutdown()`` stops the server whatever happened: `pg_ctl stop`, else
/// SIGQUIT then SIGKILL to the postmaster's pid from `postmaster.pid`.
final class PostgresServer: @unchecked Sendable {
    static let bin = "/usr/lib/postgresql/15/bin"
    let dir: String
    let port: UInt16
    private let down = Locked(false)
    var url: String { "postgresql://fervid@127.0.0.1:\(port)/postgres" }
    var data: String { dir + "/data" }

    /// nil (and the reason recorded as a test issue) when PostgreSQL 15 is not installed.
    static func make(sourceLocation: SourceLocation = #_sourceLocation) throws -> PostgresServer? {
        guard FileManager.default.isExecutableFile(atPath: bin + "/initdb") else {
            Issue.record("PostgreSQL 15 is not installed (\(bin)/initdb missing): run tools/setup-serve.sh (make test does)",
                         sourceLocation: sourceLocation)
            return nil
        }
        return try PostgresServer()
    }

    private init() throws {
        // Under /tmp itself: the `postgres` user must reach it (a TMPDIR under /root would not do).
        dir = try temporaryDirectory("pg", base: "/tmp")
        port = freePort()
        if getuid() == 0 {
            let r = try Child.run(["chown", "-R", "postgres:postgres", dir], timeout: 30)
            guard r.status == 0 else { throw ServeTestError("chown \(dir): \(r.stderr)") }
        }
        let r = try asPostgres([Self.bin + "/initdb", "-D", data, "-A", "trust", "-U", "fervid", "--no-sync"], timeout: 120)
        guard r.status == 0 else { throw ServeTestError("initdb: \(r.stdout) \(r.stderr)") }
        do {
            try start()
        } catch {
            shutdown()  // a server pg_ctl gave up waiting for may still be running
            throw error
        }
    }

    private func asPostgres(_ args: [String], timeout: Double) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + args : args, timeout: timeout)
    }

    func start() throws {
        down.withLock { $0 = false }
        let r = try asPostgres([Self.bin + "/pg_ctl", "-D", data, "-l", dir + "/pg.log", "-w", "-t", "60", "-o",
                                "-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c fsync=off", "start"], timeout: 90)
        guard r.status == 0 else { throw ServeTestError("pg_ctl start: \(r.stdout) \(r.stderr) \(log)") }
    }

    /// `pg_ctl stop -m fast` (open connections are ended), bounded.
    func stop() throws {
        let r = try asPostgres([Self.bin + "/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"], timeout: 45)
        guard r.status == 0 else { throw ServeTestError("pg_ctl stop: \(r.stdout) \(r.stderr)") }
    }

    /// The postmaster's pid while it runs (first line of `postmaster.pid`).
    var postmasterPID: pid_t? {
        guard let text = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first, let pid = pid_t(first) else { return nil }
        return pid
    }

    /// Stops the server for good (idempotent) and removes its folder; never throws, never blocks
    /// more than about a minute.
    func shutdown() {
        guard !down.withLock({ let was = $0; $0 = true; return was }) else { return }
        let pid = postmasterPID
        if (try? stop()) == nil, let pid {
            kill(pid, SIGQUIT)  // immediate shutdown
            let end = now() + 5
            while alive(pid), now() < end { usleep(50_000) }
            if alive(pid) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func alive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie (exited, not reaped by its new parent) counts as gone.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? false)
    }

    var log: String { (try? String(contentsOfFile: dir + "/pg.log", encoding: .utf8)) ?? "" }

    /// `psql -At -c sql`: rows of `|`-separated fields.
    func query(_ sql: String) throws -> [[String]] {
        let r = try Child.run(["psql", "-h", "127.0.0.1", "-p", String(port), "-U", "fervid", "-d", "postgres", "-At", "-c", sql],
                              timeout: 60, environment: ["PGCONNECT_TIMEOUT": "5"])
        guard r.status == 0 else { throw ServeTestError("psql \(sql): \(r.stderr)") }
        return r.stdout.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    deinit { shutdown() }
}

extension ServeSuites {
    @Suite("fervid serve: PostgreSQL for real", .serialized,
           .enabled(if: serveToolAvailable(PostgresServer.bin + "/initdb"), "PostgreSQL 15 is not installed: run tools/setup-serve.sh (make test does)"))
    struct ServePostgresTests {
        @Test("every row reaches fervid_rows, across a database restart mid-run")
        func rowsSurviveRestart() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            guard let pg = try PostgresServer.make() else { return }
            defer { pg.shutdown() }
            // A buffer of 500 rows: the outage below (about 6 s at 5 fps, one face) stays within it.
            let server = try await ServeInstance(extra: ["--db", pg.url, "--db-buffer", "500"])
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 18, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 5, "reconnect": 0])
            _ = try await server.waitStream(id) { ($0["rows"] as? Int ?? 0) > 5 }
            // The database goes away while rows keep coming, then comes back: down for 30 rows
            // (6 s of stream), longer than a database call may take (5 s), so the writer's pending
            // call times out and is retried.
            try pg.stop()
            let rowsAtStop = try await server.stream(id)["rows"] as? Int ?? 0
            _ = try await server.waitStream(id) { ($0["rows"] as? Int ?? 0) > rowsAtStop + 30 }
            let m = try await server.metrics()
            #expect((m["fervid_db_buffered_rows"] ?? 0) > 0, "rows wait while the database is down")
            #expect((m["fervid_db_failures_total"] ?? 0) > 0, "the outage was noticed (a call failed or timed out)")
            try pg.start()
            let final = try await server.waitStream(id, timeout: 90) { $0["status"] as? String == "ended" }
            #expect(final["status"] as? String == "ended")
            #expect(final["dbDropped"] as? Int == 0)
            // Wait for the buffer to empty.
            for _ in 0 ..< 300 {
                if try await server.metrics()["fervid_db_buffered_rows"] == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let file = try String(contentsOfFile: final["output"] as? String ?? "", encoding: .utf8)
            let header = file.split(separator: "\n").first?.split(separator: ",").map(String.init) ?? []
            let lines = file.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            guard let fFrame = header.firstIndex(of: "frame"), let fFace = header.firstIndex(of: "face_id"),
                  let fLabel = header.firstIndex(of: "label"), let fHappy = header.firstIndex(of: "happy") else {
                Issue.record("timeline header \(header)")
                return
            }
            // (frame, face_id or -1, label) from the CSV file, against the table.
            let fromFile = Set(lines.map { "\($0[fFrame])|\($0[fFace].isEmpty ? "-1" : String($0[fFace]))|\($0[fLabel])" })
            let fromDB = Set(try pg.query("SELECT frame, face_id, coalesce(label, '') FROM fervid_rows WHERE stream_id = '\(id)'")
                .map { $0.joined(separator: "|") })
            #expect(lines.count == final["rows"] as? Int)
            #expect(fromDB.count == lines.count, "database \(fromDB.count) rows, file \(lines.count)")
            #expect(fromDB == fromFile)
            // The happy probability of each face row, as the file has it (6 decimals) vs the table.
            let happyDB = try pg.query("SELECT frame, face_id, round(happy::numeric, 6) FROM fervid_rows WHERE stream_id = '\(id)' AND success")
            let happyFile = Dictionary(uniqueKeysWithValues: lines.filter { !$0[fFace].isEmpty }.map { ("\($0[fFrame])|\($0[fFace])", Double($0[fHappy]) ?? -1) })
            for row in happyDB {
                #expect(abs((Double(row[2]) ?? -9) - (happyFile["\(row[0])|\(row[1])"] ?? -1)) < 1.5e-6)
            }
            let stream = try pg.query("SELECT status, rows, frames_read, url FROM fervid_streams WHERE id = '\(id)'")
            #expect(stream.first?[0] == "ended")
            #expect(stream.first?[1] == String(lines.count))
            #expect(stream.first?[2] == String(clip.frames))
            #expect(happyDB.count == happyFile.count && !happyDB.isEmpty)
        }

        @Test("beyond --db-buffer rows are dropped, counted in the metrics and the stream's status")
        func dropsCounted() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            guard let pg = try PostgresServer.make() else { return }
            defer { pg.shutdown() }
            try pg.stop()  // the database is down from the start
            let server = try await ServeInstance(extra: ["--db", pg.url, "--db-buffer", "20"])
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 8, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 5, "reconnect": 0])
            var ended = try await server.waitStream(id, timeout: 90) { $0["status"] as? String == "ended" }
            #expect(ended["status"] as? String == "ended")
            // Rows of an insert still waiting for the database count as dropped once it gives up
            // (within the 5 s a call may take): wait for the count to settle at rows - 20.
            ended = try await server.waitStream(id, timeout: 30) { ($0["dbDropped"] as? Int ?? 0) >= ($0["rows"] as? Int ?? 0) - 20 }
            let rows = ended["rows"] as? Int ?? 0
            let dropped = ended["dbDropped"] as? Int ?? 0
            #expect(rows > 20)
            #expect(dropped == rows - 20, "rows \(rows), dropped \(dropped), buffer 20")
            #expect(try await server.metrics()["fervid_db_rows_dropped_total{stream=\"\(id)\"}"] == Double(dropped))
            try pg.start()
            for _ in 0 ..< 300 {
                if try await server.metrics()["fervid_db_buffered_rows"] == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            // The newest 20 rows are kept: the table holds the file's last 20 (frame, face) pairs.
            let file = try String(contentsOfFile: ended["output"] as? String ?? "", encoding: .utf8)
            let header = file.split(separator: "\n").first?.split(separator: ",").map(String.init) ?? []
            let fFrame = header.firstIndex(of: "frame") ?? 0, fFace = header.firstIndex(of: "face_id") ?? 2
            let lastInFile = file.split(separator: "\n").dropFirst().suffix(20).map { line in
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                return "\(f[fFrame])|\(f[fFace].isEmpty ? "-1" : String(f[fFace]))"
            }
            let inDB = try pg.query("SELECT frame, face_id FROM fervid_rows WHERE stream_id = '\(id)'").map { $0.joined(separator: "|") }
            #expect(inDB.count == 20)
            #expect(Set(inDB) == Set(lastInFile))
            let record = try pg.query("SELECT db_dropped, rows, status FROM fervid_streams WHERE id = '\(id)'")
            #expect(record.first == [String(dropped), String(rows), "ended"], "\(record)")
        }
    }
}
