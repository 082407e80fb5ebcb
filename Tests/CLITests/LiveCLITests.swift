import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `fervid analyze` on live sources served on 127.0.0.1, with the real face detector and model:
/// an HLS event playlist that the ffmpeg CLI keeps writing while fervid reads it, RTMP and
/// MPEG-TS over HTTP from the ffmpeg CLI's `-listen 1`, MPEG-TS over UDP, and a server sending
/// 2 s of frames at once every 2 s. The streams run at 8 frames/s (one person talking), well
/// below what the pipeline does even on a loaded machine, and `--max-lag 10` leaves room for
/// the machine to stall: so nothing may be dropped, the one person keeps one id, and every row
/// has a face. Counts and structure only; no wall-clock speed is asserted.
@Suite("Live sources end to end", .serialized)
struct LiveCLITests {
    static let seconds = 8.0
    static let fps = 8.0

    struct Fixture {
        let directory: String
        let frames: Int
        var whole: String { directory + "/whole.mp4" }
    }

    static func fixture() throws -> Fixture {
        let sample = try #require(samplePath("WolfgangLanger_Pexels.mp4"))
        let dir = try LiveFixtures.directory()
        let frames = try LiveFixtures.segments(of: sample, seconds: seconds, fps: fps, into: dir)
        return Fixture(directory: dir, frames: frames)
    }

    struct Outcome {
        var table: TimelineCSV
        var sidecar: [String: Any]
        var stderr: String
        var live: [String: Any] { sidecar["live"] as? [String: Any] ?? [:] }
        var frames: [String: Any] { sidecar["frames"] as? [String: Any] ?? [:] }
    }

    /// Runs `fervid analyze URL` (started by `start`), then `afterStart` (a sender that needs
    /// the client first), and waits for it to end on its own (the stream ends; no reconnect).
    static func analyze(_ url: String, readTimeout: Double = 20, afterStart: (() throws -> Void)? = nil) throws -> Outcome? {
        guard let bin = fervidBinary() else { return nil }
        let csv = temporaryPath(".csv")
        defer { for p in [csv, csv + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
        let client = try Child(bin, ["analyze", url, "-o", csv, "--reconnect", "0", "--open-timeout", "60",
                                     "--read-timeout", "\(readTimeout)", "--max-lag", "10", "--latency", "--stats", "--quiet"])
        defer { client.stop() }
        try afterStart?()
        let status = client.wait(seconds: 240)
        #expect(status == 0, "fervid analyze \(url): stderr: \(client.stderr)")
        return Outcome(table: try TimelineCSV(path: csv), sidecar: try jsonObject(csv + ".json"), stderr: client.stderr)
    }

    /// What every source must give when the pipeline is faster than the stream.
    static func expectEveryFrameAnalyzed(_ o: Outcome, expected: Int, exact: Bool, _ what: String) {
        let t = o.table
        #expect(t.badLines.isEmpty)
        #expect(t.header.suffix(2) == ["wallclock", "latency"], "\(what): \(t.header)")
        let read = o.frames["read"] as? Int ?? -1
        #expect(o.frames["dropped"] as? Int == 0, "\(what): \(o.frames)")
        #expect(o.live["dropped_thinned"] as? Int == 0 && o.live["dropped_stale"] as? Int == 0, "\(what): \(o.live)")
        #expect(o.frames["analyzed"] as? Int == read)
        if exact {
            #expect(read == expected, "\(what): read \(read) of the \(expected) frames sent")
        } else {
            #expect(read >= expected * 9 / 10 && read <= expected, "\(what): read \(read) of the \(expected) frames sent")
        }
        // One row per frame, in order, no gaps.
        #expect(t.rows.map { Int($0["frame"]!)! } == Array(0 ..< read), "\(what): frame column")
        // One person: one id, a face in every row.
        #expect(t.rows.allSatisfy { $0["success"] == "1" }, "\(what): \(t.rows.filter { $0["success"] != "1" }.count) rows without a face")
        #expect(Set(t.rows.map { $0["face_id"]! }).count == 1, "\(what): ids \(Set(t.rows.map { $0["face_id"]! }))")
        // Latency: a number per row; the figures in the sidecar and the stats line.
        let latencies = t.rows.compactMap { Double($0["latency"] ?? "") }
        #expect(latencies.count == t.rows.count && latencies.allSatisfy { $0 >= 0 })
        let p50 = o.live["latency_p50"] as? Double, maxLatency = o.live["latency_max"] as? Double
        #expect(p50 != nil && maxLatency != nil && p50! <= maxLatency!)
        #expect(o.stderr.contains("dropped_stale=0") && o.stderr.contains("latency_p95_s="), "\(o.stderr)")
    }

    @Test("HLS event playlist growing while read (ffmpeg CLI writing 2-s segments, plain HTTP server)")
    func hlsGrowing() throws {
        let sample = try #require(samplePath("WolfgangLanger_Pexels.mp4"))
        let dir = try LiveFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = freePort()
        let server = try LiveFixtures.httpServer(port: port, directory: dir)
        defer { server.stop() }
        let writer = try LiveFixtures.hlsWriter(sample: sample, seconds: Self.seconds, fps: Self.fps, directory: dir)
        defer { writer.stop() }
        // Open once the first segment is listed: then fervid starts at the first segment.
        #expect(LiveFixtures.waitForFile(dir + "/live.m3u8", seconds: 60))
        guard let o = try Self.analyze("http://127.0.0.1:\(port)/live.m3u8") else { return }
        // The playlist was still growing when fervid opened it, and it ended complete.
        let playlist = try String(contentsOfFile: dir + "/live.m3u8", encoding: .utf8)
        #expect(playlist.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && playlist.contains("#EXT-X-ENDLIST"))
        let expected = Int((Self.seconds * Self.fps).rounded())
        Self.expectEveryFrameAnalyzed(o, expected: expected, exact: false, "HLS")
    }

    @Test("RTMP from the ffmpeg CLI's -listen 1")
    func rtmp() throws {
        let f = try Self.fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let port = freePort()
        let url = "rtmp://127.0.0.1:\(port)/live/stream"
        let server = try LiveFixtures.sender(file: f.whole, format: "flv", url: url, listen: true)
        defer { server.stop() }
        #expect(LiveFixtures.waitForSocket(port, seconds: 60))
        guard let o = try Self.analyze(url) else { return }
        Self.expectEveryFrameAnalyzed(o, expected: f.frames, exact: true, "RTMP")
    }

    @Test("MPEG-TS over HTTP from the ffmpeg CLI's -listen 1")
    func mpegtsHTTP() throws {
        let f = try Self.fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/live.ts"
        let server = try LiveFixtures.sender(file: f.whole, format: "mpegts", url: url, listen: true)
        defer { server.stop() }
        #expect(LiveFixtures.waitForSocket(port, seconds: 60))
        guard let o = try Self.analyze(url) else { return }
        Self.expectEveryFrameAnalyzed(o, expected: f.frames, exact: true, "MPEG-TS/HTTP")
    }

    @Test("MPEG-TS over UDP (fervid listening first, then the ffmpeg CLI sends)")
    func mpegtsUDP() throws {
        let f = try Self.fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let port = freePort(udp: true)
        var sender: ServerProcess?
        defer { sender?.stop() }
        guard let o = try Self.analyze("udp://127.0.0.1:\(port)", readTimeout: 5, afterStart: {
            // Send once fervid has bound the port (after loading its models).
            #expect(LiveFixtures.waitForSocket(port, udp: true, seconds: 120))
            sender = try LiveFixtures.sender(file: f.whole, format: "mpegts", url: "udp://127.0.0.1:\(port)?pkt_size=1316",
                                             listen: false)
        }) else { return }
        // UDP may lose a datagram on a loaded machine: most frames, but not exactly all.
        Self.expectEveryFrameAnalyzed(o, expected: f.frames, exact: false, "UDP")
    }

    @Test("a server sending 2 s of frames at once every 2 s")
    func bursts() throws {
        let f = try Self.fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let port = freePort()
        let server = try LiveFixtures.httpServer(port: port, directory: f.directory, burst: 2)
        defer { server.stop() }
        guard let o = try Self.analyze("http://127.0.0.1:\(port)/burst.ts") else { return }
        Self.expectEveryFrameAnalyzed(o, expected: f.frames, exact: true, "bursts")
        // They were bursts: frames spanning over half a second of stream waited at once.
        #expect((o.live["lag_peak"] as? Double ?? 0) >= 0.5, "\(o.live)")
    }

    @Test("probe times a live source's arrivals: bursts of 2 s, a steady source none")
    func probeArrival() throws {
        guard let bin = fervidBinary() else { return }
        let f = try Self.fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let port = freePort()
        let server = try LiveFixtures.httpServer(port: port, directory: f.directory, burst: 2)
        defer { server.stop() }
        let bursty = try run(bin, ["probe", "http://127.0.0.1:\(port)/burst.ts", "--count", "--json", "--reconnect-attempts", "0"])
        #expect(bursty.status == 0, "\(bursty.stderr)")
        let b = try JSONSerialization.jsonObject(with: bursty.stdoutData) as? [String: Any] ?? [:]
        #expect(b["arrival_frames"] as? Int == f.frames)
        // 2 s of frames per burst: 16 frames at 8 fps, 2 s less one frame ahead of real time.
        #expect((b["largest_burst_frames"] as? Int ?? 0) >= 12, "\(b)")
        let burst = b["largest_burst_seconds"] as? Double ?? 0
        #expect(burst >= 1.5 && burst <= 2.5, "\(b)")
        #expect((b["suggested_max_lag"] as? Double ?? 0) >= 3)
        // Opening read at least the first segment before the first frame was handed out.
        #expect((b["startup_burst_frames"] as? Int ?? 0) >= 12, "\(b)")

        // The same file sent in real time (ffmpeg -re): no burst near 2 s.
        let port2 = freePort()
        let url = "http://127.0.0.1:\(port2)/live.ts"
        let steady = try LiveFixtures.sender(file: f.whole, format: "mpegts", url: url, listen: true)
        defer { steady.stop() }
        #expect(LiveFixtures.waitForSocket(port2, seconds: 60))
        let text = try run(bin, ["probe", url, "--arrival", "4"])
        #expect(text.status == 0, "\(text.stderr)")
        let line = text.stdout.split(separator: "\n").first { $0.hasPrefix("arrival:") }.map(String.init) ?? ""
        let ahead = line.split(separator: ",").last.flatMap { Double($0.split(separator: " ").first ?? "") } ?? -1
        #expect(ahead >= 0 && ahead < 1.5, "\(text.stdout)")
    }
}
