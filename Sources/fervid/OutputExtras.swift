import Analysis
import Foundation
import Timeline

/// The outputs besides the timeline: the SVG chart (`--plot`) and the annotated video (`--annotate`).
final class OutputExtras: @unchecked Sendable {
    private var plot: TimelinePlot?
    private let plotPath: String?
    private var video: AnnotatedVideoWriter?
    private var annotatePath: String?

    init(analyzer: Analyzer, annotate: String?, copyAudio: Bool, plot plotPath: String?, modelName: String) throws {
        self.plotPath = plotPath
        if plotPath != nil {
            plot = TimelinePlot(source: analyzer.options.input, model: modelName,
                                smoothing: analyzer.options.smoothing.description)
        }
        if let annotate {
            do {
                video = try AnnotatedVideoWriter(path: annotate, source: analyzer.source.info, copyAudio: copyAudio)
            } catch {
                throw CommandFailure(subject: annotate, cause: error.description)
            }
            analyzer.pipeline.keepFrames = true
            analyzer.onResult = { [unowned self] result in
                if let image = result.image { try video?.add(image) }
            }
        }
        let plotting = plotPath != nil
        analyzer.onRows = { [unowned self] rows in
            if plotting { plot?.add(rows) }
            try video?.add(rows: rows)
        }
        annotatePath = annotate
    }

    /// Writes what was collected; called once, also after a failure or Ctrl-C.
    func finish() throws {
        if let video, let annotatePath {
            self.video = nil
            do { try video.finish() } catch { throw CommandFailure(subject: annotatePath, cause: "\(error)") }
        }
        if let plot, let plotPath {
            do { try plot.write(to: plotPath) } catch { throw CommandFailure(subject: plotPath, cause: "\(error)") }
        }
    }
}
