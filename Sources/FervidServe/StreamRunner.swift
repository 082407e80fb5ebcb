import Analysis
import Faces
import Foundation
import Timeline
import Video

/// The lifecycle of one stream, as the API reports it.
public enum StreamStatus: String, Sendable, Codable, CaseIterable {
    /// Opening the input.
    case connecting
    /// Frames are being analyzed.
    case live
    /// The live input dropped and the reader is reopening it (its reconnect policy); `reason`
    /// says why it dropped and which attempt this is. From the reader's own events, not guessed
    /// from silence: a read that stalls counts as a drop after the read timeout.
    case reconnecting
    /// The input ended, was deleted, or the server drained it.
    case ended
    /// The input could not be opened or read; `reason` says why.
    case failed
}

/// Per-stream options of `POST /streams` (all optional; the server's defaults apply).
public struct StreamOptions: Sendable, Codable, Equatable {
    /// `detect` (MTCNN + tracker) or `center` (the centred square).
    public var faces: String?
    /// `all`, `largest` or `central`.
    public var select: String?
    /// Seconds of stream time between face-detector passes (tracking in between).
    public var detectInterval: Double?
    /// Analyze at most this many frames per second of stream time.
    public var fps: Double?
    /// `none`, `ema[:TAU]` or `hmm[:STAY]` (`window` needs the future: not for live streams).
    public var smooth: String?
    /// Timeline file format under `--out`: `csv` or `jsonl`.
    public var format: String?
    /// Also keep the unsmoothed probabilities.
    public var raw: Bool?
    /// `auto`, `live` or `file`.
    public var live: String?
    /// Seconds an open or read may block.
    public var timeout: Double?
    /// Reopen attempts after the input drops.
    public var reconnect: Int?

    public init() {}
}

/// A validated stream request: what ``StreamRunner`` runs.
public struct StreamSpec: Sendable {
    public var url: String
    public var name: String
    public var options: StreamOptions
    public var faceMode: FaceMode
    public var select: FaceSelection
    public var detectInterval: Double
    public var smoothing: SmoothingSpec
    public var format: TimelineFormat
    public var video: VideoSourceOptions
    public var sampler: FrameSampler
}

/// Why a request was refused: a 4xx with a JSON error.
public struct RequestError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { message }
}

/// The stream URL policy: network protocols only (FFmpeg's `protocol_whitelist`, which nested
/// opens such as HLS segments inherit, so a playlist cannot reference local files either).
public enum StreamURLPolicy {
    /// URL schemes a stream may use.
    public static let schemes: Set<String> = ["http", "https", "tcp", "udp", "rtp", "rtsp", "rtsps", "rtmp", "rtmps", "srt"]
    /// What FFmpeg may open for a stream, nested opens included (`tls`/`crypto`/`httpproxy` carry
    /// the network protocols above; `file`, `concat`, `subfile`, `data`, `pipe`, `unix` … are absent).
    public static let protocolWhitelist = "http,https,tcp,udp,rtp,rtsp,rtsps,rtmp,rtmps,srt,tls,crypto,httpproxy"
    public static let maxLength = 2048

    /// Checks `url`; the error says which rule it broke.
    public static func check(_ url: String) throws(RequestError) {
        guard !url.isEmpty else { throw RequestError(400, "url is empty") }
        guard url.utf8.count <= maxLength else { throw RequestError(400, "url is longer than \(maxLength) bytes") }
        guard !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) else {
            throw RequestError(400, "url contains spaces or control characters")
        }
        guard let range = url.range(of: "://") else {
            throw RequestError(400, "url \(url) is not a network URL (scheme://host…); local files are not allowed")
        }
        let scheme = url[..<range.lowerBound].lowercased()
        guard schemes.contains(scheme) else {
            throw RequestError(400, "url scheme '\(scheme)' is not allowed; use one of \(schemes.sorted().joined(separator: ", "))")
        }
        let rest = url[range.upperBound...]
        guard let first = rest.first, first != "/" else { throw RequestError(400, "url \(url) has no host") }
    }
}

/// Sendable box for a class the adapter shares across threads behind its own lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// One loaded classifier shared by every stream (the engine's classify is thread-safe: weights
/// once, workspaces per call); each call's batch size is reported.
public final class SharedClassifier: FrameClassifier, @unchecked Sendable {
    public let base: FrameClassifier
    public let labels: [String]
    public let input: ClassifierInput
    /// Called with each classifier call's batch size (any thread).
    public var onBatch: (@Sendable (Int) -> Void)?

    public init(_ base: FrameClassifier) {
        self.base = base
        labels = base.labels
        input = base.input
    }

    public func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]] {
        onBatch?(count)
        return try base.classify(batch, count: count)  // thread-safe: one model, any number of callers
    }
}

/// A consistent view of one stream for the API and the dashboard.
public struct StreamSnapshot: Sendable, Codable {
    public var id: String
    public var name: String
    public var url: String
    public var status: StreamStatus
    public var reason: String?
    public var createdAt: String
    public var endedAt: String?
    /// Analyzed frames per second over the last few seconds.
    public var fps: Double
    public var framesRead: Int
    public var framesAnalyzed: Int
    public var framesDropped: Int
    /// Seconds from a frame's arrival to its row, over the last 512 frames.
    public var latencyP50: Double?
    public var latencyP95: Double?
    /// Faces in the latest analyzed frame, and crops classified so far.
    public var faces: Int
    public var facesTotal: Int
    public var rows: Int
    /// The latest row's label and stream time.
    public var label: String?
    public var lastTimestamp: Double?
    /// Rows the database buffer had to drop (0 without --db).
    public var dbDropped: Int
    /// Times the live input dropped, and times it was reopened.
    public var disconnects: Int
    public var reconnects: Int
    /// The timeline file and its sidecar.
    public var output: String
    public var sidecar: String
    public var options: StreamOptions
}

/// The adapter between the service and the analysis library: one stream = one ``Analyzer`` on
/// its own thread, its rows handed to the service as they become final.
public final class StreamRunner: @unchecked Sendable {
    public let id: String
    public let spec: StreamSpec
    public let outputPath: String
    public let createdAt = Date()

    /// Rows as they become final (the runner's thread), with the index of the first among all
    /// the stream's rows (0 for its first row).
    var onRows: (@Sendable (StreamRunner, [TimelineRow], Int) -> Void)?
    /// Status changes (any thread).
    var onStatus: (@Sendable (StreamRunner, StreamStatus, String?) -> Void)?

    private struct State {
        var status = StreamStatus.connecting
        var reason: String?
        var endedAt: Date?
        var analyzer: Analyzer?
        var stopReason: String?
        var finished = false
        var rows = 0
        var faces = 0
        var label: String?
        var lastTimestamp: Double?
        var lastFrame = -1
        var frameTimes: [Date] = []
        var latencies: [Double] = []
        var latencyNext = 0
        var recent: [TimelineRow] = []
        var recentStart = 0
        var evicted = false
        var columns = TimelineColumns()
        var dbDropped = 0
        /// The live reader's connection: drops, successful reopens, and why it last dropped.
        var disconnects = 0
        var reconnects = 0
        var lastDrop: String?
    }

    private let state: Locked<State>
    private let interrupt = VideoInterrupt()
    private let finishedSignal = DispatchSemaphore(value: 0)
    let classifier: FrameClassifier
    let modelName: String
    let modelMetadata: [String: String]
    /// Rows kept in memory for `timeline?since=` (older ones are read back from the file).
    let keepRows: Int

    init(id: String, spec: StreamSpec, outputPath: String, classifier: FrameClassifier, modelName: String,
         modelMetadata: [String: String], keepRows: Int) {
        self.id = id
        self.spec = spec
        self.outputPath = outputPath
        self.classifier = classifier
        self.modelName = modelName
        self.modelMetadata = modelMetadata
        self.keepRows = max(1, keepRows)
        state = Locked(State())
    }

    /// Starts the stream's thread (opening the input happens there).
    func start() {
        let thread = Thread { [self] in
            body()
            finishedSignal.signal()
        }
        thread.stackSize = 8 << 20
        thread.name = "stream-\(id)"
        thread.start()
    }

    /// Stops reading (any thread): frames in flight are finished, outputs closed, status `ended`.
    func stop(reason: String) {
        let analyzer = state.withLock { s -> Analyzer? in
            if s.stopReason == nil { s.stopReason = reason }
            return s.analyzer
        }
        interrupt.interrupt()
        analyzer?.stop()
    }

    /// Waits until the stream's thread has closed its outputs; false on timeout.
    func waitFinished(timeout: Double) -> Bool {
        if state.withLock({ $0.finished }) { return true }
        if finishedSignal.wait(timeout: .now() + timeout) == .success {
            finishedSignal.signal()  // later waiters pass too
            return true
        }
        return false
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    func addDBDropped(_ n: Int) { state.withLock { $0.dbDropped += n } }

    private func setStatus(_ status: StreamStatus, reason: String?) {
        let changed = state.withLock { s -> Bool in
            guard s.status != status || s.reason != reason else { return false }
            if s.status == .ended || s.status == .failed { return false }
            s.status = status
            s.reason = reason
            if status == .ended || status == .failed { s.endedAt = Date() }
            return true
        }
        if changed { onStatus?(self, status, reason) }
    }

    private func body() {
        var options = AnalyzerOptions(input: spec.url, output: outputPath)
        options.format = spec.format
        options.smoothing = spec.smoothing
        options.raw = spec.options.raw ?? false
        options.modelName = modelName
        options.modelMetadata = modelMetadata
        options.pipeline.sampler = spec.sampler
        options.video = spec.video
        let analyzer: Analyzer
        do {
            let faceStage = try FaceStageFactory.make(mode: spec.faceMode, select: spec.select, detectInterval: spec.detectInterval)
            analyzer = try Analyzer(options: options, faceStage: faceStage, classifier: classifier, interrupt: interrupt,
                                    sinks: [RowSink(runner: self)])
        } catch let error as VideoError {
            if case .interrupted = error {
                setStatus(.ended, reason: state.withLock { $0.stopReason } ?? "stopped")
            } else {
                setStatus(.failed, reason: error.description)
            }
            state.withLock { $0.finished = true }
            return
        } catch {
            setStatus(.failed, reason: "\(error)")
            state.withLock { $0.finished = true }
            return
        }
        analyzer.source.onConnection = { [weak self] event in self?.connection(event) }
        let stopped = state.withLock { s -> Bool in
            s.analyzer = analyzer
            s.columns = TimelineColumns(includeRaw: options.raw, includeWallclock: analyzer.isLive)
            return s.stopReason != nil
        }
        if stopped { analyzer.stop() }
        setStatus(.live, reason: nil)
        do {
            let report = try analyzer.run()
            let reason: String
            switch report.endReason {
            case .endOfInput?: reason = "input ended"
            case .disconnected?: reason = "input disconnected; reconnect attempts exhausted"
            case .readError(let e)?: reason = "read error: \(e.description)"
            case .interrupted?, nil: reason = state.withLock { $0.stopReason } ?? "stopped"
            }
            if let stop = state.withLock({ $0.stopReason }) {
                setStatus(.ended, reason: stop)
            } else {
                setStatus(.ended, reason: reason)
            }
        } catch let error as VideoError {
            setStatus(.failed, reason: error.description)
        } catch {
            setStatus(.failed, reason: "\(error)")
        }
        state.withLock { $0.finished = true }
    }

    fileprivate func received(_ rows: [TimelineRow]) {
        guard !rows.isEmpty else { return }
        let now = Date()
        var newFrames = 0
        let firstIndex = state.withLock { s -> Int in
            let firstIndex = s.rows
            for row in rows {
                if row.frame != s.lastFrame {
                    s.lastFrame = row.frame
                    newFrames += 1
                    s.frameTimes.append(now)
                    if let wall = row.wallclock {
                        let latency = now.timeIntervalSince(wall)
                        if s.latencies.count < 512 { s.latencies.append(latency) } else { s.latencies[s.latencyNext] = latency }
                        s.latencyNext = (s.latencyNext + 1) % 512
                    }
                    s.faces = 0
                }
                if let face = row.face {
                    s.faces += 1
                    if s.label == nil || face.faceID == rows.first(where: { $0.face != nil })?.face?.faceID {
                        s.label = face.label.rawValue
                    }
                }
                s.lastTimestamp = row.timestamp
            }
            if s.frameTimes.count > 256 { s.frameTimes.removeFirst(s.frameTimes.count - 256) }
            s.rows += rows.count
            s.recent += rows
            if s.recent.count > keepRows {
                let excess = s.recent.count - keepRows
                s.recent.removeFirst(excess)
                s.recentStart += excess
                s.evicted = true
            }
            return firstIndex
        }
        onRows?(self, rows, firstIndex)
    }

    /// The live reader's connection events (its thread): `reconnecting` while it reopens the
    /// input, `live` again once it has.
    private func connection(_ event: ConnectionEvent) {
        switch event {
        case .dropped(let error):
            state.withLock { s in
                s.disconnects += 1
                s.lastDrop = error?.description ?? "end of stream"
            }
        case .reconnecting(let attempt, let of):
            let why = state.withLock { $0.lastDrop } ?? "input dropped"
            setStatus(.reconnecting, reason: "input dropped (\(why)); reconnect attempt \(attempt) of \(of)")
        case .reconnected:
            state.withLock { $0.reconnects += 1 }
            setStatus(.live, reason: nil)
        }
    }

    /// Rows so far: the index the next row will have.
    var rowCount: Int { state.withLock { $0.rows } }

    /// For a new subscriber: the rows still in memory that match (`since`: timestamp at or after
    /// it; `last`: the newest N), at most `limit` (the newest), and the index the next row will
    /// have. `complete` is false when matching rows were left out (evicted, or over `limit`).
    func replay(since: Double?, last: Int?, limit: Int) -> (rows: [TimelineRow], next: Int, complete: Bool) {
        state.withLock { s in
            var start = s.recent.count
            if let since {
                let bound = since - 0.5e-6
                start = s.recent.firstIndex { $0.timestamp >= bound } ?? s.recent.count
            }
            if let last { start = min(start, max(0, s.recent.count - last)) }
            var complete = true
            // Rows before the memory's first that would have matched.
            if start == 0, s.recentStart > 0 {
                if let since, s.recent.first.map({ $0.timestamp > since }) ?? true { complete = false }
                if let last, last > s.recent.count { complete = false }
            }
            if s.recent.count - start > limit {
                start = s.recent.count - limit
                complete = false
            }
            return (Array(s.recent[start...]), s.rows, complete)
        }
    }

    /// The pipeline's counters so far (zeros before the input opened).
    var pipelineStats: PipelineStats {
        state.withLock { $0.analyzer }?.progress.stats ?? PipelineStats()
    }

    public var status: StreamStatus { state.withLock { $0.status } }

    public func snapshot() -> StreamSnapshot {
        let stats = pipelineStats
        return state.withLock { s in
            let now = Date()
            let window = s.frameTimes.filter { now.timeIntervalSince($0) <= 5 }
            var fps = 0.0
            if window.count >= 2, s.status == .live || s.status == .reconnecting {
                fps = Double(window.count - 1) / max(1e-3, window.last!.timeIntervalSince(window.first!))
            }
            let sorted = s.latencies.sorted()
            func quantile(_ q: Double) -> Double? {
                guard !sorted.isEmpty else { return nil }
                // Nearest rank: the smallest value with at least q of the values at or below it.
                let rank = Int((q * Double(sorted.count)).rounded(.up))
                return sorted[min(sorted.count - 1, max(0, rank - 1))]
            }
            return StreamSnapshot(
                id: id, name: spec.name, url: spec.url, status: s.status, reason: s.reason,
                createdAt: ISOTime.format(createdAt), endedAt: s.endedAt.map(ISOTime.format),
                fps: (fps * 100).rounded() / 100,
                framesRead: stats.framesRead, framesAnalyzed: stats.framesAnalyzed, framesDropped: stats.framesDropped,
                latencyP50: quantile(0.5), latencyP95: quantile(0.95),
                faces: s.faces, facesTotal: stats.faces, rows: s.rows, label: s.label, lastTimestamp: s.lastTimestamp,
                dbDropped: s.dbDropped, disconnects: s.disconnects, reconnects: s.reconnects, output: outputPath, sidecar: TimelineSidecar.path(forOutput: outputPath),
                options: spec.options)
        }
    }

    /// The timeline columns the stream writes.
    var columns: TimelineColumns { state.withLock { $0.columns } }

    /// Rows with `timestamp >= since`, from memory when it still holds them, else from the file.
    /// `since` is compared at the precision timestamps are written with (6 decimals), so a client
    /// that passes a timestamp it read from the timeline gets that row too (a rounded-up 10.066667
    /// is not after the row's own 10.0666666…).
    func rows(since: Double) throws -> [TimelineRow] {
        let bound = since - 0.5e-6
        let (recent, evicted) = state.withLock { ($0.recent, $0.evicted) }
        if !evicted || (recent.first.map { $0.timestamp < bound } ?? false) {
            return recent.filter { $0.timestamp >= bound }
        }
        let document = try EmotionTimelineReader.read(path: outputPath)
        return document.rows.filter { $0.timestamp >= bound }
    }
}

/// Hands the stream's rows (as the timeline gets them) to its runner.
private final class RowSink: AnalysisSink {
    unowned let runner: StreamRunner
    init(runner: StreamRunner) { self.runner = runner }
    func rows(_ rows: [TimelineRow]) throws { runner.received(rows) }
}
