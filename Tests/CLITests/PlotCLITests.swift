import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport

private struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs the fervid binary under test (``fervidBinary(sourceLocation:)`` in Support.swift:
/// `FERVID_BIN`, else `.build/release/fervid`, else `.build/debug/fervid`) with `arguments`.
private func fervid(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    guard let binary = fervidBinary(sourceLocation: sourceLocation) else { throw CLIFailure("no fervid binary to test") }
    return try run(binary, arguments)
}

private final class TemporaryFolder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "fervid-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
        return file(name)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

// MARK: - Timelines written by hand in CSV schema version 2 (docs/csv-schema.md)

private let classes = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
private let header = ["frame", "timestamp", "face_id", "confidence", "success", "x", "y", "w", "h", "box"] + classes + ["label", "label_prob"]
private let rawHeader = header + classes.map { "raw_" + $0 }

private func n(_ v: Double) -> String { String(format: "%.6f", v) }

/// A probability vector peaked at class `k` with mass `p` there.
private func probabilities(_ k: Int, _ p: Double) -> [Double] {
    (0..<7).map { $0 == k ? p : (1 - p) / 6 }
}

/// One face row's fields (with the raw columns when `raw` is given).
private func faceFields(frame: Int, t: Double, id: Int, _ p: [Double], raw: [Double]? = nil) -> [String] {
    let k = p.indices.max { p[$0] < p[$1] }!
    var f = [String(frame), n(t), String(id), n(0.98), "1", "10.00", "20.00", "64.00", "64.00", "detected"]
    f += p.map(n) + [classes[k], n(p[k])]
    if let raw { f += raw.map(n) }
    return f
}

/// A frame without a face: `success=0`, every face column empty.
private func emptyFields(frame: Int, t: Double, raw: Bool = false) -> [String] {
    [String(frame), n(t), "", "", "0"] + [String](repeating: "", count: (raw ? rawHeader : header).count - 5)
}

private func csv(_ rows: [[String]], raw: Bool = false) -> String {
    ([(raw ? rawHeader : header)] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
}

/// Two tracks over 0…2 s at 10 fps: face 1 in every frame, face 4 in frames 5…15.
private func twoTrackRows(raw: Bool = false) -> [[String]] {
    var rows: [[String]] = []
    for i in 0...20 {
        let t = Double(i) * 0.1
        let p1 = probabilities(i < 10 ? 3 : 4, 0.7)
        rows.append(faceFields(frame: i, t: t, id: 1, p1, raw: raw ? probabilities(3, 0.5) : nil))
        if (5...15).contains(i) {
            rows.append(faceFields(frame: i, t: t, id: 4, probabilities(5, 0.6), raw: raw ? probabilities(5, 0.9) : nil))
        }
    }
    return rows
}

private let sidecar = """
    {
      "schema_version": 2, "fervid_version": "0.1.0",
      "model": {"name": "mini-xception", "labels": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], "metadata": {}},
      "class_order": ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"],
      "columns": [\(header.map { "\"\($0)\"" }.joined(separator: ", "))],
      "format": "csv", "smoothing": "ema:0.5",
      "source": {"location": "samples/clip.mp4", "live": false},
      "start_time": "2024-05-01T12:00:00.000Z", "end_time": "2024-05-01T12:00:03.000Z", "complete": true,
      "frames": {"read": 21, "analyzed": 21, "dropped": 0}, "faces": 32, "tracks": 2
    }
    """

// MARK: - Reading the SVG back

/// Every element of an SVG with its attributes and text, read with XMLParser (so a parse is also
/// a well-formedness check).
private final class SVGElements: NSObject, XMLParserDelegate {
    struct Element { var name: String; var attributes: [String: String]; var text = "" }
    var elements: [Element] = []
    private var open: [Int] = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        open.append(elements.count)
        elements.append(Element(name: name, attributes: attributes))
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = open.last { elements[i].text += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    static func read(_ path: String) throws -> SVGElements {
        let scan = SVGElements()
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        parser.delegate = scan
        guard parser.parse() else { throw CLIFailure("\(path) is not well-formed XML (line \(parser.lineNumber))") }
        return scan
    }

    func all(_ name: String, class cls: String? = nil) -> [Element] {
        elements.filter { $0.name == name && (cls == nil || $0.attributes["class"] == cls) }
    }
}

/// `xmllint --noout` on the file: its exit status and messages.
private func xmllint(_ path: String) throws -> (status: Int32, messages: String) {
    let result = try run("xmllint", ["--noout", path])
    return (result.status, result.stdout + result.stderr)
}

// MARK: - Tests

@Suite("fervid plot")
struct PlotCLITests {
    @Test("draws one panel per track, a time axis over the whole range, the sidecar's title; valid SVG")
    func twoTracks() throws {
        let dir = try TemporaryFolder()
        let timeline = try dir.write("clip.emotions.csv", csv(twoTrackRows()))
        _ = try dir.write("clip.emotions.csv.json", sidecar)
        let result = try fervid(["plot", timeline, "-o", dir.file("clip.svg")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let lint = try xmllint(dir.file("clip.svg"))
        #expect(lint.status == 0, "xmllint: \(lint.messages)")

        let svg = try SVGElements.read(dir.file("clip.svg"))
        #expect(svg.all("g", class: "panel").map { $0.attributes["id"] ?? "" } == ["track-1", "track-4"])
        let title = svg.all("title").first?.text ?? ""
        #expect(title.contains("samples/clip.mp4") && title.contains("mini-xception") && title.contains("ema:0.5"), "\(title)")
        // Each panel's time axis runs from the first timestamp (0 s) to the last (2 s), both at
        // the ends of the axis line; no raw lines without --raw.
        let lines = svg.all("line", class: "axis-line")
        let labels = svg.all("text", class: "tick-label")
        #expect(lines.count == 2)
        for line in lines {
            let x1 = try #require(Double(line.attributes["x1"] ?? "")), x2 = try #require(Double(line.attributes["x2"] ?? ""))
            #expect(x2 > x1)
            let ticks = labels.compactMap { e in Double(e.attributes["x"] ?? "").flatMap { x in Double(e.text).map { (x: x, t: $0) } } }
            #expect(ticks.contains { $0.t == 0 && abs($0.x - x1) < 0.01 }, "no 0 s tick at \(x1)")
            #expect(ticks.contains { $0.t == 2 && abs($0.x - x2) < 0.01 }, "no 2 s tick at \(x2)")
            #expect(ticks.allSatisfy { $0.t >= 0 && $0.t <= 2 })
        }
        #expect(svg.all("polyline").isEmpty)
    }

    @Test("--raw draws the raw probabilities as lines; it needs the raw columns")
    func raw() throws {
        let dir = try TemporaryFolder()
        let timeline = try dir.write("raw.csv", csv(twoTrackRows(raw: true), raw: true))
        let with = try fervid(["plot", timeline, "--raw", "-o", dir.file("with.svg")])
        #expect(with.status == 0, "\(with.stderr)")
        #expect(try SVGElements.read(dir.file("with.svg")).all("polyline").count == 2 * 7)
        #expect(try xmllint(dir.file("with.svg")).status == 0)
        let without = try fervid(["plot", timeline, "-o", dir.file("without.svg")])
        #expect(without.status == 0, "\(without.stderr)")
        #expect(try SVGElements.read(dir.file("without.svg")).all("polyline").isEmpty)

        let plain = try dir.write("plain.csv", csv(twoTrackRows()))
        let refused = try fervid(["plot", plain, "--raw", "-o", dir.file("x.svg")])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("fervid: \(plain): ") && refused.stderr.contains("raw"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("x.svg")))
    }

    @Test("a timeline with no faces draws an empty but valid chart with a note")
    func noFaces() throws {
        let dir = try TemporaryFolder()
        let timeline = try dir.write("empty.csv", csv((0..<10).map { emptyFields(frame: $0, t: Double($0) * 0.1) }))
        let result = try fervid(["plot", timeline, "-o", dir.file("empty.svg")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try xmllint(dir.file("empty.svg")).status == 0)
        let svg = try SVGElements.read(dir.file("empty.svg"))
        #expect(svg.all("g", class: "panel").isEmpty)
        let notes = svg.all("text", class: "note").map(\.text)
        #expect(notes.count == 1 && notes[0].contains("No faces found in 10 frames"), "\(notes)")
        #expect(svg.all("line", class: "axis-line").count == 1)
    }

    @Test("reads JSON Lines too, and writes to standard output with -o -")
    func jsonLinesToStdout() throws {
        let dir = try TemporaryFolder()
        let lines = (0..<5).map { i -> String in
            let f = faceFields(frame: i, t: Double(i) * 0.04, id: 7, probabilities(1, 0.8))
            let pairs = zip(header, f).map { key, v -> String in
                if key == "label" || key == "box" { return "\"\(key)\":\"\(v)\"" }
                return "\"\(key)\":\(v)"
            }
            return "{" + pairs.joined(separator: ",") + "}"
        }
        let timeline = try dir.write("clip.jsonl", lines.joined(separator: "\n") + "\n")
        let result = try fervid(["plot", timeline, "-o", "-"])
        #expect(result.status == 0, "\(result.stderr)")
        let svgPath = try dir.write("stdout.svg", result.stdout)
        #expect(try xmllint(svgPath).status == 0)
        #expect(try SVGElements.read(svgPath).all("g", class: "panel").map { $0.attributes["id"] ?? "" } == ["track-7"])
    }

    @Test("a malformed timeline: one line naming the file and the line, exit 1, nothing written")
    func malformed() throws {
        let dir = try TemporaryFolder()
        var rows = twoTrackRows()
        rows[2][1] = "abc"  // file line 4: the header is line 1
        let bad = try dir.write("bad.csv", csv(rows))
        let result = try fervid(["plot", bad, "-o", dir.file("bad.svg")])
        #expect(result.status == 1)
        #expect(result.stderr == "fervid: \(bad):4: timestamp 'abc' is not a number\n", "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad.svg")))

        rows = twoTrackRows()
        rows[5].removeLast()  // line 7
        let short = try dir.write("short.csv", csv(rows))
        let shortResult = try fervid(["plot", short, "-o", dir.file("short.svg")])
        #expect(shortResult.status == 1)
        #expect(shortResult.stderr.hasPrefix("fervid: \(short):7: ") && shortResult.stderr.filter { $0 == "\n" }.count == 1,
                "\(shortResult.stderr)")

        let notCSV = try dir.write("notes.txt", "hello\nworld\n")
        let notResult = try fervid(["plot", notCSV, "-o", dir.file("n.svg")])
        #expect(notResult.status == 1)
        #expect(notResult.stderr.hasPrefix("fervid: \(notCSV):1: ") && notResult.stderr.filter { $0 == "\n" }.count == 1,
                "\(notResult.stderr)")

        let timeline = try dir.write("ok.csv", csv(twoTrackRows()))
        _ = try dir.write("ok.csv.json", "{\"schema_version\": 1}")
        let badSidecar = try fervid(["plot", timeline, "-o", dir.file("ok.svg")])
        #expect(badSidecar.status == 1)
        #expect(badSidecar.stderr == "fervid: \(timeline).json: not a fervid sidecar: missing field 'fervid_version'\n",
                "\(badSidecar.stderr)")
    }

    @Test("missing input or output directory: exit 1 naming it; bad usage: exit 2")
    func inputsAndUsage() throws {
        let dir = try TemporaryFolder()
        let missing = try fervid(["plot", dir.file("nope.csv"), "-o", dir.file("x.svg")])
        #expect(missing.status == 1)
        #expect(missing.stderr == "fervid: \(dir.file("nope.csv")): no such file\n", "\(missing.stderr)")

        let timeline = try dir.write("ok.csv", csv(twoTrackRows()))
        let unwritable = try fervid(["plot", timeline, "-o", dir.file("no/such/dir/x.svg")])
        #expect(unwritable.status == 1)
        #expect(unwritable.stderr.hasPrefix("fervid: \(dir.file("no/such/dir/x.svg")): cannot write")
                && unwritable.stderr.filter { $0 == "\n" }.count == 1, "\(unwritable.stderr)")

        #expect(try fervid(["plot", timeline]).status == 2)
        #expect(try fervid(["plot", "-o", dir.file("x.svg")]).status == 2)
        #expect(try fervid(["plot", timeline, "-o", dir.file("x.svg"), "--bogus"]).status == 2)
    }
}
