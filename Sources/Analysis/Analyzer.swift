import Foundation
import Timeline
import Video

/// Everything one `fervid analyze` run of one input needs besides its stages.
public struct AnalyzerOptions: Sendable {
    /// File path or URL.
    public var input: String
    /// Timeline output path, or `-` for standard output (no sidecar then).
    public var output: String
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
}

/// Progress of a running analysis, for a progress line.
public struct AnalysisProgress: Sendable {
    public var stats: PipelineStats
    /// Input duration in seconds when known (files).
    public var duration: Double?
    public var live: Bool
}

/// Runs one input end to end: source → pipeline → per-track smoother → timeline writer, sidecar
/// and summary. Everything the CLI's `analyze` does for one input, as a library call:
/// ```swift
/// let analyzer = try Analyzer(options: options, faceStage: stage, classifier: model)
/// let report = try analyzer.run()
/// print(report.summary.text)
/// ```
public final class Analyzer: @unchecked Sendable {
    public let options: AnalyzerOptions
    public let source: VideoSource
    public let pipeline: AnalysisPipeline
    /// The outputs besides the timeline, in the order they finish: the summary, the annotated
    /// video and the plot the options ask for, then the caller's own sinks.
    public let sinks: [any AnalysisSink]
    private let startTime = Date()

    /// Opens the input, then the outputs the options name. Throws ``VideoError`` when the input
    /// cannot be opened (``VideoError/interrupted`` when `interrupt` fired meanwhile: another
    /// thread can stop a blocked open), ``OutputError`` (naming the file) when an output cannot.
    /// `sinks` receive the run's frames, rows and end besides those (a library user's outputs).
    public init(options: AnalyzerOptions, faceStage: FaceStage, classifier: FrameClassifier,
                interrupt: VideoInterrupt = VideoInterrupt(), sinks extra: [any AnalysisSink] = []) throws {
        self.options = options
        source = try VideoSource(url: options.input, options: options.video, interrupt: interrupt)
        var sinks: [any AnalysisSink] = []
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

    /// Stops reading; frames in flight are finished and every output is closed properly.
    public func stop() { pipeline.stop() }

    public var isLive: Bool { source.isLive }

    /// The input file's size and modification time when the run started (nil for URLs).
    private lazy var inputStamp = FileStamp.of(options.input)

    private func sidecar(columns: TimelineColumns, stats: PipelineStats, summary: TimelineSummary?,
                         complete: Bool) -> TimelineSidecar {
        var sidecar = TimelineSidecar(
            fervidVersion: options.fervidVersion,
            model: .init(name: options.modelName, labels: pipeline.classifier.labels, metadata: options.modelMetadata,
                         sha256: options.modelSHA256),
            columns: columns, format: options.format, smoothing: options.smoothing,
            source: .init(location: options.input, live: source.isLive,
                          rotation: source.info.autorotated ? source.info.orientation.rotation : 0,
                          mirrored: source.info.autorotated && source.info.orientation.mirrored,
                          stamp: inputStamp, duration: source.info.duration),
            startTime: startTime,
            endTime: complete ? Date() : nil, complete: complete,
            frames: .init(read: stats.framesRead, analyzed: stats.framesAnalyzed, dropped: stats.framesDropped),
            faces: summary.map { s in s.tracks.reduce(0) { $0 + $1.frames } } ?? stats.faces,
            tracks: summary?.tracks.count ?? stats.tracks.count,
            live: stats.live.map(Self.sidecarLive))
        sidecar.settings = options.settings
        return sidecar
    }

    static func sidecarLive(_ s: LiveStats) -> TimelineSidecar.Live {
        TimelineSidecar.Live(maxLag: s.maxLag, droppedThinned: s.droppedThinned, droppedStale: s.droppedStale,
                             dropsPerMinute: s.dropsPerMinute, latencyP50: s.latency.p50, latencyP95: s.latency.p95,
                             latencyMax: s.latency.max, streamFps: s.streamRate, sustainedFps: s.sustainedRate,
                             bufferedPeak: s.bufferedPeak, lagPeak: s.lagPeak)
    }

    /// Runs to the end of the input (or ``stop()``). Rows are written and flushed as they come.
    public func run() throws -> AnalysisReport {
        let columns = TimelineColumns(includeRaw: options.raw, includeWallclock: source.isLive,
                                      includeLandmarks: options.landmarks,
                                      includeLatency: options.latencyColumn && source.isLive)
        // The smoother validates `window` on a live source before anything is written.
        var smoother = try TimelineSmoother(spec: options.smoothing, live: source.isLive)
        _ = try ClassMapping(modelLabels: pipeline.classifier.labels)
        let writer = try EmotionTimelineWriter(path: options.output, format: options.format, columns: columns)
        let sidecarPath = options.output == "-" ? nil : TimelineSidecar.path(forOutput: options.output)
        if let sidecarPath {
            try sidecar(columns: columns, stats: PipelineStats(), summary: nil, complete: false).write(to: sidecarPath)
        }
        var builder = TimelineSummaryBuilder()
        let raw = options.raw, landmarks = options.landmarks
        // The summary always sees the raw probabilities (label changes raw vs smoothed); the
        // timeline, the plot and the annotated video only with --raw (landmarks: --landmarks).
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
            try writer.write(kept)
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
        try? emit(tail)
        try writer.close()
        let stats = pipeline.stats
        let summary = builder.summary()
        if let sidecarPath {
            try sidecar(columns: columns, stats: stats, summary: summary, complete: runError == nil).write(to: sidecarPath)
        }
        // Every sink finishes, also after a failure; the run's error comes first, then the
        // first sink's.
        var sinkError: Error?
        for sink in sinks {
            do { try sink.finish(summary: summary) } catch { sinkError = sinkError ?? error }
        }
        if let runError { throw runError }
        if let sinkError { throw sinkError }
        return AnalysisReport(summary: summary, stats: stats, decode: source.stats, endReason: source.endReason,
                              rowsWritten: writer.rowsWritten, interrupted: pipeline.isStopping)
    }

    /// A progress snapshot (any thread).
    public var progress: AnalysisProgress {
        AnalysisProgress(stats: pipeline.stats, duration: source.info.duration, live: source.isLive)
    }
}
