import Foundation
import Prometheus
import Timeline

/// A metric's name and help text (no namespace or unit parts: the names are spelled whole).
private func d(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}

/// The service's Prometheus metrics (`GET /metrics`). Names and meanings: docs/serve.md.
public final class ServeMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    let latency: ValueHistogram
    let batchSize: ValueHistogram
    let rss: Gauge
    let dbBuffered: Gauge
    let dbWritten: Counter
    let dbFailures: Counter
    private let streamsByStatus: [StreamStatus: Gauge]

    private struct PerStream {
        var read: Counter
        var analyzed: Counter
        var dropped: Counter
        var rows: Counter
        var dbDropped: Counter
        var published = (read: 0, analyzed: 0, dropped: 0)
    }
    private let perStream = Locked<[String: PerStream]>([:])

    public init() {
        latency = registry.makeValueHistogram(
            descriptor: d("fervid_latency_seconds", "Seconds from a live frame's arrival to its timeline row"),
            buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10])
        batchSize = registry.makeValueHistogram(
            descriptor: d("fervid_batch_size", "Face crops per classifier call (all streams share one model)"),
            buckets: [1, 2, 4, 8, 16, 32, 64])
        rss = registry.makeGauge(descriptor: d("fervid_process_resident_memory_bytes", "Resident set size of the process"))
        dbBuffered = registry.makeGauge(descriptor: d("fervid_db_buffered_rows", "Rows waiting for the database"))
        dbWritten = registry.makeCounter(descriptor: d("fervid_db_rows_written_total", "Rows inserted into fervid_rows"))
        dbFailures = registry.makeCounter(descriptor: d("fervid_db_failures_total", "Database operations that failed (retried)"))
        var gauges: [StreamStatus: Gauge] = [:]
        for status in StreamStatus.allCases {
            gauges[status] = registry.makeGauge(descriptor: d("fervid_streams", "Streams by status"), labels: [("status", status.rawValue)])
        }
        streamsByStatus = gauges
    }

    private func counters(_ id: String) -> PerStream {
        perStream.withLock { map in
            if let c = map[id] { return c }
            let labels = [("stream", id)]
            let c = PerStream(
                read: registry.makeCounter(descriptor: d("fervid_frames_read_total", "Frames decoded"), labels: labels),
                analyzed: registry.makeCounter(descriptor: d("fervid_frames_analyzed_total", "Frames analyzed"), labels: labels),
                dropped: registry.makeCounter(descriptor: d("fervid_frames_dropped_total", "Live frames dropped to stay near real time"),
                                              labels: labels),
                rows: registry.makeCounter(descriptor: d("fervid_rows_total", "Timeline rows written"), labels: labels),
                dbDropped: registry.makeCounter(descriptor: d("fervid_db_rows_dropped_total", "Rows the database buffer had to drop"), labels: labels))
            map[id] = c
            return c
        }
    }

    /// Rows of one stream were written (its thread).
    func rows(_ rows: [TimelineRow], stream id: String, at now: Date) {
        counters(id).rows.increment(by: Int64(rows.count))
        var lastFrame = -1
        for row in rows where row.frame != lastFrame {
            lastFrame = row.frame
            if let wall = row.wallclock { latency.record(now.timeIntervalSince(wall)) }
        }
    }

    func dbDropped(_ n: Int, stream id: String) {
        counters(id).dbDropped.increment(by: Int64(n))
    }

    /// Brings the frame counters of `runner` up to its pipeline's (counters only grow).
    func publish(_ runner: StreamRunner) {
        let stats = runner.pipelineStats
        let c = counters(runner.id)
        perStream.withLock { map in
            guard var entry = map[runner.id] else { return }
            let read = max(0, stats.framesRead - entry.published.read)
            let analyzed = max(0, stats.framesAnalyzed - entry.published.analyzed)
            let dropped = max(0, stats.framesDropped - entry.published.dropped)
            if read > 0 { c.read.increment(by: Int64(read)) }
            if analyzed > 0 { c.analyzed.increment(by: Int64(analyzed)) }
            if dropped > 0 { c.dropped.increment(by: Int64(dropped)) }
            entry.published = (max(stats.framesRead, entry.published.read), max(stats.framesAnalyzed, entry.published.analyzed),
                               max(stats.framesDropped, entry.published.dropped))
            map[runner.id] = entry
        }
    }

    /// Gauges that are read at scrape time.
    func refresh(statusCounts: [StreamStatus: Int]) {
        for (status, gauge) in streamsByStatus { gauge.set(Double(statusCounts[status] ?? 0)) }
        if let bytes = Self.residentBytes() { rss.set(Double(bytes)) }
    }

    /// The text exposition.
    public func render() -> String { registry.emitToString() }

    /// Resident set size from /proc/self/statm (Linux), nil elsewhere.
    public static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
