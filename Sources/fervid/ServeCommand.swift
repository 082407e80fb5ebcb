import ArgumentParser
import Foundation
import Timeline

/// `fervid serve …`: runs the `fervid-serve` binary built next to this one (the service is its own
/// product so that the analysis-only build does not compile the server stack; docs/serve.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Analyze many live streams as a service (HTTP API, live rows, metrics, PostgreSQL, dashboard).",
        discussion: "Runs fervid-serve from the same directory; `fervid serve --help` lists its options.")

    @Argument(parsing: .allUnrecognized, help: "Options of fervid-serve (see `fervid serve --help`).")
    var arguments: [String] = []

    static func binary() -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return PathText.appending("fervid-serve", to: PathText.parent(me))
    }

    func run() throws { Self.exec(arguments) }

    /// Replaces this process with `fervid-serve ARGUMENTS` (Fervid.main calls it before parsing,
    /// so that `fervid serve --help` is fervid-serve's help).
    static func exec(_ arguments: [String]) -> Never {
        let path = binary()
        guard FileManager.default.isExecutableFile(atPath: path) else {
            printError("fervid: \(path): not built: run `make build-serve` (swift build -c release --product fervid-serve)")
            Foundation.exit(1)
        }
        var cArgs = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, &cArgs)
        printError("fervid: \(path): cannot run: \(String(cString: strerror(errno)))")
        Foundation.exit(1)
    }
}
