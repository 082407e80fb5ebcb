import Analysis
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// `fervid serve`: the HTTP server, the streams and the database writer as one service group.
///
/// Start-up: the server listens at once (`/healthz` answers); the model loads on its own thread
/// and `/readyz` turns 200 when it is in. SIGTERM (or SIGINT) drains, in this order: new
/// streams are refused and `/readyz` answers 503; every stream stops reading, finishes the
/// frames in flight and closes its timeline and sidecar; every WebSocket/SSE subscriber ends;
/// the HTTP server closes; the database buffer is flushed. Each step is bounded by
/// `drainTimeout`, and a watchdog ends the process if the whole drain overruns.
public enum FervidServer {
    /// Runs until SIGTERM/SIGINT; returns the exit status (0: everything drained in time).
    public static func run(config: ServeConfiguration,
                           loadModel: @escaping @Sendable () throws -> (FrameClassifier, [String: String]),
                           onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> Int32 {
        var logger = Logger(label: "fervid-serve")
        logger.logLevel = .info
        try FileManager.default.createDirectory(atPath: config.outDirectory, withIntermediateDirectories: true)
        let metrics = ServeMetrics()
        let registry = StreamRegistry(config: config, metrics: metrics)
        var services: [any Service] = []
        if let url = config.databaseURL {
            let sink = PostgresSink(configuration: try PostgresSink.Configuration(url: url), capacity: config.databaseBuffer,
                                    batchSize: config.databaseBatch, drainTimeout: config.drainTimeout, metrics: metrics,
                                    logger: logger)
            sink.onDropped = { [weak registry, weak sink] id, n in
                // The stream's status and its fervid_streams record say how many rows were lost.
                guard let runner = registry?.runner(id) else { return }
                runner.addDBDropped(n)
                sink?.upsert(runner.snapshot())
            }
            registry.database = sink
            services.append(sink)
        }
        let router = makeRouter(registry: registry, ready: { registry.isReady })
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "fervid"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? config.port) },
            logger: logger)
        services.append(app)
        let streams = StreamsService(registry: registry, loadModel: loadModel, logger: logger)
        services.append(streams)
        // Shut down in reverse order: streams first, then the HTTP server, then the database.
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger))
        try await group.run()
        return streams.drainedCleanly ? 0 : 1
    }
}

/// Loads the model, ticks the streams' counters, and drains them on shutdown.
final class StreamsService: Service, @unchecked Sendable {
    let registry: StreamRegistry
    let loadModel: @Sendable () throws -> (FrameClassifier, [String: String])
    let logger: Logger
    private let clean = Locked(true)
    var drainedCleanly: Bool { clean.withLock { $0 } }

    init(registry: StreamRegistry, loadModel: @escaping @Sendable () throws -> (FrameClassifier, [String: String]),
         logger: Logger) {
        self.registry = registry
        self.loadModel = loadModel
        self.logger = logger
    }

    func run() async throws {
        let load = loadModel
        let loaded = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ModelBox, Error>) in
            let thread = Thread {
                do {
                    continuation.resume(returning: ModelBox(value: try load()))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        registry.setModel(loaded.value.0, metadata: loaded.value.1)
        logger.info("model loaded; ready")
        let shutdown = Locked(false)
        await withGracefulShutdownHandler {
            while !shutdown.withLock({ $0 }) && !Task.isCancelled {
                registry.tick()
                try? await Task.sleep(for: .milliseconds(250))
            }
        } onGracefulShutdown: {
            shutdown.withLock { $0 = true }
        }
        let timeout = registry.config.drainTimeout
        // Whatever happens below, the process ends within a bounded time.
        DispatchQueue.global().asyncAfter(deadline: .now() + 3 * timeout + 5) {
            FileHandle.standardError.write(Data("fervid-serve: drain overran \(3 * timeout + 5) s; exiting\n".utf8))
            _exit(1)
        }
        logger.info("draining: stopping \(registry.all().count) streams")
        let ok = await registry.drain(timeout: timeout)
        if !ok { clean.withLock { $0 = false } }
        logger.info("streams drained\(ok ? "" : " (some did not close in time)")")
    }
}

/// The loaded model, handed from its loading thread to the service once.
private final class ModelBox: @unchecked Sendable {
    let value: (FrameClassifier, [String: String])
    init(value: (FrameClassifier, [String: String])) { self.value = value }
}
