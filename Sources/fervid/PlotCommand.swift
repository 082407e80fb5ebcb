import ArgumentParser
import Foundation
import Timeline

/// `fervid plot TIMELINE -o PATH.svg [--raw]`: the chart `analyze --plot` draws, from a timeline
/// already written (CSV or JSON Lines) and its `<timeline>.json` sidecar when there is one.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw an SVG chart of a timeline written by analyze (CSV or JSON Lines).",
        discussion: """
            One panel per face track: smoothed probabilities as stacked areas, the smoothed label \
            as a strip underneath, a time axis over the analyzed range. The title names the source, \
            the model and the smoothing from the sidecar (<timeline>.json) when it is present. \
            See docs/plot.md.
            """)

    @Argument(help: "A timeline file written by fervid analyze (CSV or JSON Lines).")
    var timeline: String

    @Option(name: .shortAndLong, help: "The SVG file to write ('-' for standard output).")
    var output: String

    @Flag(help: "Also draw the raw (unsmoothed) probabilities as thin lines; the timeline needs raw_<class> columns.")
    var raw = false

    func validate() throws {
        if output.isEmpty { throw ValidationError("--output must not be empty") }
    }

    @Flag(help: "Replace -o even when it is an existing file fervid did not write (by default refused).")
    var overwrite = false

    func run() throws {
        // Before any work: -o is not the timeline or its sidecar, nor a file fervid did not write.
        do {
            try OutputSafety.check(inputs: [("timeline", timeline), ("sidecar", TimelineSidecar.path(forOutput: timeline))],
                                   outputs: [("-o", output)])
        } catch {
            throw CommandFailure(subject: "\(error.outputRole) \(error.output)", cause: error.cause, exitCode: ExitStatus.usage)
        }
        if !overwrite {
            do { try OutputSafety.checkOwnership([(role: "-o", path: output, kind: .plot)]) } catch {
                throw CommandFailure(subject: "\(error.role) \(error.path)", cause: error.cause, exitCode: ExitStatus.usage)
            }
        }
        var document: TimelineDocument
        do { document = try EmotionTimelineReader.read(path: timeline) } catch {
            throw CommandFailure(error)
        }
        if raw && !document.columns.includeRaw {
            throw CommandFailure(subject: timeline, cause: "--raw needs the raw_<class> columns, and this timeline has none (write it with analyze --raw)")
        }
        if !raw {
            // The chart draws raw lines whenever rows carry raw probabilities: only with --raw.
            for i in document.rows.indices { document.rows[i].face?.rawProbabilities = nil }
        }
        let plot = TimelinePlot(document: document, source: document.sidecar == nil ? timeline : nil)
        if output == "-" {
            do { try writeStandardOutput(Data(plot.svg().utf8)) } catch { throw CommandFailure(error) }
        } else {
            do { try plot.write(to: output) } catch { throw CommandFailure(error) }
        }
    }
}

extension CommandFailure {
    /// A Timeline error as `fervid: <file>[:<line>]: <cause>`.
    init(_ error: TimelineError) {
        switch error {
        case let .io(path, reason): self.init(subject: path, cause: reason)
        case let .malformed(path, line, reason): self.init(subject: line.map { "\(path):\($0)" } ?? path, cause: reason)
        default: self.init(subject: "timeline", cause: error.description)
        }
    }
}
