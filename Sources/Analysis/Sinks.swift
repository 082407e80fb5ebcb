// Outputs as sinks the library owns (STYLE.md §15, swift-log's handlers, swift-nio's pipeline):
// the analyzer emits events on its consumer thread, in frame order; sinks configured in
// `AnalyzerOptions` (a summary file, an SVG plot, an annotated video) or handed to the
// `Analyzer` by a library user receive them. The CLI only builds the options.
import Foundation
import Timeline
import Video

/// Receives one analysis run's results on the analyzer's consumer thread, in frame order.
public protocol AnalysisSink: AnyObject {
    /// Whether ``frame(_:)`` needs each analyzed frame's picture (`FrameResult.image`): the
    /// pipeline keeps the decoded frames then.
    var needsFrames: Bool { get }
    /// Every analyzed frame, in frame order, before its smoothed rows.
    func frame(_ result: FrameResult) throws
    /// Smoothed rows as they become final (the timeline's rows; raw probabilities only with
    /// `raw`); they may lag the frames by the smoother's lookahead.
    func rows(_ rows: [TimelineRow]) throws
    /// The end (also after a failure or a stop): write and close. `summary` is the run's.
    func finish(summary: TimelineSummary) throws
}

extension AnalysisSink {
    public var needsFrames: Bool { false }
    public func frame(_ result: FrameResult) throws {}
    public func rows(_ rows: [TimelineRow]) throws {}
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
    func finish(summary: TimelineSummary) throws {
        do { try summary.write(to: path) } catch { throw OutputError(path: path, cause: error.description) }
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
    func finish(summary: TimelineSummary) throws {
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

    func finish(summary: TimelineSummary) throws {
        guard let video else { return }
        self.video = nil
        try named { try video.finish() }
    }

    private func named(_ body: () throws -> Void) throws {
        do { try body() } catch let e as OutputError { throw e } catch { throw OutputError(path: path, cause: "\(error)") }
    }
}
