// Outputs as sinks the library owns (STYLE.md §15, swift-log's handlers, swift-nio's pipeline):
// the analyzer emits events on its consumer thread, in frame order; sinks configured in
// `AnalyzerOptions` (the timeline and its sidecar, a summary file, an SVG plot, an annotated
// video) or handed to the `Analyzer` by a library user receive them. The CLI only builds the
// options.
import Foundation
import Timeline
import Video

/// Receives one analysis run's results on the analyzer's consumer thread, in frame order.
///
/// A run calls, in the order of `Analyzer.sinks`: ``start(_:)`` on each sink; then per frame
/// ``frame(_:)`` and ``rows(_:)``; at the end (also after a failure or a stop) ``close()`` on
/// each, then decides the run's outcome, then ``finish(_:)`` on each. A sink whose `start`
/// throws fails the run: the sinks started before it finish with a `failed` outcome, the rest
/// never start. An error from `frame`, `rows` or `close` makes the run `failed`; one from
/// `finish` is thrown after every sink has finished (the run's own error first).
public protocol AnalysisSink: AnyObject {
    /// Whether ``frame(_:)`` needs each analyzed frame's picture (`FrameResult.image`): the
    /// pipeline keeps the decoded frames then.
    var needsFrames: Bool { get }
    /// Before the first frame: create the output.
    func start(_ run: AnalysisRun) throws
    /// Every analyzed frame, in frame order, before its smoothed rows.
    func frame(_ result: FrameResult) throws
    /// Smoothed rows as they become final (the timeline's rows; raw probabilities only with
    /// `raw`); they may lag the frames by the smoother's lookahead.
    func rows(_ rows: [TimelineRow]) throws
    /// The last rows are in: flush and close an output the run's result depends on (the
    /// timeline). Called before the outcome is decided.
    func close() throws
    /// The end, with the run's outcome and summary: write and close.
    func finish(_ end: AnalysisEnd) throws
}

extension AnalysisSink {
    public var needsFrames: Bool { false }
    public func start(_ run: AnalysisRun) throws {}
    public func frame(_ result: FrameResult) throws {}
    public func rows(_ rows: [TimelineRow]) throws {}
    public func close() throws {}
    public func finish(_ end: AnalysisEnd) throws {}
}

/// What a sink knows of the run it serves, from ``AnalysisSink/start(_:)`` on.
public struct AnalysisRun: Sendable {
    public let options: AnalyzerOptions
    /// The timeline's columns.
    public let columns: TimelineColumns
    /// The classifier's labels, in its output order.
    public let labels: [String]
    public let source: VideoInfo
    public let live: Bool
    public let startTime: Date
    /// The pipeline's counters so far (any thread).
    public let stats: @Sendable () -> PipelineStats
}

/// How a run ended, for ``AnalysisSink/finish(_:)``.
public struct AnalysisEnd: Sendable {
    public let summary: TimelineSummary
    public let stats: PipelineStats
    /// The decoder's counters; nil when the run failed before it started.
    public let decode: DecodeStats?
    public let outcome: RunOutcome
}

/// An output that failed: which file, and why (one line).
public struct OutputError: Error, CustomStringConvertible {
    public let path: String
    public let cause: String
    public init(path: String, cause: String) {
        self.path = path
        self.cause = cause
    }
    public var description: String { "\(path): \(cause)" }
}

/// `AnalyzerOptions.summaryPath`: the run's summary as JSON.
final class SummarySink: AnalysisSink {
    let path: String
    init(path: String) { self.path = path }
    func finish(_ end: AnalysisEnd) throws {
        do { try end.summary.write(to: path) } catch { throw OutputError(path: path, cause: error.description) }
    }
}

/// `AnalyzerOptions.plotPath`: the timeline's rows as an SVG chart, written at the end.
final class PlotSink: AnalysisSink {
    let path: String
    private var plot: TimelinePlot
    init(path: String, options: AnalyzerOptions) {
        self.path = path
        plot = TimelinePlot(source: options.input, model: options.modelName, smoothing: options.smoothing.description)
    }
    func rows(_ rows: [TimelineRow]) throws { plot.add(rows) }
    func finish(_ end: AnalysisEnd) throws {
        do { try plot.write(to: path) } catch { throw OutputError(path: path, cause: "\(error)") }
    }
}

/// `AnalyzerOptions.annotatedVideoPath`: every analyzed frame painted with its rows, encoded.
final class AnnotatedVideoSink: AnalysisSink {
    let path: String
    private var video: AnnotatedVideoWriter?
    var needsFrames: Bool { true }

    init(path: String, copyAudio: Bool, source: VideoInfo) throws {
        self.path = path
        do {
            video = try AnnotatedVideoWriter(path: path, source: source, copyAudio: copyAudio)
        } catch {
            throw OutputError(path: path, cause: error.description)
        }
    }

    func frame(_ result: FrameResult) throws {
        if let image = result.image { try named { try video?.add(image) } }
    }

    func rows(_ rows: [TimelineRow]) throws { try named { try video?.add(rows: rows) } }

    func finish(_ end: AnalysisEnd) throws {
        guard let video else { return }
        self.video = nil
        try named { try video.finish() }
    }

    private func named(_ body: () throws -> Void) throws {
        do { try body() } catch let e as OutputError { throw e } catch { throw OutputError(path: path, cause: "\(error)") }
    }
}
