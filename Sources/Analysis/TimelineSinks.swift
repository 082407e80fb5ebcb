// The timeline and its sidecar as sinks (`AnalyzerOptions.output`, `.sidecar`): the status
// contract of docs/reliability.md lives here. The sidecar is written before the timeline is
// created (a timeline never exists without one), rewritten atomically every
// `sidecarInterval` seconds while the run goes, and written a last time, after the timeline is
// closed, with the run's outcome: complete, partial (why) or failed.
import Dispatch
import Foundation
import Timeline
import Video

/// `AnalyzerOptions.output`: the timeline, CSV or JSON Lines, a file or standard output (`-`).
/// Created when the run starts; each frame's rows are written (and flushed) as they come; closed
/// before the run's outcome is decided, so a failed close makes the run `failed`.
public final class TimelineSink: AnalysisSink, @unchecked Sendable {
    public let path: String
    public let format: TimelineFormat
    private let lock = NSLock()
    private var writer: EmotionTimelineWriter?

    public init(path: String, format: TimelineFormat) {
        self.path = path
        self.format = format
    }

    /// Rows written so far (any thread).
    public var rowsWritten: Int { lock.withLock { writer }?.rowsWritten ?? 0 }

    public func start(_ run: AnalysisRun) throws {
        let created = try EmotionTimelineWriter(path: path, format: format, columns: run.columns)
        lock.withLock { writer = created }
    }

    public func rows(_ rows: [TimelineRow]) throws { try lock.withLock { writer }?.write(rows) }

    public func close() throws { try lock.withLock { writer }?.close() }

    public func finish(_ end: AnalysisEnd) throws {}
}

/// `AnalyzerOptions.sidecar`: `<timeline>.json` next to a timeline that is a regular file
/// (``TimelineSidecar``), describing that timeline and how far its run got.
public final class SidecarSink: AnalysisSink, @unchecked Sendable {
    public let path: String
    private let timeline: TimelineSink
    private let interval: Double
    /// Set by `start`, read by the timer thread after.
    private var run: AnalysisRun?
    private var inputStamp: FileStamp?
    private var timer: DispatchSourceTimer?
    /// Serialises writes; once the final one is written, periodic ones stop.
    private let lock = NSLock()
    private var final = false

    /// The sidecar of `timeline`, rewritten every `interval` seconds (at least 0.05) while the run goes.
    public init(path: String, timeline: TimelineSink, interval: Double) {
        self.path = path
        self.timeline = timeline
        self.interval = interval
    }

    /// Writes the first sidecar (`partial`, reason `running`) and starts the periodic rewrites.
    public func start(_ run: AnalysisRun) throws {
        self.run = run
        // The input's size and modification time when the run started (nil for URLs).
        inputStamp = FileStamp.of(run.options.input)
        try sidecar(run, stats: PipelineStats(), summary: nil, outcome: .running, rows: 0, decode: nil).write(to: path)
        let t = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        let period = max(0.05, interval)
        t.schedule(deadline: .now() + period, repeating: period)
        t.setEventHandler { [weak self] in self?.writeRunning() }
        t.resume()
        timer = t
    }

    /// The final sidecar, with the run's outcome.
    public func finish(_ end: AnalysisEnd) throws {
        timer?.cancel()
        guard let run else { return }
        try lock.withLock {
            final = true
            try sidecar(run, stats: end.stats, summary: end.summary, outcome: end.outcome,
                        rows: timeline.rowsWritten, decode: end.decode).write(to: path)
        }
    }

    deinit { timer?.cancel() }

    /// A running sidecar unless the final one is written (timer thread).
    private func writeRunning() {
        lock.withLock {
            guard !final, let run else { return }
            // A failed periodic write is not fatal: the final write reports its own failure.
            try? sidecar(run, stats: run.stats(), summary: nil, outcome: .running, rows: timeline.rowsWritten,
                         decode: nil).write(to: path)
        }
    }

    private func sidecar(_ run: AnalysisRun, stats: PipelineStats, summary: TimelineSummary?, outcome: RunOutcome,
                         rows: Int, decode: DecodeStats?) -> TimelineSidecar {
        let options = run.options, info = run.source
        var sidecar = TimelineSidecar(
            fervidVersion: options.fervidVersion,
            model: .init(name: options.modelName, labels: run.labels, metadata: options.modelMetadata,
                         sha256: options.modelSHA256),
            columns: run.columns, format: options.format, smoothing: options.smoothing,
            source: .init(location: options.input, live: run.live,
                          rotation: info.autorotated ? info.orientation.rotation : 0,
                          mirrored: info.autorotated && info.orientation.mirrored,
                          stamp: inputStamp, duration: info.duration),
            startTime: run.startTime,
            endTime: outcome.reason == .running ? nil : Date(),
            status: outcome.status, reason: outcome.reason, detail: outcome.detail, rows: rows,
            frames: .init(read: stats.framesRead, analyzed: stats.framesAnalyzed, dropped: stats.framesDropped,
                          corrupt: decode.map { $0.corruptPackets + $0.corruptFrames }, lastTimestamp: stats.lastTimestamp),
            faces: summary.map { s in s.tracks.reduce(0) { $0 + $1.frames } } ?? stats.faces,
            tracks: summary?.tracks.count ?? stats.tracks.count,
            live: stats.live.map(Self.live))
        sidecar.settings = options.settings
        return sidecar
    }

    static func live(_ s: LiveStats) -> TimelineSidecar.Live {
        TimelineSidecar.Live(maxLag: s.maxLag, droppedThinned: s.droppedThinned, droppedStale: s.droppedStale,
                             dropsPerMinute: s.dropsPerMinute, latencyP50: s.latency.p50, latencyP95: s.latency.p95,
                             latencyMax: s.latency.max, streamFps: s.streamRate, sustainedFps: s.sustainedRate,
                             bufferedPeak: s.bufferedPeak, lagPeak: s.lagPeak)
    }
}
