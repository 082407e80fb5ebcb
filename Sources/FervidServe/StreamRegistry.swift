import Analysis
import Faces
import Foundation
import Timeline
import Video

/// The service's settings (`fervid serve` options).
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Required on every API call when set (always when listening off loopback).
    public var token: String?
    /// Where each stream's timeline and sidecar go.
    public var outDirectory = "fervid-streams"
    /// `postgresql://user[:password]@host[:port]/database`, or nil for files only.
    public var databaseURL: String?
    /// Rows the database buffer holds while the database is away; beyond, the oldest are dropped.
    public var databaseBuffer = 100_000
    /// Most rows per INSERT.
    public var databaseBatch = 500
    public var maxStreams = 64
    /// Largest request body, bytes.
    public var maxBody = 16 * 1024
    /// Rows per stream kept in memory for `timeline?since=`.
    public var keepRows = 20_000
    /// Seconds SIGTERM may take: streams stopped and outputs closed, then the database flushed.
    public var drainTimeout = 20.0
    /// Defaults for streams' options.
    public var openTimeout = 10.0
    public var modelName = ModelLocator.defaultModel
    public init() {}

    /// Loopback addresses: the only ones served without a token.
    public var isLoopback: Bool {
        host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.")
    }
}

/// An event for `GET /streams/{id}/events` subscribers: one JSON text each.
typealias EventStream = AsyncStream<String>

/// One subscriber of a stream's events: rows from index `next` on go to it (the rows before
/// were replayed, or came before it joined).
struct Subscriber {
    var continuation: EventStream.Continuation
    var next: Int
}

/// What a new subscriber asks to be replayed (`events?since=T` or `?last=N`).
public struct ReplayRequest: Sendable {
    public var since: Double?
    public var last: Int?
    public init(since: Double? = nil, last: Int? = nil) {
        self.since = since
        self.last = last
    }
    public var isEmpty: Bool { since == nil && last == nil }
}

/// Every stream of the process, the limits, and the fan-out of their rows and status changes.
public final class StreamRegistry: @unchecked Sendable {
    public let config: ServeConfiguration
    public let metrics: ServeMetrics
    private let model = Locked<(classifier: SharedClassifier, metadata: [String: String])?>(nil)
    var database: PostgresSink?

    private struct State {
        var runners: [String: StreamRunner] = [:]
        var order: [String] = []
        var subscribers: [String: [UUID: Subscriber]] = [:]
        var draining = false
    }
    private let state = Locked(State())

    public init(config: ServeConfiguration, metrics: ServeMetrics) {
        self.config = config
        self.metrics = metrics
    }

    /// The model every stream shares; streams are refused (503) until it is set.
    public func setModel(_ classifier: FrameClassifier, metadata: [String: String]) {
        let shared = SharedClassifier(classifier)
        shared.onBatch = { [metrics] n in metrics.batchSize.record(Double(n)) }
        model.withLock { $0 = (shared, metadata) }
    }

    public var isReady: Bool { model.withLock { $0 != nil } }

    public var isDraining: Bool { state.withLock { $0.draining } }

    // MARK: - Requests

    /// The body of `POST /streams`.
    public struct CreateRequest: Codable, Sendable {
        public var url: String
        public var name: String?
        public var options: StreamOptions?
    }

    /// Validates a request into a spec; the error names the field.
    func spec(for request: CreateRequest) throws(RequestError) -> StreamSpec {
        try StreamURLPolicy.check(request.url)
        let name = request.name ?? ""
        guard name.count <= 200, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw RequestError(400, "name must be at most 200 printable characters")
        }
        let o = request.options ?? StreamOptions()
        let faceMode: FaceMode
        switch o.faces ?? "detect" {
        case "detect": faceMode = .detect
        case "center", "centre": faceMode = .center
        default: throw RequestError(400, "options.faces must be detect or center")
        }
        guard let select = FaceSelection(rawValue: o.select ?? "all") else {
            throw RequestError(400, "options.select must be all, largest or central")
        }
        let detectInterval = o.detectInterval ?? FaceStageFactory.defaultDetectInterval
        guard detectInterval >= 0, detectInterval <= 60 else { throw RequestError(400, "options.detectInterval must be 0 to 60 seconds") }
        if let fps = o.fps { guard fps > 0, fps <= 240, fps.isFinite else { throw RequestError(400, "options.fps must be in (0, 240]") } }
        guard let smoothing = SmoothingSpec(o.smooth ?? "ema") else {
            throw RequestError(400, "options.smooth must be none, ema[:TAU] or hmm[:STAY]")
        }
        if case .window = smoothing { throw RequestError(400, "options.smooth window needs the whole input; use ema or hmm for streams") }
        guard let format = TimelineFormat(rawValue: o.format ?? "csv") else { throw RequestError(400, "options.format must be csv or jsonl") }
        var video = VideoSourceOptions(openTimeout: config.openTimeout, readTimeout: config.openTimeout)
        video.formatOptions["protocol_whitelist"] = StreamURLPolicy.protocolWhitelist
        switch o.live ?? "auto" {
        case "auto": video.live = .auto
        case "live": video.live = .live
        case "file": video.live = .file
        default: throw RequestError(400, "options.live must be auto, live or file")
        }
        if let t = o.timeout {
            guard t > 0, t <= 120 else { throw RequestError(400, "options.timeout must be in (0, 120] seconds") }
            video.openTimeout = t
            video.readTimeout = t
        }
        if let r = o.reconnect {
            guard (0 ... 1000).contains(r) else { throw RequestError(400, "options.reconnect must be 0 to 1000") }
            video.reconnect.attempts = r
        }
        return StreamSpec(url: request.url, name: name, options: o, faceMode: faceMode, select: select,
                          detectInterval: detectInterval, smoothing: smoothing, format: format, video: video,
                          sampler: FrameSampler(start: nil, end: nil, rate: o.fps))
    }

    /// Starts a stream; returns its runner.
    public func create(_ request: CreateRequest) throws -> StreamRunner {
        let spec = try spec(for: request)
        guard let model = model.withLock({ $0 }) else { throw RequestError(503, "model not loaded yet") }
        let runner: StreamRunner = try state.withLock { (s: inout State) throws -> StreamRunner in
            if s.draining { throw RequestError(503, "the server is shutting down") }
            let active = s.runners.values.filter { !$0.isFinished }.count
            if active >= config.maxStreams {
                throw RequestError(429, "too many streams: \(active) running, --max-streams \(config.maxStreams)")
            }
            let (id, path) = try newIdentity(format: spec.format, taken: s.runners)
            let runner = StreamRunner(id: id, spec: spec, outputPath: path, classifier: model.classifier,
                                      modelName: config.modelName, modelMetadata: model.metadata, keepRows: config.keepRows)
            s.runners[id] = runner
            s.order.append(id)
            return runner
        }
        runner.onRows = { [weak self] runner, rows, first in self?.rowsArrived(runner, rows, first) }
        runner.onStatus = { [weak self] runner, status, reason in self?.statusChanged(runner, status, reason) }
        database?.upsert(runner.snapshot())
        runner.start()
        return runner
    }

    /// A fresh id whose output file does not exist yet (no output ever overwrites another).
    private func newIdentity(format: TimelineFormat, taken: [String: StreamRunner]) throws(RequestError) -> (String, String) {
        for _ in 0 ..< 100 {
            let id = String(UInt64.random(in: 0 ... UInt64(UInt32.max)) | (1 << 32), radix: 16).dropFirst().description
            let path = PathText.appending("\(id).emotions.\(format.rawValue)", to: config.outDirectory)
            if taken[id] == nil, !FileManager.default.fileExists(atPath: path),
               !FileManager.default.fileExists(atPath: TimelineSidecar.path(forOutput: path)) {
                return (id, path)
            }
        }
        throw RequestError(500, "could not find a free stream id under \(config.outDirectory)")
    }

    public func runner(_ id: String) -> StreamRunner? { state.withLock { $0.runners[id] } }

    public func all() -> [StreamRunner] { state.withLock { s in s.order.compactMap { s.runners[$0] } } }

    /// Stops a stream, waits (up to `timeout`) for its outputs to close, and forgets it.
    public func delete(_ id: String, timeout: Double = 15) async -> StreamSnapshot? {
        guard let runner = runner(id) else { return nil }
        runner.stop(reason: "deleted")
        let deadline = Date().addingTimeInterval(timeout)
        while !runner.isFinished, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        metrics.publish(runner)
        let snapshot = runner.snapshot()
        database?.upsert(snapshot)
        let subscribers = state.withLock { s -> [Subscriber] in
            s.runners[id] = nil
            s.order.removeAll { $0 == id }
            return Array((s.subscribers.removeValue(forKey: id) ?? [:]).values)
        }
        for c in subscribers { c.continuation.finish() }
        return snapshot
    }

    // MARK: - Events

    /// Rows a subscriber may have replayed (its buffer holds them and the live events after).
    static let replayLimit = 2000

    /// A new subscriber's event stream; it ends when the stream is deleted or the server drains.
    /// The first event is the stream's status; with a `replay` request, then a
    /// `{"type":"replay","rows":N,"complete":bool}` event and the N rows still in memory that
    /// match (at most ``replayLimit``, the newest); then the live rows, each exactly once and none
    /// missing: replay and registration happen under the lock the live rows are sent under, and a
    /// row's index tells whether the subscriber already has it.
    func subscribe(_ id: String, replay: ReplayRequest = ReplayRequest()) -> EventStream? {
        guard let runner = runner(id) else { return nil }
        let key = UUID()
        let (stream, continuation) = EventStream.makeStream(bufferingPolicy: .bufferingNewest(4096 + Self.replayLimit))
        continuation.yield(Self.statusEvent(runner.snapshot()))
        let columns = runner.columns
        let ok = state.withLock { s -> Bool in
            guard !s.draining, s.runners[id] != nil else { return false }
            var next = runner.rowCount
            if !replay.isEmpty {
                let r = runner.replay(since: replay.since, last: replay.last, limit: Self.replayLimit)
                continuation.yield("{\"type\":\"replay\",\"stream\":\"\(id)\",\"rows\":\(r.rows.count),\"complete\":\(r.complete)}")
                for row in r.rows { continuation.yield(Self.rowEvent(id, row, columns)) }
                next = r.next
            }
            s.subscribers[id, default: [:]][key] = Subscriber(continuation: continuation, next: next)
            return true
        }
        if !ok { continuation.finish() }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { s in _ = s.subscribers[id]?.removeValue(forKey: key) }
        }
        return stream
    }

    private func broadcast(_ id: String, _ text: String) {
        let targets = state.withLock { s in s.subscribers[id].map { $0.values.map(\.continuation) } ?? [] }
        for c in targets { c.yield(text) }
    }

    static func rowEvent(_ id: String, _ row: TimelineRow, _ columns: TimelineColumns) -> String {
        "{\"type\":\"row\",\"stream\":\"\(id)\",\"row\":" + EmotionTimelineWriter.jsonLine(row, columns: columns) + "}"
    }

    static func statusEvent(_ s: StreamSnapshot) -> String {
        struct Event: Encodable {
            var type = "status"
            var stream: StreamSnapshot
        }
        return (try? String(decoding: JSONEncoder().encode(Event(stream: s)), as: UTF8.self)) ?? "{}"
    }

    private func rowsArrived(_ runner: StreamRunner, _ rows: [TimelineRow], _ firstIndex: Int) {
        metrics.rows(rows, stream: runner.id, at: Date())
        database?.enqueue(stream: runner.id, rows: rows)
        let columns = runner.columns
        let id = runner.id
        // Under the lock a new subscriber replays under: each row goes to the subscribers that
        // do not have it yet (index at or after theirs).
        state.withLock { s in
            guard var subscribers = s.subscribers[id], !subscribers.isEmpty else { return }
            let texts = rows.map { Self.rowEvent(id, $0, columns) }
            for (key, var sub) in subscribers {
                for (i, text) in texts.enumerated() where firstIndex + i >= sub.next { sub.continuation.yield(text) }
                sub.next = max(sub.next, firstIndex + rows.count)
                subscribers[key] = sub
            }
            s.subscribers[id] = subscribers
        }
    }

    private func statusChanged(_ runner: StreamRunner, _ status: StreamStatus, _ reason: String?) {
        let snapshot = runner.snapshot()
        database?.upsert(snapshot)
        broadcast(runner.id, Self.statusEvent(snapshot))
    }

    /// Called periodically: counters.
    func tick() {
        for runner in all() { metrics.publish(runner) }
    }

    /// Status counts for the gauge.
    func statusCounts() -> [StreamStatus: Int] {
        var counts: [StreamStatus: Int] = [:]
        for runner in all() { counts[runner.status, default: 0] += 1 }
        return counts
    }

    /// SIGTERM: refuse new streams, stop every stream and wait (up to `timeout`) for their
    /// outputs to close, end every subscriber. True when every stream closed in time.
    func drain(timeout: Double) async -> Bool {
        let runners = state.withLock { s -> [StreamRunner] in
            s.draining = true
            return s.order.compactMap { s.runners[$0] }
        }
        for runner in runners { runner.stop(reason: "server shutting down") }
        let deadline = Date().addingTimeInterval(timeout)
        while runners.contains(where: { !$0.isFinished }), Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for runner in runners {
            metrics.publish(runner)
            database?.upsert(runner.snapshot())
        }
        let subscribers = state.withLock { s -> [EventStream.Continuation] in
            let all = s.subscribers.values.flatMap { $0.values.map(\.continuation) }
            s.subscribers = [:]
            return all
        }
        for c in subscribers { c.finish() }
        return runners.allSatisfy(\.isFinished)
    }
}
