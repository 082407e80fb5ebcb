import Foundation
import Timeline
import Video

/// Everything one `fervid analyze` run of one input needs besides its stages.
public struct AnalyzerOptions: Sendable {
    /// File path or URL.
    public var input: String
    /// Timeline output path, or `-` for standard output (no sidecar then).
    public var output: String
    /// Write the sidecar `<output>.json` when the timeline is a regular file.
    public var sidecar = true
    public var format: TimelineFormat = .csv
    public var smoothing: SmoothingSpec = .ema(tau: SmoothingSpec.defaultTau)
    /// Add the unsmoothed `raw_<class>` columns.
    public var raw = false
    /// Add the `latency` column (live sources): seconds from a frame's arrival to its row being written.
    public var latencyColumn = false
    /// Add the five facial landmarks (`x_0…x_4, y_0…y_4`; JSON Lines `landmarks`).
    public var landmarks = false
    public var pipeline = PipelineSettings()
    public var video = VideoSourceOptions()
    /// Where to write the summary as JSON.
    public var summaryPath: String?
    /// Where to write the SVG timeline chart (nil: none).
    public var plotPath: String?
    /// Where to write the annotated video (nil: none).
    public var annotatedVideoPath: String?
    /// Copy the source's audio into the annotated video.
    public var copyAudio = true
    /// Model name as given and its metadata, for the sidecar.
    public var modelName = ""
    public var modelMetadata: [String: String] = [:]
    /// SHA-256 of the model file, for the sidecar (``TimelineSidecar/Model/sha256``).
    public var modelSHA256: String?
    /// The options that shape the timeline, as the CLI spells them, for the sidecar.
    public var settings: [String: String]?
    public var fervidVersion = FervidVersion.number
    /// Seconds between rewrites of the sidecar while the run goes (its frame counts and
    /// `updated_time`), so that a killed run leaves a sidecar that says how far it got.
    public var sidecarInterval = 2.0
    /// Decoder errors (rejected packets plus concealed frames) a file may have and still be
    /// `complete`; more make the run `partial` with reason `decode_errors`.
    public var maxDecodeErrors = 0

    public init(input: String, output: String) {
        self.input = input
        self.output = output
    }
}

/// What a finished run reports.
public struct AnalysisReport: Sendable {
    public var summary: TimelineSummary
    public var stats: PipelineStats
    public var decode: DecodeStats
    public var endReason: EndReason?
    public var rowsWritten: Int
    /// True when the run was stopped (Ctrl-C) before the input ended.
    public var interrupted: Bool
    /// `complete` or `partial` (a failed run throws instead), as the sidecar says.
    public var status: RunStatus
    /// Why the run is partial; nil when complete.
    public var reason: RunReason?
    /// One line saying why, for standard error; nil when complete.
    public var detail: String?
}

/// How a run ended: the sidecar's `status`, `reason` and `detail`.
public struct RunOutcome: Sendable, Equatable {
    public var status: RunStatus
    public var reason: RunReason?
    public var detail: String?

    public init(status: RunStatus, reason: RunReason? = nil, detail: String? = nil) {
        self.status = status
        self.reason = reason
        self.detail = detail
    }

    public static let complete = RunOutcome(status: .complete)
    public static let running = RunOutcome(status: .partial, reason: .running,
                                           detail: "the run is going on (or was killed before it ended)")

    /// The outcome of a run that ended without an error: from why the source stopped, whether
    /// the run was stopped, and the decoder's error counts.
    public static func of(endReason: EndReason?, decode: DecodeStats, stopped: String?, maxDecodeErrors: Int) -> RunOutcome {
        if let stopped { return RunOutcome(status: .partial, reason: .interrupted, detail: stopped) }
        switch endReason {
        case .interrupted:
            return RunOutcome(status: .partial, reason: .interrupted, detail: "stopped before the input ended")
        case .disconnected:
            // A live stream has no end fervid could check: its going away (after the reconnect
            // attempts) is its end, and every frame that arrived was analyzed or counted as
            // dropped. Complete, with how it ended in `detail`.
            return RunOutcome(status: .complete, reason: nil,
                              detail: "the live stream ended (\(decode.reconnectAttempts) reconnect attempts after it went away)")
        case let .readError(error):
            if case .truncated = error {
                return RunOutcome(status: .partial, reason: .truncated, detail: error.description)
            }
            return RunOutcome(status: .partial, reason: .readError, detail: "the input ended early: \(error.description)")
        case .endOfInput, nil:
            // nil: the sampler finished (--end) before the source did.
            let errors = decode.corruptPackets + decode.corruptFrames
            if errors > maxDecodeErrors {
                var text = "\(decode.corruptPackets) damaged packets skipped and \(decode.corruptFrames) damaged frames concealed"
                if let last = decode.lastError { text += " (last: \(last.description))" }
                return RunOutcome(status: .partial, reason: .decodeErrors, detail: text)
            }
            return .complete
        }
    }
}

/// Progress of a running analysis, for a progress line.
public struct AnalysisProgress: Sendable {
    public var stats: PipelineStats
    /// Input duration in seconds when known (files).
    public var duration: Double?
    public var live: Bool
}

/// Runs one input end to end: source → pipeline → per-track smoother → sinks (the timeline, its
/// sidecar, the summary, the plot and the annotated video the options name, then the caller's
/// own). Everything the CLI's `analyze` does for one input, as a library call:
/// ```swift
/// let analyzer = try Analyzer(options: options, faceStage: stage, classifier: model)
/// let report = try analyzer.run()
/// print(report.summary.text)
/// ```
public final class Analyzer: @unchecked Sendable {
    public let options: AnalyzerOptions
    public let source: VideoSource
    public let pipeline: AnalysisPipeline
    /// Every output, in the order they start and finish: the sidecar, the timeline, then the
    /// summary, the annotated video and the plot the options ask for, then the caller's own sinks.
    public let sinks: [any AnalysisSink]
    /// The timeline (`options.output`).
    public let timeline: TimelineSink
    private let startTime = Date()

    /// Opens the input, then the outputs the options name (the timeline and its sidecar are
    /// created when the run starts). Throws ``VideoError`` when the input cannot be opened
    /// (``VideoError/interrupted`` when `interrupt` fired meanwhile: another thread can stop a
    /// blocked open), ``OutputError`` (naming the file) when an output cannot.
    /// `sinks` receive the run's frames, rows and end besides those (a library user's outputs).
    public init(options: AnalyzerOptions, faceStage: FaceStage, classifier: FrameClassifier,
                interrupt: VideoInterrupt = VideoInterrupt(), sinks extra: [any AnalysisSink] = []) throws {
        self.options = options
        source = try VideoSource(url: options.input, options: options.video, interrupt: interrupt)
        timeline = TimelineSink(path: options.output, format: options.format)
        var sinks: [any AnalysisSink] = []
        // A sidecar goes next to a regular file only (never `/dev/null.json`). It starts before
        // the timeline, so that a timeline never exists without one (a run killed at any point
        // leaves a sidecar that says it is not complete), and finishes after it is closed.
        if options.sidecar, let path = TimelineSidecar.path(forOutputIfRegular: options.output) {
            sinks.append(SidecarSink(path: path, timeline: timeline, interval: options.sidecarInterval))
        }
        sinks.append(timeline)
        if let path = options.summaryPath { sinks.append(SummarySink(path: path)) }
        if let path = options.annotatedVideoPath {
            sinks.append(try AnnotatedVideoSink(path: path, copyAudio: options.copyAudio, source: source.info))
        }
        if let path = options.plotPath { sinks.append(PlotSink(path: path, options: options)) }
        self.sinks = sinks + extra
        var settings = options.pipeline
        settings.live = source.isLive
        pipeline = AnalysisPipeline(source: source, faceStage: faceStage, classifier: classifier, settings: settings)
        pipeline.keepFrames = self.sinks.contains { $0.needsFrames }
    }

    /// Stops reading; frames in flight are finished and every output is closed properly. The
    /// run ends `partial` with reason `interrupted`; `why` is its detail (e.g. "stopped by SIGINT").
    public func stop(_ why: String = "stopped before the input ended") {
        stopLock.withLock { if stopDetail == nil { stopDetail = why } }
        pipeline.stop()
    }

    private let stopLock = NSLock()
    private var stopDetail: String?

    public var isLive: Bool { source.isLive }

    /// Runs to the end of the input (or ``stop()``). Rows go to the sinks as they come.
    public func run() throws -> AnalysisReport {
        let columns = TimelineColumns(includeRaw: options.raw, includeWallclock: source.isLive,
                                      includeLandmarks: options.landmarks,
                                      includeLatency: options.latencyColumn && source.isLive)
        // The smoother validates `window` on a live source before anything is written.
        var smoother = try TimelineSmoother(spec: options.smoothing, live: source.isLive)
        _ = try ClassMapping(modelLabels: pipeline.classifier.labels)
        let pipeline = pipeline
        let run = AnalysisRun(options: options, columns: columns, labels: pipeline.classifier.labels,
                              source: source.info, live: source.isLive, startTime: startTime,
                              stats: { pipeline.stats })
        for (i, sink) in sinks.enumerated() {
            do { try sink.start(run) } catch {
                // The sinks already started (the sidecar) record the failure; nothing else starts.
                let end = AnalysisEnd(summary: TimelineSummaryBuilder().summary(), stats: PipelineStats(), decode: nil,
                                      outcome: RunOutcome(status: .failed, reason: .error, detail: "\(error)"))
                for started in sinks[..<i] { try? started.finish(end) }
                throw error
            }
        }
        var builder = TimelineSummaryBuilder()
        let raw = options.raw, landmarks = options.landmarks
        // The summary always sees the raw probabilities (label changes raw vs smoothed); the
        // sinks (timeline, plot, annotated video) only with --raw (landmarks: --landmarks).
        func emit(_ rows: [TimelineRow]) throws {
            builder.add(rows)
            let written = Date()
            let kept = rows.map { row in
                var row = row
                if !raw { row.face?.rawProbabilities = nil }
                if !landmarks { row.face?.landmarks = [] }
                if let wall = row.wallclock { row.latency = max(0, written.timeIntervalSince(wall)) }
                return row
            }
            for sink in sinks { try sink.rows(kept) }
        }
        var runError: Error?
        do {
            try pipeline.run { result in
                var rows = smoother.push(result.frame)
                for id in result.endedTracks { rows += smoother.endTrack(id) }
                for sink in sinks { try sink.frame(result) }
                try emit(rows)
            }
        } catch {
            runError = error
        }
        // Whatever happened, flush what the smoothers hold and close the outputs properly.
        let tail = smoother.finish()
        do { try emit(tail) } catch { if runError == nil { runError = error } }
        for sink in sinks {
            do { try sink.close() } catch { if runError == nil { runError = error } }
        }
        let stats = pipeline.stats
        let summary = builder.summary()
        // The decoder's counters are read here, after every stage has stopped.
        let decode = source.stats
        let outcome: RunOutcome
        if let runError {
            outcome = RunOutcome(status: .failed, reason: .error, detail: "\(runError)")
        } else {
            outcome = RunOutcome.of(endReason: source.endReason, decode: decode,
                                    stopped: stopLock.withLock { stopDetail },
                                    maxDecodeErrors: options.maxDecodeErrors)
        }
        // Every sink finishes, also after a failure; the run's error comes first, then the
        // first sink's.
        let end = AnalysisEnd(summary: summary, stats: stats, decode: decode, outcome: outcome)
        var sinkError: Error?
        for sink in sinks {
            do { try sink.finish(end) } catch { sinkError = sinkError ?? error }
        }
        if let runError { throw runError }
        if let sinkError { throw sinkError }
        return AnalysisReport(summary: summary, stats: stats, decode: decode, endReason: source.endReason,
                              rowsWritten: timeline.rowsWritten, interrupted: pipeline.isStopping,
                              status: outcome.status, reason: outcome.reason, detail: outcome.detail)
    }

    /// A progress snapshot (any thread).
    public var progress: AnalysisProgress {
        AnalysisProgress(stats: pipeline.stats, duration: source.info.duration, live: source.isLive)
    }
}
