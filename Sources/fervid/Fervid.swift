import Analysis
import CNN
import ArgumentParser
import Foundation

/// The `fervid` command: a thin shell over the library. Each subcommand lives in its own file.
@main
struct Fervid: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fervid",
        abstract: "Facial-expression analysis of video on a CPU.",
        version: "fervid " + FervidVersion.description,
        subcommands: [Analyze.self, Collect.self, Probe.self, Plot.self, ModelsCommand.self, BenchCommand.self, ServeCommand.self])

    /// Exit codes (``ExitStatus``, docs/reliability.md): 0 every output complete, 1 a failure
    /// (one line `fervid: <input>: <cause>`), 2 bad usage (nothing done), 3 a partial result,
    /// 130 a second Ctrl-C.
    static func main() async {
        Engine.returnFreedMemory()
        if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "serve" {
            ServeCommand.exec(Array(CommandLine.arguments.dropFirst(2)))
        }
        do {
            var command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
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

/// `--fps -1` → `--fps=-1`: ArgumentParser reads a value that starts with '-' as an option and
/// says "Missing value for '--fps <fps>'"; joined, the value reaches validation, which says what
/// is wrong with it ("--fps must be a positive number …"). Arguments after `--` are left alone.
func joiningNegativeValues(_ args: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < args.count {
        let a = args[i]
        if a == "--" {
            out += args[i...]
            break
        }
        if a.hasPrefix("--"), !a.contains("="), i + 1 < args.count {
            let next = args[i + 1]
            if next.count > 1, next.hasPrefix("-"), Double(next) != nil {
                out.append(a + "=" + next)
                i += 2
                continue
            }
        }
        out.append(a)
        i += 1
    }
    return out
}

/// fervid's exit codes (docs/reliability.md).
enum ExitStatus {
    /// Every output written and complete.
    static let success: Int32 = 0
    /// A failure: an input that could not be analyzed, an output that could not be written.
    static let failure: Int32 = 1
    /// Bad usage, refused before any work (a bad option value, an output that is an input).
    static let usage: Int32 = 2
    /// A partial result: every row written is right, but some timeline covers less than its
    /// input (cut-short or damaged file, dropped live stream, stopped by a signal). The sidecar
    /// says why (`status: partial`, `reason`).
    static let partial: Int32 = 3
    /// A second SIGINT/SIGTERM: exit at once (rows already written are whole lines).
    static let interruptedTwice: Int32 = 130
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
