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
    public var pipeline = PipelineSettings()
    public var video = VideoSourceOptions()
    /// Where to write the summary as JSON.
    public var summaryPath: String?
    /// Model name as given and its metadata, for the sidecar.
    public var modelName = ""
    public var modelMetadata: [String: String] = [:]
    public var fervidVersion = "0.1.0"

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
    /// Called on the consumer thread for every frame result, in frame order (annotated video).
    public var onResult: ((FrameResult) throws -> Void)?
    /// Called on the consumer thread with the smoothed rows as they become final (they may lag
    /// the frame results by the smoother's lookahead), and once more at the end.
    public var onRows: (([TimelineRow]) throws -> Void)?
    private let startTime = Date()

    /// Opens the input. Throws ``VideoError`` when it cannot be opened.
    /// - Parameter interrupt: pass one made beforehand to stop a blocked open from another thread.
    public init(options: AnalyzerOptions, faceStage: FaceStage, classifier: FrameClassifier,
                interrupt: VideoInterrupt = VideoInterrupt()) throws {
        self.options = options
        source = try VideoSource(url: options.input, options: options.video, interrupt: interrupt)
        var settings = options.pipeline
        settings.live = source.isLive
        pipeline = AnalysisPipeline(source: source, faceStage: faceStage, classifier: classifier, settings: settings)
    }

    /// Stops reading; frames in flight are finished and every output is closed properly.
    public func stop() { pipeline.stop() }

    public var isLive: Bool { source.isLive }

    private func sidecar(columns: TimelineColumns, stats: PipelineStats, summary: TimelineSummary?,
                         complete: Bool) -> TimelineSidecar {
        TimelineSidecar(
            fervidVersion: options.fervidVersion,
            model: .init(name: options.modelName, labels: pipeline.classifier.labels, metadata: options.modelMetadata),
            columns: columns, format: options.format, smoothing: options.smoothing,
            source: .init(location: options.input, live: source.isLive), startTime: startTime,
            endTime: complete ? Date() : nil, complete: complete,
            frames: .init(read: stats.framesRead, analyzed: stats.framesAnalyzed, dropped: stats.framesDropped),
            faces: summary.map { s in s.tracks.reduce(0) { $0 + $1.frames } } ?? stats.faces,
            tracks: summary?.tracks.count ?? stats.tracks.count)
    }

    /// Runs to the end of the input (or ``stop()``). Rows are written and flushed as they come.
    public func run() throws -> AnalysisReport {
        let columns = TimelineColumns(includeRaw: options.raw, includeWallclock: source.isLive)
        // The smoother validates `window` on a live source before anything is written.
        var smoother = try TimelineSmoother(spec: options.smoothing, live: source.isLive)
        _ = try ClassMapping(modelLabels: pipeline.classifier.labels)
        let writer = try EmotionTimelineWriter(path: options.output, format: options.format, columns: columns)
        let sidecarPath = options.output == "-" ? nil : TimelineSidecar.path(forOutput: options.output)
        if let sidecarPath {
            try sidecar(columns: columns, stats: PipelineStats(), summary: nil, complete: false).write(to: sidecarPath)
        }
        var builder = TimelineSummaryBuilder()
        let raw = options.raw
        // The summary always sees the raw probabilities (label changes raw vs smoothed); the
        // timeline, the plot and the annotated video only with --raw.
        func emit(_ rows: [TimelineRow]) throws {
            builder.add(rows)
            let kept = raw ? rows : rows.map { row in
                var row = row
                row.face?.rawProbabilities = nil
                return row
            }
            try writer.write(kept)
            try onRows?(kept)
        }
        var runError: Error?
        do {
            try pipeline.run { result in
                var rows = smoother.push(result.frame)
                for id in result.endedTracks { rows += smoother.endTrack(id) }
                try onResult?(result)
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
        if let path = options.summaryPath { try summary.write(to: path) }
        if let runError { throw runError }
        return AnalysisReport(summary: summary, stats: stats, decode: source.stats, endReason: source.endReason,
                              rowsWritten: writer.rowsWritten, interrupted: pipeline.isStopping)
    }

    /// A progress snapshot (any thread).
    public var progress: AnalysisProgress {
        AnalysisProgress(stats: pipeline.stats, duration: source.info.duration, live: source.isLive)
    }
}
