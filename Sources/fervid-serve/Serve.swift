import Analysis
import ArgumentParser
import CNN
import FervidServe
import Foundation

/// `fervid-serve` (also run as `fervid serve`): many live streams in one process. docs/serve.md.
@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fervid serve",
        abstract: "Analyze many live streams in one process: HTTP API, live rows, metrics, PostgreSQL, a dashboard.",
        discussion: """
            Listens on 127.0.0.1 unless told otherwise; any other address needs --token or \
            --token-file. SIGTERM or Ctrl-C drains: streams stop and close their outputs, the \
            database buffer is flushed, and the process exits 0 when everything closed in time.
            """)

    @Option(help: "Address and port to listen on (HOST:PORT; port 0 picks a free one).")
    var listen = "127.0.0.1:8080"

    @Option(help: "Classifier every stream shares: a model name (mini-xception) or a .safetensors path.")
    var model = ModelLocator.defaultModel

    @Option(help: "Directory for each stream's timeline and sidecar (created if missing).")
    var out = "fervid-streams"

    @Option(help: "Also write rows to PostgreSQL: postgresql://user[:password]@host[:port]/database.")
    var db: String?

    @Option(name: .customLong("db-buffer"), help: "Rows held while the database is away; beyond, the oldest are dropped (and counted).")
    var dbBuffer = 100_000

    @Option(help: "Bearer token every API call must carry (required off loopback).")
    var token: String?

    @Option(name: .customLong("token-file"), help: "Read the token from this file (first line).")
    var tokenFile: String?

    @Option(name: .customLong("max-streams"), help: "Most streams running at once.")
    var maxStreams = 64

    @Option(name: .customLong("drain-timeout"), help: "Seconds each drain step may take on SIGTERM.")
    var drainTimeout = 20.0

    @Option(help: "Threads for inference (default: the number of cores).")
    var threads: Int?

    @Option(name: .customLong("decoder-threads"), help: "Decoder threads per stream (0: one per core plus one; each holds its own frames).")
    var decoderThreads = 1

    @Option(name: .customLong("port-file"), help: "Write the port listened on to this file once listening.")
    var portFile: String?

    static func main() async {
        Engine.returnFreedMemory()
        MallocArenas.limit(MallocArenas.serve)  // before any stream thread allocates
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    func validate() throws {
        guard (1 ... 10_000).contains(maxStreams) else { throw ValidationError("--max-streams must be 1 to 10000") }
        guard dbBuffer >= 1 else { throw ValidationError("--db-buffer must be at least 1") }
        guard drainTimeout > 0, drainTimeout.isFinite else { throw ValidationError("--drain-timeout must be positive") }
        if let threads { guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be 1 to 256") } }
        guard (0 ... 16).contains(decoderThreads) else { throw ValidationError("--decoder-threads must be 0 (libavcodec chooses) to 16") }
        _ = try parseListen()
    }

    func parseListen() throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0 ... 65535).contains(port) else {
            throw ValidationError("--listen \(listen): expected HOST:PORT, e.g. 127.0.0.1:8080")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen \(listen): no host") }
        return (host, port)
    }

    func run() async throws {
        var config = ServeConfiguration()
        (config.host, config.port) = try parseListen()
        config.outDirectory = out
        config.databaseURL = db
        config.databaseBuffer = dbBuffer
        config.maxStreams = maxStreams
        config.drainTimeout = drainTimeout
        config.modelName = model
        config.decoderThreads = decoderThreads
        config.token = token
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8),
                  let line = text.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces), !line.isEmpty else {
                fail(tokenFile, "cannot read a token from this file")
            }
            config.token = line
        }
        if !config.isLoopback, config.token == nil {
            fail("--listen \(listen)", "listening off loopback needs --token or --token-file")
        }
        if let db {
            do { _ = try PostgresSink.Configuration(url: db) } catch { fail("--db", error.description) }
        }
        Engine.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let modelPath: String
        do { modelPath = try ModelLocator.resolve(model) } catch { fail(model, error.description) }
        let portFile = portFile
        let (host, outDirectory) = (config.host, config.outDirectory)
        let status = try await FervidServer.run(config: config, loadModel: {
            let classifier = try LoadedClassifier(path: modelPath)
            return (classifier, classifier.metadata)
        }, onListening: { port in
            FileHandle.standardError.write(Data("fervid serve: listening on http://\(host):\(port)/ (streams to \(outDirectory))\n".utf8))
            if let portFile { try? "\(port)\n".write(toFile: portFile, atomically: true, encoding: .utf8) }
        })
        if status != 0 { throw ExitCode(status) }
    }

    private func fail(_ subject: String, _ cause: String) -> Never {
        FileHandle.standardError.write(Data("fervid serve: \(subject): \(cause)\n".utf8))
        Foundation.exit(1)
    }
}
