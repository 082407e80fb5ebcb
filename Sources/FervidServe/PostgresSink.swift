import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Timeline

/// Rows and stream records to PostgreSQL (`--db`), through a bounded buffer that survives the
/// database going away: rows wait (up to `capacity`, the oldest dropped and counted beyond
/// that) and every batch is retried until it is in. Inserts are idempotent (`ON CONFLICT DO
/// NOTHING` on the primary key), so a batch retried after a lost reply is not doubled.
///
/// Tables (created if missing; docs/serve.md):
/// - `fervid_streams(id PK, name, url, status, reason, created_at, ended_at, frames_read,
///   frames_analyzed, frames_dropped, rows, db_dropped, output, updated_at)`
/// - `fervid_rows(stream_id, frame, face_id, PK(stream_id, frame, face_id), ts, wallclock,
///   success, confidence, x, y, w, h, angry … surprise, label, label_prob)`; a frame without a
///   face has `face_id = -1`, `success = false` and nulls.
public final class PostgresSink: Service, @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String?
        public var tls: Bool

        /// Parses `postgresql://user[:password]@host[:port]/database[?sslmode=require]`.
        public init(url: String) throws(RequestError) {
            guard let c = URLComponents(string: url), let scheme = c.scheme,
                  scheme == "postgresql" || scheme == "postgres", let host = c.host, !host.isEmpty else {
                throw RequestError(400, "--db \(url): expected postgresql://user[:password]@host[:port]/database")
            }
            self.host = host
            port = c.port ?? 5432
            user = c.user ?? "postgres"
            password = c.password
            let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            database = path.isEmpty ? nil : path
            tls = c.queryItems?.contains { $0.name == "sslmode" && ($0.value == "require" || $0.value == "verify-full") } ?? false
        }
    }

    struct PendingRow {
        var seq: Int
        var stream: String
        var row: TimelineRow
    }

    private struct State {
        var rows: [PendingRow] = []
        var head = 0
        var nextSeq = 0
        var streams: [String: StreamSnapshot] = [:]
        var dropped: [String: Int] = [:]
        /// Sequence numbers of the batch being inserted, and rows of it the buffer evicted
        /// meanwhile: written if the insert succeeds, dropped (and counted) if it fails.
        var inFlight: ClosedRange<Int>?
        var evictedInFlight: [String: Int] = [:]
        var written = 0
        var connected = false
        var lastError: String?
    }

    /// Seconds one round of database calls (tables, stream records, one batch) may take before it
    /// is abandoned and retried: a server that vanished without closing the connection cannot
    /// stall the writer.
    static let callTimeout = 5.0

    public let configuration: Configuration
    public let capacity: Int
    public let batchSize: Int
    let metrics: ServeMetrics
    /// Told how many rows of a stream the buffer dropped.
    var onDropped: (@Sendable (String, Int) -> Void)?
    private let state = Locked(State())
    private let logger: Logger
    private let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let drainTimeout: Double

    public init(configuration: Configuration, capacity: Int, batchSize: Int, drainTimeout: Double, metrics: ServeMetrics,
                logger: Logger) {
        self.configuration = configuration
        self.capacity = max(1, capacity)
        self.batchSize = max(1, min(batchSize, 2000))
        self.drainTimeout = drainTimeout
        self.metrics = metrics
        self.logger = logger
    }

    /// Rows waiting to be inserted.
    public var buffered: Int { state.withLock { $0.rows.count - $0.head } }
    public var written: Int { state.withLock { $0.written } }
    public var lastError: String? { state.withLock { $0.lastError } }

    /// Queues rows (any thread, never blocks); the oldest rows are dropped beyond `capacity`.
    func enqueue(stream: String, rows: [TimelineRow]) {
        var droppedNow: [String: Int] = [:]
        state.withLock { s in
            for row in rows {
                s.rows.append(PendingRow(seq: s.nextSeq, stream: stream, row: row))
                s.nextSeq += 1
            }
            let excess = s.rows.count - s.head - capacity
            if excess > 0 {
                for r in s.rows[s.head ..< s.head + excess] {
                    if s.inFlight?.contains(r.seq) ?? false {
                        s.evictedInFlight[r.stream, default: 0] += 1
                    } else {
                        droppedNow[r.stream, default: 0] += 1
                    }
                }
                s.head += excess
            }
            if s.head > 4096, s.head * 2 > s.rows.count {
                s.rows.removeFirst(s.head)
                s.head = 0
            }
            for (k, v) in droppedNow { s.dropped[k, default: 0] += v }
            metrics.dbBuffered.set(Double(s.rows.count - s.head))
        }
        reportDropped(droppedNow)
        wake.continuation.yield()
    }

    private func reportDropped(_ counts: [String: Int]) {
        for (k, v) in counts where v > 0 {
            metrics.dbDropped(v, stream: k)
            onDropped?(k, v)
        }
    }

    /// Queues the latest record of a stream.
    func upsert(_ snapshot: StreamSnapshot) {
        state.withLock { $0.streams[snapshot.id] = snapshot }
        wake.continuation.yield()
    }

    public func run() async throws {
        var config = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user,
            password: configuration.password, database: configuration.database,
            tls: configuration.tls ? .require(.makeClientConfiguration()) : .disable)
        config.options.connectTimeout = .seconds(3)
        config.options.maximumConnections = 2
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            await withGracefulShutdownHandler {
                await self.loop(client: client, until: nil)
            } onGracefulShutdown: {
                self.wake.continuation.finish()
            }
            // Draining: flush what is buffered, within the drain time.
            await self.loop(client: client, until: Date().addingTimeInterval(self.drainTimeout))
            group.cancelAll()
        }
    }

    /// Inserts until the buffer is empty and (without a deadline) until shutdown; on failure
    /// waits and retries the same batch.
    private func loop(client: PostgresClient, until deadline: Date?) async {
        var backoff = 0.25
        var iterator = wake.stream.makeAsyncIterator()
        while true {
            if let deadline, Date() >= deadline { return }
            let (streams, batch) = state.withLock { s in
                let batch = Array(s.rows[s.head ..< min(s.rows.count, s.head + batchSize)])
                s.inFlight = batch.isEmpty ? nil : batch.first!.seq ... batch.last!.seq
                s.evictedInFlight = [:]
                return (Array(s.streams.values), batch)
            }
            if streams.isEmpty, batch.isEmpty {
                if deadline != nil { return }
                if Task.isCancelled { return }
                // Wait for work (or the end of the wake stream at shutdown).
                if await iterator.next() == nil { return }
                continue
            }
            do {
                try await withTimeout(seconds: Self.callTimeout) {
                    if !self.state.withLock({ $0.connected }) {
                        try await self.createTables(client)
                        self.state.withLock { $0.connected = true }
                    }
                    for snapshot in streams { try await self.write(snapshot, client) }
                    if !batch.isEmpty { try await self.insert(batch, client) }
                }
                state.withLock { s in
                    for snapshot in streams where s.streams[snapshot.id].map({ $0.status == snapshot.status && $0.rows == snapshot.rows && $0.framesRead == snapshot.framesRead && $0.dbDropped == snapshot.dbDropped }) ?? false {
                        s.streams[snapshot.id] = nil
                    }
                    // Rows up to the batch's last are in (the buffer may have dropped some meanwhile).
                    if let last = batch.last?.seq {
                        while s.head < s.rows.count, s.rows[s.head].seq <= last { s.head += 1 }
                    }
                    s.written += batch.count
                    s.inFlight = nil
                    s.evictedInFlight = [:]  // evicted while in flight, but written
                    s.lastError = nil
                    metrics.dbBuffered.set(Double(s.rows.count - s.head))
                }
                metrics.dbWritten.increment(by: Int64(batch.count))
                backoff = 0.25
            } catch {
                metrics.dbFailures.increment()
                let text = "\(String(reflecting: error))"
                let lost = state.withLock { s -> [String: Int] in
                    s.lastError = text
                    let lost = s.evictedInFlight
                    for (k, v) in lost { s.dropped[k, default: 0] += v }
                    s.inFlight = nil
                    s.evictedInFlight = [:]
                    return lost
                }
                reportDropped(lost)
                logger.warning("database: \(text); retrying in \(backoff) s (\(buffered) rows buffered)")
                try? await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
                backoff = min(5, backoff * 2)
            }
        }
    }

    private func createTables(_ client: PostgresClient) async throws {
        try await client.query("""
            CREATE TABLE IF NOT EXISTS fervid_streams (
                id text PRIMARY KEY, name text NOT NULL, url text NOT NULL, status text NOT NULL, reason text,
                created_at timestamptz NOT NULL, ended_at timestamptz, frames_read bigint NOT NULL DEFAULT 0,
                frames_analyzed bigint NOT NULL DEFAULT 0, frames_dropped bigint NOT NULL DEFAULT 0,
                rows bigint NOT NULL DEFAULT 0, db_dropped bigint NOT NULL DEFAULT 0, output text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now())
            """)
        try await client.query("""
            CREATE TABLE IF NOT EXISTS fervid_rows (
                stream_id text NOT NULL, frame bigint NOT NULL, face_id integer NOT NULL,
                ts double precision NOT NULL, wallclock timestamptz, success boolean NOT NULL,
                confidence double precision, x double precision, y double precision, w double precision, h double precision,
                angry double precision, disgust double precision, fear double precision, happy double precision,
                neutral double precision, sad double precision, surprise double precision,
                label text, label_prob double precision,
                PRIMARY KEY (stream_id, frame, face_id))
            """)
        try await client.query("CREATE INDEX IF NOT EXISTS fervid_rows_wallclock ON fervid_rows (wallclock)")
    }

    private func write(_ s: StreamSnapshot, _ client: PostgresClient) async throws {
        let created = ISOTime.parse(s.createdAt) ?? Date()
        let ended = s.endedAt.flatMap { ISOTime.parse($0) }
        try await client.query("""
            INSERT INTO fervid_streams (id, name, url, status, reason, created_at, ended_at, frames_read, frames_analyzed,
                frames_dropped, rows, db_dropped, output, updated_at)
            VALUES (\(s.id), \(s.name), \(s.url), \(s.status.rawValue), \(s.reason), \(created), \(ended),
                \(Int64(s.framesRead)), \(Int64(s.framesAnalyzed)), \(Int64(s.framesDropped)), \(Int64(s.rows)),
                \(Int64(s.dbDropped)), \(s.output), now())
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, reason = EXCLUDED.reason,
                ended_at = EXCLUDED.ended_at, frames_read = EXCLUDED.frames_read, frames_analyzed = EXCLUDED.frames_analyzed,
                frames_dropped = EXCLUDED.frames_dropped, rows = EXCLUDED.rows, db_dropped = EXCLUDED.db_dropped,
                updated_at = now()
            """)
    }

    static let rowColumns = ["stream_id", "frame", "face_id", "ts", "wallclock", "success", "confidence", "x", "y", "w", "h"]
        + EmotionClass.allCases.map(\.rawValue) + ["label", "label_prob"]

    private func insert(_ batch: [PendingRow], _ client: PostgresClient) async throws {
        var binds = PostgresBindings(capacity: batch.count * Self.rowColumns.count)
        var sql = "INSERT INTO fervid_rows (\(Self.rowColumns.joined(separator: ", "))) VALUES "
        var n = 0
        for (i, p) in batch.enumerated() {
            if i > 0 { sql += "," }
            sql += "("
            for c in 0 ..< Self.rowColumns.count {
                n += 1
                sql += c == 0 ? "$\(n)" : ",$\(n)"
            }
            sql += ")"
            let r = p.row, f = r.face
            binds.append(p.stream)
            binds.append(Int64(r.frame))
            binds.append(Int32(f?.faceID ?? -1))
            binds.append(r.timestamp)
            binds.append(r.wallclock)
            binds.append(f != nil)
            binds.append(f?.confidence)
            binds.append(f?.box.x)
            binds.append(f?.box.y)
            binds.append(f?.box.width)
            binds.append(f?.box.height)
            for k in 0 ..< EmotionClass.count { binds.append(f?.probabilities[k]) }
            binds.append(f?.label.rawValue)
            binds.append(f?.labelProbability)
        }
        sql += " ON CONFLICT (stream_id, frame, face_id) DO NOTHING"
        try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds))
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "timed out after \(seconds) s" }
}

/// Runs `body`, throwing ``TimeoutError`` when it takes longer than `seconds`. The body is
/// cancelled then, but not waited for: a task group would wait for a child that ignores
/// cancellation (a query on a connection whose server vanished), and the caller would hang
/// with it. Every database call of the writer goes through this.
func withTimeout(seconds: Double, _ body: @escaping @Sendable () async throws -> Void) async throws {
    let once = Locked<CheckedContinuation<Void, Error>?>(nil)
    let tasks = Locked<[Task<Void, Never>]>([])
    @Sendable func finish(_ result: Result<Void, Error>) {
        guard let continuation = once.withLock({ c -> CheckedContinuation<Void, Error>? in defer { c = nil }; return c }) else { return }
        for t in tasks.withLock({ $0 }) { t.cancel() }
        continuation.resume(with: result)
    }
    try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            once.withLock { $0 = continuation }
            let work = Task {
                do {
                    try await body()
                    finish(.success(()))
                } catch {
                    finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                if !Task.isCancelled { finish(.failure(TimeoutError(seconds: seconds))) }
            }
            tasks.withLock { $0 = [work, timer] }
            // Finished (or cancelled) before the tasks were known: stop what is left.
            if once.withLock({ $0 == nil }) || Task.isCancelled {
                work.cancel()
                timer.cancel()
                if Task.isCancelled { finish(.failure(CancellationError())) }
            }
        }
    } onCancel: {
        finish(.failure(CancellationError()))
    }
}
