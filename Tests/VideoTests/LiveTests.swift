import CFFmpeg
import Foundation
import Testing
import TestSupport
@testable import Video
#if canImport(Glibc)
import Glibc
#endif

/// Live inputs on 127.0.0.1 only, served by ffmpeg CLI processes the tests start, stop by pid and
/// reap. Each test is bounded: loops count frames, and a watchdog interrupts a source that
/// outlives its test's limit (which fails the test instead of hanging it).
@Suite("Live streams on loopback", .serialized)
struct LiveTests {
    /// 320x240 test pattern at 25 fps, keyframe every 10 frames, encoded as it is sent.
    static func encoderArguments(codec: String) -> [String] {
        var args = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                    "-t", "120", "-g", "10", "-pix_fmt", "yuv420p", "-c:v", codec]
        if codec == "libx264" { args += ["-preset", "ultrafast", "-tune", "zerolatency"] }
        return args
    }

    /// An HTTP server for one client (`-listen 1`) at http://127.0.0.1:port/live.ts.
    static func httpServer(port: UInt16) throws -> ServerProcess {
        try ServerProcess(encoderArguments(codec: "libx264") + ["-f", "mpegts", "-listen", "1", "http://127.0.0.1:\(port)/live.ts"])
    }

    /// Opens an HTTP stream, retrying while the freshly started server is not listening yet.
    static func openWhenListening(_ url: String, options: VideoSourceOptions,
                                  interrupt: VideoInterrupt = VideoInterrupt()) throws -> VideoSource {
        for _ in 0 ..< 100 {  // 10 s at most
            let result = Result { () throws(VideoError) in
                try VideoSource(url: url, options: options, interrupt: interrupt)
            }
            if case let .failure(error) = result, error.ffmpegCode == fervid_averror(ECONNREFUSED) {
                usleep(100_000)
                continue
            }
            return try result.get()
        }
        return try VideoSource(url: url, options: options, interrupt: interrupt)
    }

    /// Reads at most `limit` frames, returning their pts, raw timestamps and wall-clock presence.
    static func read(_ source: VideoSource, limit: Int) throws -> [DecodedFrame] {
        var frames: [DecodedFrame] = []
        while frames.count < limit, let frame = try source.nextFrame() { frames.append(frame) }
        return frames
    }

    static func strictlyIncreasing(_ values: [Double]) -> Bool {
        zip(values, values.dropFirst()).allSatisfy { $0 < $1 }
    }

    @Test("HTTP stream decodes; killing the server ends it after the reconnect attempts")
    func httpDecodeAndServerKilled() throws {
        let port = freePort()
        let server = try Self.httpServer(port: port)
        defer { server.stop() }
        let policy = ReconnectPolicy(attempts: 2, initialDelay: 0.1, maxDelay: 0.2)
        let options = VideoSourceOptions(openTimeout: 5, readTimeout: 1.5, reconnect: policy)
        let source = try Self.openWhenListening("http://127.0.0.1:\(port)/live.ts", options: options)
        let log = ConnectionLog(source)
        let watchdog = Watchdog(source, seconds: 30)
        defer { watchdog.cancel() }
        #expect(source.isLive)
        #expect(source.info.width == 320 && source.info.height == 240 && source.info.codec == "h264")

        // Frames are read and dropped: only their pts, timestamps and wall-clock times are kept.
        var pts: [Double] = [], stamps: [Int64] = []
        while pts.count < 25, let frame = try source.nextFrame() {
            pts.append(frame.pts)
            if let t = frame.timestamp { stamps.append(t) }
            #expect(frame.wallclock != nil)
        }
        #expect(pts.count == 25)
        #expect(pts.first == 0, "live pts start at 0")
        // 25 fps in MPEG-TS's 90 kHz: 3600 ticks a frame, and pts are those ticks rebased.
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $1 - $0 == 3600 })
        #expect(zip(pts, pts.dropFirst()).allSatisfy { abs($1 - $0 - 0.04) < 1e-9 })

        server.stop()
        let killed = now()
        var after = 0
        while after < 1000, try source.nextFrame() != nil { after += 1 }
        let ended = now() - killed
        #expect(source.endReason == .disconnected)
        #expect(source.stats.disconnects >= 1)
        #expect(source.stats.reconnectAttempts == 2)
        #expect(source.stats.reconnects == 0)
        // The connection events say the same, in order: dropped, then both attempts, no reopen.
        #expect(log.dropped == source.stats.disconnects)
        #expect(log.attempts == [1, 2], "\(log.events)")
        #expect(!log.events.contains(.reconnected))
        #expect(source.stats.lastError?.ffmpegCode == fervid_averror(ECONNREFUSED))
        // Bound from the options: one read timeout plus every attempt's wait and open timeout.
        #expect(ended < options.readTimeout + 0.3 + 2 * options.openTimeout)
        #expect(!watchdog.fired)
    }

    @Test("UDP MPEG-TS stream decodes; a killed sender ends it by the read timeout")
    func udpDecodeAndSenderKilled() throws {
        let port = freePort(udp: true)
        let sender = try ServerProcess(Self.encoderArguments(codec: "mpeg2video")
            + ["-f", "mpegts", "udp://127.0.0.1:\(port)?pkt_size=1316"])
        defer { sender.stop() }
        let options = VideoSourceOptions(openTimeout: 4, readTimeout: 1,
                                         reconnect: ReconnectPolicy(attempts: 1, initialDelay: 0.1))
        let source = try VideoSource(url: "udp://127.0.0.1:\(port)", options: options)
        let watchdog = Watchdog(source, seconds: 30)
        defer { watchdog.cancel() }
        #expect(source.isLive)
        #expect(source.info.codec == "mpeg2video" && source.info.width == 320)

        let frames = try Self.read(source, limit: 25)
        #expect(frames.count == 25)
        #expect(Self.strictlyIncreasing(frames.map(\.pts)))
        #expect(frames.allSatisfy { $0.wallclock != nil && $0.width == 320 && $0.height == 240 })

        sender.stop()
        let killed = now()
        var after = 0
        while after < 1000, try source.nextFrame() != nil { after += 1 }
        let ended = now() - killed
        #expect(source.endReason == .disconnected)
        #expect(source.stats.timeouts >= 2, "the read and the reopen both time out; \(String(describing: source.stats.lastError))")
        #expect(source.stats.reconnectAttempts == 1)
        #expect(ended < options.readTimeout + 0.1 + 2 * options.openTimeout + 1)
        #expect(!watchdog.fired)
    }

    @Test("a stalled server (SIGSTOP) times out")
    func stalledServerTimesOut() throws {
        let port = freePort()
        let server = try Self.httpServer(port: port)
        defer { server.stop() }  // SIGKILL ends a stopped process too
        let options = VideoSourceOptions(openTimeout: 1.5, readTimeout: 1,
                                         reconnect: ReconnectPolicy(attempts: 1, initialDelay: 0.1))
        let source = try Self.openWhenListening("http://127.0.0.1:\(port)/live.ts", options: options)
        let watchdog = Watchdog(source, seconds: 30)
        defer { watchdog.cancel() }
        #expect(try Self.read(source, limit: 10).count == 10)

        server.signal(SIGSTOP)
        var after = 0
        while after < 1000, try source.nextFrame() != nil { after += 1 }
        #expect(source.endReason == .disconnected)
        #expect(source.stats.timeouts >= 1, "\(String(describing: source.stats.lastError))")
        #expect(source.stats.reconnectAttempts == 1)
        #expect(!watchdog.fired)
    }

    @Test("a port nobody listens on fails at once with connection refused", arguments: ["tcp", "http"])
    func closedPort(scheme: String) {
        let port = freePort()
        // A long open timeout: failing by timeout instead of by refusal would show in the error.
        let options = VideoSourceOptions(openTimeout: 30, readTimeout: 30)
        #expect {
            _ = try VideoSource(url: "\(scheme)://127.0.0.1:\(port)/live.ts", options: options)
        } throws: { error in
            guard let e = error as? VideoError else { return false }
            return e.ffmpegCode == fervid_averror(ECONNREFUSED) && e.description.contains("Connection refused")
        }
    }

    @Test("interrupt() from another thread stops a blocked read within 0.5 s")
    func interruptStopsBlockedRead() throws {
        let port = freePort()
        let server = try Self.httpServer(port: port)
        defer { server.stop() }
        // Timeouts far beyond the test: only the interrupt can end this read.
        let options = VideoSourceOptions(openTimeout: 30, readTimeout: 60, reconnect: .never)
        let source = try Self.openWhenListening("http://127.0.0.1:\(port)/live.ts", options: options)
        #expect(try Self.read(source, limit: 5).count == 5)
        server.signal(SIGSTOP)

        let stamp = TimeStamp()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) {
            stamp.set(now())
            source.interrupt()
        }
        var lastFrameAt = now()
        var after = 0
        while after < 1000, try source.nextFrame() != nil {
            after += 1
            lastFrameAt = now()
        }
        let returned = now()
        let interruptedAt = try #require(stamp.value, "the read ended before the interrupt")
        #expect(source.endReason == .interrupted)
        #expect(lastFrameAt < interruptedAt, "the reader was blocked, not decoding, when interrupted")
        #expect(returned - interruptedAt < 0.5)
        #expect(source.stats.timeouts == 0)
    }

    @Test("interrupt stops a blocked open (UDP port with no sender)")
    func interruptStopsBlockedOpen() {
        let port = freePort(udp: true)
        let interrupt = VideoInterrupt()
        let stamp = TimeStamp()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            stamp.set(now())
            interrupt.interrupt()
        }
        let options = VideoSourceOptions(openTimeout: 30, readTimeout: 30)
        #expect(throws: VideoError.interrupted) {
            _ = try VideoSource(url: "udp://127.0.0.1:\(port)", options: options, interrupt: interrupt)
        }
        if let at = stamp.value { #expect(now() - at < 0.5) }
    }

    @Test("a reconnect resumes decoding and the pts stay monotonic though the stream's clock restarts")
    func reconnectKeepsTimestampsMonotonic() throws {
        let port = freePort()
        var server = try Self.httpServer(port: port)
        defer { server.stop() }
        let policy = ReconnectPolicy(attempts: 20, initialDelay: 0.2, maxDelay: 0.2)
        let options = VideoSourceOptions(openTimeout: 5, readTimeout: 2, reconnect: policy)
        let source = try Self.openWhenListening("http://127.0.0.1:\(port)/live.ts", options: options)
        let log = ConnectionLog(source)
        let watchdog = Watchdog(source, seconds: 40)
        defer { watchdog.cancel() }
        let before = try Self.read(source, limit: 15).map { ($0.pts, $0.timestamp ?? 0) }
        #expect(before.count == 15)

        server.stop()
        server = try Self.httpServer(port: port)  // a new server: its clock starts again
        var after: [(Double, Int64)] = []
        var reconnectsSeen = 0
        while after.count < 15, let frame = try source.nextFrame() {
            if source.stats.reconnects > 0 {
                after.append((frame.pts, frame.timestamp ?? 0))
                reconnectsSeen = source.stats.reconnects
            }
        }
        #expect(after.count == 15)
        #expect(reconnectsSeen == 1)
        #expect(source.stats.disconnects == 1)
        // Events: the drop, each reopen attempt (1, 2, … of 20), then the reopen that worked.
        if case .dropped? = log.events.first {} else { Issue.record("first event \(log.events)") }
        #expect(log.events.last == .reconnected)
        #expect(log.attempts == Array(1 ... max(1, log.attempts.count)) && log.attempts.count == source.stats.reconnectAttempts, "\(log.events)")
        let all = before.map(\.0) + after.map(\.0)
        #expect(Self.strictlyIncreasing(all))
        if let lastBefore = before.last, let firstAfter = after.first {
            #expect(firstAfter.1 < lastBefore.1, "the new stream's own timestamps did start over")
            #expect(firstAfter.0 - lastBefore.0 >= 0.04)
        }
        #expect(!watchdog.fired)
    }
}

/// A source's connection events (``VideoSource/onConnection``), in order.
final class ConnectionLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _events: [ConnectionEvent] = []
    var events: [ConnectionEvent] { lock.withLock { _events } }
    var dropped: Int { events.filter { if case .dropped = $0 { true } else { false } }.count }
    /// The attempt numbers of the `.reconnecting` events.
    var attempts: [Int] { events.compactMap { if case let .reconnecting(n, _) = $0 { n } else { nil } } }

    init(_ source: VideoSource) {
        source.onConnection = { [self] event in lock.withLock { _events.append(event) } }
    }
}

/// Interrupts a source that is still running after `seconds`; `fired` then fails the test.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var _fired = false

    init(_ source: VideoSource, seconds: Double) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.lock()
            defer { lock.unlock() }
            if !cancelled {
                _fired = true
                source.interrupt()
            }
        }
    }

    func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    var fired: Bool { lock.lock(); defer { lock.unlock() }; return _fired }
}

/// A time set once from another thread.
final class TimeStamp: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: Double?
    func set(_ v: Double) { lock.lock(); _value = v; lock.unlock() }
    var value: Double? { lock.lock(); defer { lock.unlock() }; return _value }
}
