import Foundation

/// A timeline read back from a file: its columns, rows and (when present) sidecar.
public struct TimelineDocument: Sendable {
    public var format: TimelineFormat
    public var columns: TimelineColumns
    public var rows: [TimelineRow]
    /// The `<file>.json` sidecar, when it exists next to the file.
    public var sidecar: TimelineSidecar?

    public init(format: TimelineFormat, columns: TimelineColumns, rows: [TimelineRow], sidecar: TimelineSidecar? = nil) {
        self.format = format
        self.columns = columns
        self.rows = rows
        self.sidecar = sidecar
    }
}

/// Reads what ``EmotionTimelineWriter`` writes: CSV schema version 2 or JSON Lines (told apart by
/// the first byte), plus the sidecar. Errors name the file, the line and the cause.
public enum EmotionTimelineReader {
    /// Reads `path` and, when it exists, `path.json`.
    public static func read(path: String) throws(TimelineError) -> TimelineDocument {
        let data = try readWholeFile(path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformed(path: path, line: nil, reason: "not UTF-8 text")
        }
        var doc = try parse(text, name: path)
        let sidecarPath = TimelineSidecar.path(forOutput: path)
        if FileManager.default.fileExists(atPath: sidecarPath) {
            doc.sidecar = try TimelineSidecar.read(from: sidecarPath)
        }
        return doc
    }

    /// Parses file contents; `name` is used in error messages.
    public static func parse(_ text: String, name: String) throws(TimelineError) -> TimelineDocument {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        if lines.first?.hasPrefix("{") == true {
            return try parseJSONLines(lines, name: name)
        }
        return try parseCSV(lines, name: name)
    }

    // MARK: - CSV

    private static func parseCSV(_ lines: [Substring], name: String) throws(TimelineError) -> TimelineDocument {
        guard let header = lines.first, !header.isEmpty else {
            throw .malformed(path: name, line: 1, reason: "empty file, expected the CSV header")
        }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let columns = try columnsFrom(names, name: name)
        var rows: [TimelineRow] = []
        for (i, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == names.count else {
                throw .malformed(path: name, line: i + 1, reason: "\(fields.count) fields, header has \(names.count)")
            }
            let values = fields.map { $0.isEmpty ? nil : String($0) }
            rows.append(try row(values, columns: columns, name: name, line: i + 1))
        }
        return TimelineDocument(format: .csv, columns: columns, rows: rows)
    }

    private static func columnsFrom(_ names: [String], name: String) throws(TimelineError) -> TimelineColumns {
        if let c = TimelineColumns.all.first(where: { $0.names == names }) { return c }
        let expected = TimelineColumns(includeLandmarks: names.contains("x_0")).names
        for (i, n) in expected.enumerated() where i >= names.count || names[i] != n {
            throw .malformed(path: name, line: 1, reason: "column \(i + 1) is '\(i < names.count ? names[i] : "")', expected '\(n)' (CSV schema version \(TimelineColumns.schemaVersion))")
        }
        throw .malformed(path: name, line: 1, reason: "unexpected columns after label_prob: \(names.dropFirst(expected.count).joined(separator: ","))")
    }

    /// Builds a row from field texts in `columns.names` order (nil = empty / null).
    private static func row(_ f: [String?], columns: TimelineColumns, name: String, line: Int) throws(TimelineError) -> TimelineRow {
        let names = columns.names
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() { index[n] = i }
        func fail(_ i: Int, _ why: String) -> TimelineError {
            .malformed(path: name, line: line, reason: "\(names[i]) \(why)")
        }
        func number(_ i: Int) throws(TimelineError) -> Double {
            guard let s = f[i] else { throw fail(i, "is empty") }
            guard let v = Double(s), v.isFinite else { throw fail(i, "'\(s)' is not a number") }
            return v
        }
        func integer(_ i: Int) throws(TimelineError) -> Int {
            guard let s = f[i] else { throw fail(i, "is empty") }
            guard let v = Int(s) else { throw fail(i, "'\(s)' is not an integer") }
            return v
        }
        func probability(_ i: Int) throws(TimelineError) -> Double {
            let v = try number(i)
            guard v >= 0, v <= 1 else { throw fail(i, "\(v) is not a probability") }
            return v
        }
        let frame = try integer(0)
        guard frame >= 0 else { throw fail(0, "is negative") }
        let timestamp = try number(1)
        var wallclock: Date?
        if columns.includeWallclock, let i = index["wallclock"], let w = f[i] {
            guard let d = ISOTime.parse(w) else { throw fail(i, "'\(w)' is not ISO 8601 UTC") }
            wallclock = d
        }
        var latency: Double?
        if columns.includeLatency, let i = index["latency"], f[i] != nil {
            let v = try number(i)
            guard v >= 0 else { throw fail(i, "is negative") }
            latency = v
        }
        let success = try integer(4)
        switch success {
        case 0:
            for i in 2..<names.count where i != 4 && names[i] != "wallclock" && names[i] != "latency" && f[i] != nil {
                throw fail(i, "must be empty when success=0")
            }
            var empty = TimelineRow(frame: frame, timestamp: timestamp, wallclock: wallclock, face: nil)
            empty.latency = latency
            return empty
        case 1:
            var probabilities: [Double] = []
            for c in EmotionClass.allCases { probabilities.append(try probability(index[c.rawValue]!)) }
            let labelIndex = index["label"]!
            guard let label = f[labelIndex], EmotionClass(rawValue: label) != nil else {
                throw fail(labelIndex, "'\(f[labelIndex] ?? "")' is not a class")
            }
            _ = try number(labelIndex + 1)
            var raw: [Double]?
            if columns.includeRaw {
                var r: [Double] = []
                for c in EmotionClass.allCases { r.append(try probability(index["raw_" + c.rawValue]!)) }
                raw = r
            }
            let boxIndex = index["box"]!
            guard let b = f[boxIndex], let source = FaceBoxSource(rawValue: b) else {
                throw fail(boxIndex, "'\(f[boxIndex] ?? "")' is not one of \(FaceBoxSource.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var landmarks: [Landmark] = []
            if columns.includeLandmarks {
                let xs = (0..<TimelineColumns.landmarkCount).map { index["x_\($0)"]! }
                let ys = (0..<TimelineColumns.landmarkCount).map { index["y_\($0)"]! }
                let given = (xs + ys).filter { f[$0] != nil }.count
                if given == xs.count + ys.count {
                    for (xi, yi) in zip(xs, ys) { landmarks.append(Landmark(x: try number(xi), y: try number(yi))) }
                } else if given > 0 {
                    throw fail(xs[0], "landmarks must be all given or all empty")
                }
            }
            let face = FaceEmotion(faceID: try integer(2), confidence: try number(3),
                                   box: FaceRect(x: try number(5), y: try number(6), width: try number(7), height: try number(8)),
                                   probabilities: probabilities, rawProbabilities: raw, boxSource: source, landmarks: landmarks)
            var row = TimelineRow(frame: frame, timestamp: timestamp, wallclock: wallclock, face: face)
            row.latency = latency
            return row
        default:
            throw fail(4, "is \(success), expected 0 or 1")
        }
    }

    // MARK: - JSON Lines

    private static func parseJSONLines(_ lines: [Substring], name: String) throws(TimelineError) -> TimelineDocument {
        var columns: TimelineColumns?
        var rows: [TimelineRow] = []
        for (i, line) in lines.enumerated() where !line.isEmpty {
            var object: [String: Any]
            do {
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw TimelineError.malformed(path: name, line: i + 1, reason: "not a JSON object")
                }
                object = o
            } catch {
                throw .malformed(path: name, line: i + 1, reason: "not a JSON object")
            }
            let keys = Set(object.keys)
            let c = TimelineColumns(includeRaw: keys.contains("raw_angry"), includeWallclock: keys.contains("wallclock"),
                                    includeLandmarks: keys.contains("landmarks"), includeLatency: keys.contains("latency"))
            if let existing = columns, existing != c {
                throw .malformed(path: name, line: i + 1, reason: "fields differ from the first line's")
            }
            columns = c
            if c.includeLandmarks {
                // The `landmarks` array ([[x, y] × 5] or null) stands for the ten CSV columns.
                let n = TimelineColumns.landmarkCount
                let marks = object.removeValue(forKey: "landmarks")
                if let pairs = marks as? [[NSNumber]], pairs.count == n, pairs.allSatisfy({ $0.count == 2 }) {
                    for k in 0..<n {
                        object["x_\(k)"] = pairs[k][0]
                        object["y_\(k)"] = pairs[k][1]
                    }
                } else if marks is NSNull {
                    for key in TimelineColumns.landmarkNames { object[key] = NSNull() }
                } else {
                    throw .malformed(path: name, line: i + 1, reason: "field 'landmarks' is not null or \(n) [x, y] pairs")
                }
            }
            var fields: [String?] = []
            for key in c.names {
                guard let v = object[key] else { throw .malformed(path: name, line: i + 1, reason: "missing field '\(key)'") }
                switch v {
                case is NSNull: fields.append(nil)
                case let s as String: fields.append(s)
                case let n as NSNumber: fields.append(n.stringValue)
                default: throw .malformed(path: name, line: i + 1, reason: "field '\(key)' is not a number, string or null")
                }
            }
            rows.append(try row(fields, columns: c, name: name, line: i + 1))
        }
        return TimelineDocument(format: .jsonl, columns: columns ?? TimelineColumns(), rows: rows)
    }
}
