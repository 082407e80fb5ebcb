import Foundation
import Timeline

/// One row of `fervid collect`'s corpus table: one input, from its sidecar and its timeline.
public struct CorpusRecord: Sendable, Equatable {
    public var input = ""
    /// `complete`, `partial`, `failed` or `not_started` (the sidecar's `status`).
    public var status = ""
    public var reason = ""
    public var detail = ""
    public var framesRead: Int?
    public var framesAnalyzed: Int?
    public var framesDropped: Int?
    /// The input's duration (sidecar), else the span of the timeline.
    public var duration: Double?
    /// Rows with a face.
    public var faceRows: Int?
    public var tracks: Int?
    /// Frames of the timeline with at least one face, over all its frames.
    public var faceShare: Double?
    /// Mean smoothed probability per class (``EmotionClass`` order) over all face rows.
    public var meanProbabilities: [Double]?
    /// The class most face rows carry as their (smoothed) label.
    public var dominant: String?
    /// Smoothed label changes (all tracks) per minute of timeline.
    public var labelChangesPerMinute: Double?
    public var model = ""
    public var modelSHA256 = ""
    public var fervidVersion = ""
    /// The timeline, relative to the collected folder ("" when there is none).
    public var timeline = ""

    public static var columns: [String] {
        ["input", "status", "reason", "detail", "frames_read", "frames_analyzed", "frames_dropped", "duration_s",
         "face_rows", "tracks", "face_share"] + EmotionClass.allCases.map { "mean_" + $0.rawValue }
            + ["dominant", "label_changes_per_min", "model", "model_sha256", "fervid_version", "timeline"]
    }

    /// Values in ``columns`` order; nil is an empty field (or JSON null).
    public var values: [CorpusValue] {
        func int(_ v: Int?) -> CorpusValue { v.map { .number(String($0)) } ?? .null }
        func dec(_ v: Double?, _ d: Int) -> CorpusValue { v.map { .number(FixedPoint.format($0, decimals: d)) } ?? .null }
        func text(_ s: String) -> CorpusValue { .text(s) }
        var out: [CorpusValue] = [text(input), text(status), text(reason), text(detail), int(framesRead),
                                  int(framesAnalyzed), int(framesDropped), dec(duration, 3), int(faceRows), int(tracks),
                                  dec(faceShare, 4)]
        for i in 0 ..< EmotionClass.count { out.append(dec(meanProbabilities?[i], 6)) }
        out += [dominant.map(text) ?? .null, dec(labelChangesPerMinute, 3), text(model), text(modelSHA256),
                text(fervidVersion), text(timeline)]
        return out
    }
}

public enum CorpusValue: Sendable, Equatable {
    case text(String)
    case number(String)
    case null

    var csv: String {
        switch self {
        case let .text(s): CorpusCollect.csvField(s)
        case let .number(s): s
        case .null: ""
        }
    }

    var json: String {
        switch self {
        case let .text(s): CorpusCollect.jsonString(s)
        case let .number(s): s
        case .null: "null"
        }
    }
}

/// `fervid collect DIR`: every sidecar under a folder → one table, one row per input, and
/// optionally every timeline as one long table with an `input` column.
///
/// Sidecars are found by name (`*.csv.json`, `*.jsonl.json`: a timeline's
/// `<output>.json`), read one at a time; memory does not grow with the number of inputs beyond
/// the list of paths.
public enum CorpusCollect {
    public enum Format: String, Sendable, CaseIterable { case csv, jsonl }

    public struct Totals: Sendable, Equatable {
        public var inputs = 0
        public var byStatus: [String: Int] = [:]
        public var rows = 0
    }

    /// Sidecar paths below `dir`, sorted (byte order). Hidden folders are skipped.
    public static func sidecars(under dir: String) throws(CorpusInputError) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CorpusInputError(subject: dir, cause: "no such folder")
        }
        guard let walker = FileManager.default.enumerator(atPath: dir) else {
            throw CorpusInputError(subject: dir, cause: "cannot search the folder")
        }
        var out: [String] = []
        let base = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        while let rel = walker.nextObject() as? String {
            let name = PathText.name(rel)
            if name.hasPrefix(".") { walker.skipDescendants(); continue }
            if name.hasSuffix(".csv.json") || name.hasSuffix(".jsonl.json") {
                out.append(base + "/" + rel)
            }
        }
        return out.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The record of one sidecar (and the timeline next to it). Never throws: what cannot be
    /// read is said in `status`/`detail`.
    public static func record(sidecar path: String, root: String) -> (CorpusRecord, TimelineDocument?) {
        var r = CorpusRecord()
        let timelinePath = String(path.dropLast(".json".count))
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            r.input = timelinePath
            r.status = "unreadable"
            r.detail = "\(path): the sidecar is not JSON"
            return (r, nil)
        }
        let source = object["source"] as? [String: Any] ?? [:]
        let frames = object["frames"] as? [String: Any] ?? [:]
        let model = object["model"] as? [String: Any] ?? [:]
        r.input = source["location"] as? String ?? timelinePath
        if let status = object["status"] as? String {
            r.status = status
        } else {
            r.status = (object["complete"] as? Bool) == true ? "complete" : "partial"
        }
        r.reason = object["reason"] as? String ?? ""
        r.detail = object["detail"] as? String ?? ""
        r.framesRead = frames["read"] as? Int
        r.framesAnalyzed = frames["analyzed"] as? Int
        r.framesDropped = frames["dropped"] as? Int
        r.duration = source["duration"] as? Double
        r.model = model["name"] as? String ?? ""
        r.modelSHA256 = model["sha256"] as? String ?? ""
        r.fervidVersion = object["fervid_version"] as? String ?? ""

        // A failed or never-started input has no timeline of its own: a file at that path is
        // left from an earlier run and does not describe this record.
        if r.status == "failed" || r.status == "not_started" { return (r, nil) }
        guard let timelineData = FileManager.default.contents(atPath: timelinePath) else { return (r, nil) }
        r.timeline = relative(timelinePath, to: root)
        guard var text = String(data: timelineData, encoding: .utf8) else {
            r.detail = join(r.detail, "timeline is not UTF-8 text")
            return (r, nil)
        }
        // A run killed mid-write may leave a last line without its newline: not a row.
        if !text.isEmpty, !text.hasSuffix("\n"), let cut = text.lastIndex(of: "\n") {
            text = String(text[...cut])
        }
        let doc: TimelineDocument
        do { doc = try EmotionTimelineReader.parse(text, name: timelinePath) } catch {
            r.detail = join(r.detail, "timeline unreadable: \(error)")
            return (r, nil)
        }
        var builder = TimelineSummaryBuilder()
        builder.add(doc.rows)
        let summary = builder.summary()
        r.tracks = summary.tracks.count
        r.faceRows = summary.faceRows
        if summary.frames > 0 { r.faceShare = 1 - summary.noFaceShare }
        if r.duration == nil, summary.frames > 0 { r.duration = summary.end - summary.start }
        if summary.faceRows > 0 {
            var means = [Double](repeating: 0, count: EmotionClass.count)
            var counts = [Double](repeating: 0, count: EmotionClass.count)
            for track in summary.tracks {
                for c in EmotionClass.allCases {
                    means[c.index] += (track.meanProbabilities[c] ?? 0) * Double(track.frames)
                    counts[c.index] += (track.shares[c] ?? 0) * Double(track.frames)
                }
            }
            r.meanProbabilities = means.map { $0 / Double(summary.faceRows) }
            r.dominant = EmotionClass.allCases[EmotionClass.argmax(counts.map { $0.rounded() })].rawValue
        }
        let span = summary.end - summary.start
        if span > 0 {
            let changes = summary.tracks.reduce(0) { $0 + $1.labelChanges }
            r.labelChangesPerMinute = Double(changes) / (span / 60)
        }
        return (r, doc)
    }

    /// Writes the corpus table to `output` (and all timelines' rows to `rowsPath`).
    /// An input the run was given, and where its sidecar would be: with `--manifest`, `collect`
    /// adds a `missing` row for each one that has no sidecar at all (a task that never ran).
    public struct Expected: Sendable {
        public var location: String
        /// Candidate sidecar paths (one per timeline format).
        public var sidecars: [String]
        public init(location: String, sidecars: [String]) {
            self.location = location
            self.sidecars = sidecars
        }
    }

    /// The inputs a manifest gives `analyze --manifest M -o DIR/`, with their sidecar paths under `dir`.
    public static func expected(manifest: String, dir: String, include: [String] = [],
                                cwd: String = FileManager.default.currentDirectoryPath) throws(CorpusInputError) -> [Expected] {
        let inputs = try CorpusInputs.expand(arguments: [], manifest: manifest, include: include, currentDirectory: cwd)
        let template = OutputTemplate.directory(dir.hasSuffix("/") ? dir : dir + "/")
        return inputs.map { input in
            Expected(location: input.location,
                     sidecars: [".emotions.csv", ".emotions.jsonl"].map { template.path(for: input, suffix: $0) + ".json" })
        }
    }

    public static func run(dir: String, output: String, rowsPath: String?, format: Format,
                           expected: [Expected]? = nil) throws(CorpusInputError) -> Totals {
        let paths = try sidecars(under: dir)
        var totals = Totals()
        let table = try OutputStream(path: output)
        let rows = try rowsPath.map { p throws(CorpusInputError) in try OutputStream(path: p) }
        // The long table's columns: the union of the timelines' (from the sidecars).
        var rowColumns = TimelineColumns()
        if rows != nil {
            for path in paths {
                guard let data = FileManager.default.contents(atPath: path),
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let columns = object["columns"] as? [String] else { continue }
                if columns.contains(where: { $0.hasPrefix("raw_") }) { rowColumns.includeRaw = true }
                if columns.contains("wallclock") { rowColumns.includeWallclock = true }
                if columns.contains("x_0") { rowColumns.includeLandmarks = true }
            }
        }
        if format == .csv {
            try table.write(CorpusRecord.columns.joined(separator: ",") + "\n")
        }
        if let rows, format == .csv {
            try rows.write((["input"] + rowColumns.names).joined(separator: ",") + "\n")
        }
        for path in paths {
            let (record, doc) = record(sidecar: path, root: dir)
            totals.inputs += 1
            totals.byStatus[record.status, default: 0] += 1
            let values = record.values
            switch format {
            case .csv: try table.write(values.map(\.csv).joined(separator: ",") + "\n")
            case .jsonl:
                let fields = zip(CorpusRecord.columns, values).map { jsonString($0) + ":" + $1.json }
                try table.write("{" + fields.joined(separator: ",") + "}\n")
            }
            if let rows, let doc {
                var chunk = ""
                let input = record.input
                let inputJSON = jsonString(input)
                let own = doc.columns.names
                // Each row's fields by name, in the union's order; what this timeline lacks is empty.
                let map = rowColumns.names.map { own.firstIndex(of: $0) }
                let strings = Set(["label", "box", "wallclock"])
                for row in doc.rows {
                    let fields = EmotionTimelineWriter.csvLine(row, columns: doc.columns)
                        .split(separator: ",", omittingEmptySubsequences: false)
                    let values = map.map { $0.map { String(fields[$0]) } ?? "" }
                    switch format {
                    case .csv:
                        chunk += csvField(input) + "," + values.joined(separator: ",") + "\n"
                    case .jsonl:
                        var line = "{\"input\":" + inputJSON
                        for (name, value) in zip(rowColumns.names, values) {
                            line += ",\"" + name + "\":"
                            // label, box and wallclock are plain ASCII (class names, box sources, ISO 8601): no escapes needed.
                            line += value.isEmpty ? "null" : strings.contains(name) ? "\"" + value + "\"" : value
                        }
                        chunk += line + "}\n"
                    }
                }
                totals.rows += doc.rows.count
                try rows.write(chunk)
            }
        }
        for input in expected ?? [] where !input.sidecars.contains(where: { FileManager.default.fileExists(atPath: $0) }) {
            var record = CorpusRecord()
            record.input = input.location
            record.status = "missing"
            record.detail = "no sidecar: never analyzed (a shard that did not run, or a run killed before it)"
            totals.inputs += 1
            totals.byStatus["missing", default: 0] += 1
            let values = record.values
            switch format {
            case .csv: try table.write(values.map(\.csv).joined(separator: ",") + "\n")
            case .jsonl:
                let fields = zip(CorpusRecord.columns, values).map { jsonString($0) + ":" + $1.json }
                try table.write("{" + fields.joined(separator: ",") + "}\n")
            }
        }
        try table.close()
        try rows?.close()
        return totals
    }

    static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "; " + b }

    static func relative(_ path: String, to root: String) -> String {
        let base = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// RFC 4180: quoted when it holds a comma, quote, CR or LF, or starts or ends with a space.
    public static func csvField(_ s: String) -> String {
        let needs = s.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" } || s.hasPrefix(" ") || s.hasSuffix(" ")
        return needs ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// `s` as a JSON string literal (quotes included).
    public static func jsonString(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        guard let data = try? encoder.encode(s) else { return "\"\"" }
        return String(decoding: data, as: UTF8.self)
    }

}

/// A file written in pieces, every write and the close checked; `-` is standard output.
final class OutputStream {
    let path: String
    private let handle: FileHandle
    private let owned: Bool

    init(path: String) throws(CorpusInputError) {
        self.path = path
        if path == "-" {
            handle = .standardOutput
            owned = false
            return
        }
        // open(2), not FileManager.createFile: that one replaces the path by a rename.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CorpusInputError(subject: path, cause: "cannot create: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        owned = true
    }

    func write(_ text: String) throws(CorpusInputError) {
        do { try handle.write(contentsOf: Data(text.utf8)) } catch {
            throw CorpusInputError(subject: path, cause: "write failed: \((error as NSError).localizedDescription)")
        }
    }

    func close() throws(CorpusInputError) {
        guard owned else { return }
        do {
            try handle.close()
        } catch {
            throw CorpusInputError(subject: path, cause: "close failed: \((error as NSError).localizedDescription)")
        }
    }
}
