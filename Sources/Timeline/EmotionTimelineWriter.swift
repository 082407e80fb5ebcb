import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output format of a timeline.
public enum TimelineFormat: String, Sendable, CaseIterable, Codable {
    /// CSV schema version 2 with a header line.
    case csv
    /// JSON Lines: one object per row with the CSV's column names as keys.
    case jsonl
}

/// The columns of a timeline file (CSV schema version 2).
///
/// `frame,timestamp,face_id,confidence,success,x,y,w,h,box`, then `x_0,…,x_4,y_0,…,y_4` when
/// ``includeLandmarks``, then `angry,…,surprise,label,label_prob`, then `raw_angry,…,raw_surprise`
/// when ``includeRaw``, then `wallclock` when ``includeWallclock`` (live sources), then `latency`
/// when ``includeLatency`` (`--latency`: seconds from the frame's arrival to its row being
/// written). JSON Lines
/// objects carry the same keys, except that the ten landmark columns are one `landmarks` array.
public struct TimelineColumns: Sendable, Equatable, Codable {
    /// The schema version these columns belong to.
    public static let schemaVersion = 2
    /// The fixed leading columns (the first nine are OpenFace-compatible).
    public static let prefix = ["frame", "timestamp", "face_id", "confidence", "success", "x", "y", "w", "h", "box"]
    /// Number of landmarks per face.
    public static let landmarkCount = 5
    /// The landmark columns, OpenFace-style: `x_0…x_4` then `y_0…y_4`.
    public static let landmarkNames = (0..<landmarkCount).map { "x_\($0)" } + (0..<landmarkCount).map { "y_\($0)" }

    public var includeRaw: Bool
    public var includeWallclock: Bool
    public var includeLandmarks: Bool
    public var includeLatency: Bool

    public init(includeRaw: Bool = false, includeWallclock: Bool = false, includeLandmarks: Bool = false,
                includeLatency: Bool = false) {
        self.includeRaw = includeRaw
        self.includeWallclock = includeWallclock
        self.includeLandmarks = includeLandmarks
        self.includeLatency = includeLatency
    }

    /// Every combination of the optional columns (16): what a timeline file may have.
    public static let all: [TimelineColumns] = [false, true].flatMap { raw in
        [false, true].flatMap { wall in
            [false, true].flatMap { marks in
                [false, true].map { latency in
                    TimelineColumns(includeRaw: raw, includeWallclock: wall, includeLandmarks: marks, includeLatency: latency)
                }
            }
        }
    }

    /// Every CSV column name, in order.
    public var names: [String] {
        var n = Self.prefix
        if includeLandmarks { n += Self.landmarkNames }
        n += EmotionClass.allCases.map(\.rawValue) + ["label", "label_prob"]
        if includeRaw { n += EmotionClass.allCases.map { "raw_" + $0.rawValue } }
        if includeWallclock { n.append("wallclock") }
        if includeLatency { n.append("latency") }
        return n
    }

    /// Every JSON Lines key, in order: ``names`` with one `landmarks` key for the ten landmark columns.
    public var jsonKeys: [String] {
        guard includeLandmarks else { return names }
        var n = names.filter { !Self.landmarkNames.contains($0) }
        n.insert("landmarks", at: Self.prefix.count)
        return n
    }
}

/// Writes timeline rows as CSV or JSON Lines, flushing each batch as it is written.
///
/// Every ``write(_:)`` call ends in `write(2)` on the file descriptor: nothing is buffered past
/// the call, so a crash or a kill loses no row already written. Pass all rows of one frame in
/// one call (one system call per frame). The CSV header is written by the initialiser, so even
/// an interrupted run leaves a parseable file. Safe to call from any thread (calls serialise).
public final class EmotionTimelineWriter: @unchecked Sendable {
    /// Where rows go (`-` for standard output).
    public let path: String
    public let format: TimelineFormat
    public let columns: TimelineColumns
    /// Rows written so far.
    public var rowsWritten: Int { lock.withLock { count } }

    private let lock = NSLock()
    private var fd: Int32
    private let ownsDescriptor: Bool
    private var count = 0

    /// Creates (or truncates) `path`, or uses standard output for `-`, and writes the CSV header.
    /// - Throws: ``TimelineError/io(path:reason:)`` naming the path and the system's reason.
    public init(path: String, format: TimelineFormat, columns: TimelineColumns) throws(TimelineError) {
        self.path = path
        self.format = format
        self.columns = columns
        if path == "-" {
            fd = STDOUT_FILENO
            ownsDescriptor = false
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .io(path: path, reason: "cannot create output: \(String(cString: strerror(errno)))") }
            ownsDescriptor = true
        }
        if format == .csv {
            try send(columns.names.joined(separator: ",") + "\n")
        }
    }

    deinit {
        if ownsDescriptor, fd >= 0 { _ = systemClose(fd) }
    }

    /// Writes one row and flushes it.
    public func write(_ row: TimelineRow) throws(TimelineError) {
        try write([row])
    }

    /// Writes rows (typically one frame's) with one system call.
    public func write(_ rows: [TimelineRow]) throws(TimelineError) {
        guard !rows.isEmpty else { return }
        var text = ""
        for row in rows {
            precondition(row.face.map { $0.probabilities.count == EmotionClass.count } ?? true,
                         "a row needs \(EmotionClass.count) probabilities in EmotionClass order")
            text += format == .csv ? Self.csvLine(row, columns: columns) : Self.jsonLine(row, columns: columns)
            text += "\n"
        }
        lock.lock()
        defer { lock.unlock() }
        try send(text)
        count += rows.count
    }

    /// Closes the file (standard output is left open). Further writes throw.
    public func close() throws(TimelineError) {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        let descriptor = fd
        fd = -1
        if ownsDescriptor, systemClose(descriptor) != 0 {
            throw .io(path: shownPath, reason: "close failed: \(String(cString: strerror(errno)))")
        }
    }

    /// The path as errors name it (`standard output` for `-`).
    private var shownPath: String { path == "-" ? "standard output" : path }

    private func send(_ text: String) throws(TimelineError) {
        guard fd >= 0 else { throw .io(path: shownPath, reason: "write after close") }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { systemWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: shownPath, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        bytes.removeAll()
    }

    // MARK: - Encoding (also used by tests and the reader's round trip)

    /// The CSV line (no newline) of one row.
    public static func csvLine(_ row: TimelineRow, columns: TimelineColumns) -> String {
        fields(row, columns: columns).map { $0.text ?? "" }.joined(separator: ",")
    }

    /// The JSON Lines object (no newline) of one row: the CSV's columns as keys (the landmarks as
    /// one `landmarks` array of [x, y] pairs); empty fields are `null`.
    public static func jsonLine(_ row: TimelineRow, columns: TimelineColumns) -> String {
        let values = fields(row, columns: columns)
        var s = "{"
        var first = true
        var i = 0
        let names = columns.names
        while i < names.count {
            if !first { s += "," }
            first = false
            if columns.includeLandmarks && names[i] == TimelineColumns.landmarkNames[0] {
                let n = TimelineColumns.landmarkCount
                s += "\"landmarks\":"
                if values[i].text == nil {
                    s += "null"
                } else {
                    s += "[" + (0..<n).map { k in "[\(values[i + k].text!),\(values[i + n + k].text!)]" }.joined(separator: ",") + "]"
                }
                i += 2 * n
                continue
            }
            let v = values[i]
            s += "\"\(names[i])\":"
            if let text = v.text { s += v.isString ? "\"\(text)\"" : text } else { s += "null" }
            i += 1
        }
        return s + "}"
    }

    private struct Field {
        var text: String?
        var isString = false
    }

    private static func fields(_ row: TimelineRow, columns: TimelineColumns) -> [Field] {
        func num(_ v: Double, _ d: Int) -> Field { Field(text: FixedPoint.format(v, decimals: d)) }
        var f: [Field] = [Field(text: String(row.frame)), num(row.timestamp, Decimals.timestamp)]
        let empty = Field(text: nil)
        let marks = 2 * TimelineColumns.landmarkCount
        if let face = row.face {
            f += [Field(text: String(face.faceID)), num(face.confidence, Decimals.probability), Field(text: "1"),
                  num(face.box.x, Decimals.box), num(face.box.y, Decimals.box),
                  num(face.box.width, Decimals.box), num(face.box.height, Decimals.box),
                  Field(text: face.boxSource.rawValue, isString: true)]
            if columns.includeLandmarks {
                if face.landmarks.count == TimelineColumns.landmarkCount {
                    f += face.landmarks.map { num($0.x, Decimals.box) } + face.landmarks.map { num($0.y, Decimals.box) }
                } else {
                    f += [Field](repeating: empty, count: marks)
                }
            }
            f += face.probabilities.map { num($0, Decimals.probability) }
            f += [Field(text: face.label.rawValue, isString: true), num(face.labelProbability, Decimals.probability)]
            if columns.includeRaw {
                let raw = face.rawProbabilities ?? face.probabilities
                f += raw.map { num($0, Decimals.probability) }
            }
        } else {
            f += [empty, empty, Field(text: "0"), empty, empty, empty, empty, empty]
            if columns.includeLandmarks { f += [Field](repeating: empty, count: marks) }
            f += [Field](repeating: empty, count: EmotionClass.count + 2)
            if columns.includeRaw { f += [Field](repeating: empty, count: EmotionClass.count) }
        }
        if columns.includeWallclock {
            f.append(row.wallclock.map { Field(text: ISOTime.format($0), isString: true) } ?? empty)
        }
        if columns.includeLatency {
            f.append(row.latency.map { num($0, Decimals.latency) } ?? empty)
        }
        return f
    }
}

#if canImport(Glibc)
private let systemClose = Glibc.close
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemClose = Darwin.close
private let systemWrite = Darwin.write
#endif
