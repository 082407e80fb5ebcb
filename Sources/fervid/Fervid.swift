import Analysis
import ArgumentParser
import Foundation

/// The `fervid` command: a thin shell over the library. Each subcommand lives in its own file.
@main
struct Fervid: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fervid",
        abstract: "Facial-expression analysis of video on a CPU.",
        version: "fervid " + FervidVersion.description,
        subcommands: [Analyze.self, Collect.self, Probe.self, Plot.self, ModelsCommand.self, BenchCommand.self])

    /// Exit codes: 0 success, 1 a failure on the input (one line `fervid: <input>: <cause>`),
    /// 2 bad usage.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            printError("fervid: \(failure.subject): \(failure.cause)")
            Foundation.exit(failure.exitCode)
        } catch {
            switch exitCode(for: error) {
            case .validationFailure:
                printError(fullMessage(for: error))
                Foundation.exit(2)
            case .success:
                exit(withError: error)  // --help, --version
            default:
                if error is ExitCode { exit(withError: error) }
                printError("fervid: \(error)")
                Foundation.exit(1)
            }
        }
    }
}

/// A failure on an input that ends the command: printed as `fervid: <subject>: <cause>`.
struct CommandFailure: Error {
    /// The input (path or URL) or output the failure is about.
    let subject: String
    let cause: String
    var exitCode: Int32 = 1
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
