import Foundation
import Testing
import TestSupport
@testable import Corpus

/// Timelines and sidecars written by hand (the schema of docs/csv-schema.md), so every expected
/// figure below follows from the construction, not from fervid's own summary code.
@Suite("fervid collect")
struct CollectTests {
    static let header = "frame,timestamp,face_id,confidence,success,x,y,w,h,box,angry,disgust,fear,happy,neutral,sad,surprise,label,label_prob"
    static let classes = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]

    static func faceRow(_ frame: Int, _ t: Double, id: Int, _ p: [Double]) -> String {
        let label = classes[p.indices.max { p[$0] < p[$1] }!]
        let probs = p.map { String(format: "%.6f", $0) }.joined(separator: ",")
        return "\(frame),\(String(format: "%.6f", t)),\(id),0.990000,1,10.00,10.00,50.00,50.00,detected,\(probs),\(label),\(String(format: "%.6f", p.max()!))"
    }

    static func emptyRow(_ frame: Int, _ t: Double) -> String {
        "\(frame),\(String(format: "%.6f", t)),,,0,,,,,," + String(repeating: ",", count: 8)
    }

    static func sidecar(location: String, status: String, reason: String? = nil, detail: String? = nil,
                        read: Int, analyzed: Int, duration: Double? = nil) -> String {
        var fields = [
            "\"schema_version\": 2", "\"fervid_version\": \"9.9.9\"",
            "\"model\": {\"name\": \"mini-xception\", \"sha256\": \"abc123\", \"labels\": [], \"metadata\": {}}",
            "\"columns\": [\(header.split(separator: ",").map { "\"\($0)\"" }.joined(separator: ","))]",
            "\"frames\": {\"read\": \(read), \"analyzed\": \(analyzed), \"dropped\": 0}",
            "\"status\": \"\(status)\"", "\"complete\": \(status == "complete")",
        ]
        var source = "\"location\": \"\(location)\", \"live\": false"
        if let duration { source += ", \"duration\": \(duration)" }
        fields.append("\"source\": {\(source)}")
        if let reason { fields.append("\"reason\": \"\(reason)\"") }
        if let detail { fields.append("\"detail\": \"\(detail)\"") }
        return "{" + fields.joined(separator: ", ") + "}\n"
    }

    let p1 = [0.1, 0.0, 0.0, 0.6, 0.2, 0.1, 0.0]   // happy
    let p2 = [0.1, 0.0, 0.0, 0.2, 0.6, 0.1, 0.0]   // neutral
    let p3 = [0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0]   // happy
    let p4 = [0.0, 0.0, 0.0, 0.7, 0.3, 0.0, 0.0]   // happy

    /// a/one: complete, 4 frames (one without a face), 2 tracks; b/two: partial, cut mid-line;
    /// c/three: failed, no timeline.
    func corpus(_ t: Tree) {
        t.file("out/a/one.emotions.csv", [Self.header, Self.faceRow(0, 0, id: 1, p1), Self.emptyRow(1, 0.5),
                                          Self.faceRow(2, 1.0, id: 1, p2), Self.faceRow(2, 1.0, id: 2, p3),
                                          Self.faceRow(3, 1.5, id: 1, p4)].joined(separator: "\n") + "\n")
        t.file("out/a/one.emotions.csv.json", Self.sidecar(location: "/data/a/one.mp4", status: "complete", read: 4, analyzed: 4))
        t.file("out/b/two.emotions.csv", [Self.header, Self.faceRow(0, 0, id: 1, p3), Self.faceRow(1, 1, id: 1, p1)].joined(separator: "\n")
            + "\n2,2.000000,1,0.99")  // torn last line
        t.file("out/b/two.emotions.csv.json", Self.sidecar(location: "/data/b/two, take 2.mp4", status: "partial", reason: "interrupted",
                                                           read: 3, analyzed: 3, duration: 60))
        t.file("out/c/three.emotions.csv.json", Self.sidecar(location: "/data/c/three.mp4", status: "failed", reason: "error",
                                                             detail: "no such file", read: 0, analyzed: 0))
        t.file("out/c/three.emotions.csv", Self.header + "\n" + Self.faceRow(0, 0, id: 1, p1) + "\n")  // left from an earlier run
        t.file("out/a/one.summary.json", "{}")  // not a sidecar: ignored
    }

    /// A CSV as rows of fields (RFC 4180 quotes), independent of the code under test.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { row.append(field); field = "" }
            else if c == "\n" { row.append(field); rows.append(row); row = []; field = "" }
            else { field.append(c) }
        }
        return rows
    }

    @Test("one row per sidecar: status, counts, face share, means, dominant, changes per minute")
    func table() throws {
        let t = Tree()
        corpus(t)
        let totals = try CorpusCollect.run(dir: t.path + "/out", output: t.path + "/corpus.csv", rowsPath: nil, format: .csv)
        #expect(totals.inputs == 3)
        #expect(totals.byStatus == ["complete": 1, "partial": 1, "failed": 1])
        let rows = Self.parseCSV(try String(contentsOfFile: t.path + "/corpus.csv", encoding: .utf8))
        let header = rows[0]
        #expect(header.first == "input" && header.contains("mean_happy") && header.contains("label_changes_per_min"))
        let records = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        #expect(records.map { $0["input"]! } == ["/data/a/one.mp4", "/data/b/two, take 2.mp4", "/data/c/three.mp4"])

        let one = records[0]
        #expect(one["detail"] == "")
        #expect(one["status"] == "complete" && one["reason"] == "")
        #expect(one["frames_read"] == "4" && one["frames_analyzed"] == "4")
        #expect(one["face_rows"] == "4" && one["tracks"] == "2")
        #expect(Double(one["face_share"]!) == 0.75)  // 3 of 4 frames
        for (i, c) in Self.classes.enumerated() {
            let mean = (p1[i] + p2[i] + p3[i] + p4[i]) / 4
            #expect(abs(Double(one["mean_" + c]!)! - mean) < 1e-6, "mean_\(c)")
        }
        #expect(one["dominant"] == "happy")
        // Track 1 happy → neutral → happy (2 changes), track 2 none; frames 0.5 s apart, the
        // last lasting as long as the one before: 2 s of timeline.
        #expect(Double(one["label_changes_per_min"]!) == 60)
        #expect(Double(one["duration_s"]!) == 2)
        #expect(one["model"] == "mini-xception" && one["model_sha256"] == "abc123" && one["fervid_version"] == "9.9.9")
        #expect(one["timeline"] == "a/one.emotions.csv")

        let two = records[1]
        #expect(two["status"] == "partial" && two["reason"] == "interrupted")
        #expect(two["face_rows"] == "2")  // the torn line is not a row
        #expect(Double(two["duration_s"]!) == 60)  // the sidecar's input duration wins

        let three = records[2]
        #expect(three["status"] == "failed" && three["detail"] == "no such file")
        #expect(three["face_rows"] == "" && three["timeline"] == "" && three["mean_happy"] == "")
    }

    @Test("--rows: every timeline row with an input column, CSV and JSON Lines")
    func rows() throws {
        let t = Tree()
        corpus(t)
        _ = try CorpusCollect.run(dir: t.path + "/out", output: t.path + "/corpus.csv", rowsPath: t.path + "/rows.csv", format: .csv)
        let csvText = try String(contentsOfFile: t.path + "/rows.csv", encoding: .utf8)
        let csv = Self.parseCSV(csvText)
        #expect(csv.count == 8, "\(csvText)")
        #expect(csv[0] == ["input"] + Self.header.split(separator: ",").map(String.init))
        #expect(csv.count == 1 + 5 + 2)
        #expect(csv.dropFirst().filter { $0[0] == "/data/a/one.mp4" }.count == 5)
        #expect(csv[7][0] == "/data/b/two, take 2.mp4" && csv[7][1] == "1")
        #expect(csv.allSatisfy { $0.count == 1 + 19 })

        let totals = try CorpusCollect.run(dir: t.path + "/out", output: t.path + "/corpus.jsonl", rowsPath: t.path + "/rows.jsonl", format: .jsonl)
        #expect(totals.rows == 7)
        let lines = try String(contentsOfFile: t.path + "/rows.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 7)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["input"] as? String == "/data/a/one.mp4")
        #expect(first["label"] as? String == "happy" && first["box"] as? String == "detected")
        #expect(first["happy"] as? Double == 0.6)
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(second["success"] as? Int == 0 && second["face_id"] is NSNull)
        let table = try String(contentsOfFile: t.path + "/corpus.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(table.count == 3)
        let rec = try JSONSerialization.jsonObject(with: Data(table[2].utf8)) as! [String: Any]
        #expect(rec["status"] as? String == "failed" && rec["face_rows"] is NSNull)
    }

    @Test("--manifest: an input of the run with no sidecar at all is a 'missing' row")
    func missing() throws {
        let t = Tree()
        corpus(t)
        let expected = try CorpusCollect.expected(manifest: "/data/a/one.mp4\n/data/d/four.mp4\n", dir: t.path + "/out", cwd: t.path)
        #expect(expected.map(\.sidecars.first) == [t.path + "/out/a/one.emotions.csv.json", t.path + "/out/d/four.emotions.csv.json"])
        let totals = try CorpusCollect.run(dir: t.path + "/out", output: t.path + "/corpus.csv", rowsPath: nil, format: .csv,
                                           expected: expected)
        #expect(totals.inputs == 4 && totals.byStatus["missing"] == 1)
        let rows = Self.parseCSV(try String(contentsOfFile: t.path + "/corpus.csv", encoding: .utf8))
        #expect(rows.last?[0] == "/data/d/four.mp4" && rows.last?[1] == "missing")
        #expect(rows.filter { $0[0] == "/data/a/one.mp4" }.count == 1, "a sidecar found is not also missing")
    }

    @Test("a missing folder and an unwritable table are errors naming the path")
    func errors() {
        let t = Tree()
        #expect(throws: CorpusInputError.self) {
            try CorpusCollect.run(dir: t.path + "/nope", output: t.path + "/c.csv", rowsPath: nil, format: .csv)
        }
        _ = t.dir("out")
        #expect(throws: CorpusInputError.self) {
            try CorpusCollect.run(dir: t.path + "/out", output: "/dev/full", rowsPath: nil, format: .csv)
        }
    }
}
