import Analysis
import Foundation
import Timeline

/// The outputs besides the timeline: the SVG chart (`--plot`) and the annotated video (`--annotate`).
final class OutputExtras {
    private var plot: TimelinePlot?
    private let plotPath: String?

    init(analyzer: Analyzer, annotate: String?, copyAudio: Bool, plot plotPath: String?, modelName: String) throws {
        self.plotPath = plotPath
        if plotPath != nil {
            plot = TimelinePlot(source: analyzer.options.input, model: modelName,
                                smoothing: analyzer.options.smoothing.description)
            analyzer.onRows = { [unowned self] rows in plot?.add(rows) }
        }
        if let annotate {
            throw CommandFailure(subject: annotate, cause: "annotated video output is not available in this build")
        }
    }

    /// Writes what was collected; called once, also after a failure or Ctrl-C.
    func finish() throws {
        if let plot, let plotPath {
            do { try plot.write(to: plotPath) } catch { throw CommandFailure(subject: plotPath, cause: "\(error)") }
        }
    }
}
