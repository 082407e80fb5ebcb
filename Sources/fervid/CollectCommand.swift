import ArgumentParser
import Corpus
import Foundation
import Timeline

/// `fervid collect DIR -o corpus.csv [--rows FILE] [--format csv|jsonl]`: one table of a corpus
/// run, from the sidecars (and timelines) under DIR.
struct Collect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Gather a corpus run's results: one row per input found under DIR.",
        discussion: """
            Finds every timeline sidecar (*.csv.json, *.jsonl.json: <timeline>.json) under DIR \
            and writes one row per input: its status (complete, partial, failed, not_started) and \
            reason, frame counts, duration, faces and tracks, the share of frames with a face, the \
            mean smoothed probability of each class, the dominant label, label changes per minute, \
            the model and the fervid version. --rows also writes every timeline's rows as one long \
            table with an 'input' column. --manifest adds a 'missing' row for each input of the \
            run's manifest that has no sidecar at all. See docs/scale-out.md.
            """)

    @Argument(help: "The output folder of one or more analyze runs (-o DIR/).")
    var directory: String

    @Option(name: .shortAndLong, help: "The corpus table ('-' for standard output).")
    var output: String

    @Option(help: "Also write all timelines' rows as one table, with an 'input' column.")
    var rows: String?

    @Option(help: "Format of the tables: csv or jsonl.")
    var format: CorpusCollect.Format = .csv

    @Option(help: "The manifest the run was given (-o DIR/): every input it lists without a sidecar gets a row with status 'missing'.")
    var manifest: String?

    @Flag(help: "Replace -o / --rows even when they are existing files fervid did not write (by default refused).")
    var overwrite = false

    func run() throws {
        if !overwrite {  // before any work: nothing replaced that fervid did not write
            var outputs: [(role: String, path: String, kind: OutputKind)] = [("-o", output, .corpusTable)]
            if let rows { outputs.append(("--rows", rows, .corpusRows)) }
            do { try OutputSafety.checkOwnership(outputs) } catch {
                throw CommandFailure(subject: "\(error.role) \(error.path)", cause: error.cause, exitCode: ExitStatus.usage)
            }
        }
        let totals: CorpusCollect.Totals
        do {
            let expected = try manifest.map { m throws(CorpusInputError) in
                try CorpusCollect.expected(manifest: try CorpusInputs.readManifest(m), dir: directory)
            }
            totals = try CorpusCollect.run(dir: directory, output: output, rowsPath: rows, format: format, expected: expected)
        } catch {
            throw CommandFailure(subject: error.subject, cause: error.cause)
        }
        let counts = totals.byStatus.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        var line = "\(totals.inputs) input\(totals.inputs == 1 ? "" : "s")" + (counts.isEmpty ? "" : ": " + counts)
        if rows != nil { line += "; \(totals.rows) timeline rows" }
        if output != "-" { line += " → \(output)" }
        printError(line)
    }
}

extension CorpusCollect.Format: ExpressibleByArgument {}
