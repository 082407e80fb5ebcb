import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Timeline

/// The parts of an SVG the checks need, read with XMLParser (so the file is well-formed XML too).
final class SVGScan: NSObject, XMLParserDelegate {
    struct Axis { var x1 = 0.0, x2 = 0.0; var ticks: [(x: Double, label: String)] = [] }
    var panels: [String] = []
    var axes: [Axis] = []
    var pathPoints: [Int] = []
    var notes: [String] = []
    var titleText = ""
    private var stack: [String] = []
    private var pendingTickX: Double?
    private var text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes a: [String: String] = [:]) {
        stack.append(a["class"] ?? name)
        text = ""
        switch (name, a["class"]) {
        case ("g", "panel"): panels.append(a["id"] ?? "")
        case ("g", "time-axis"): axes.append(Axis())
        case ("line", "axis-line"):
            axes[axes.count - 1].x1 = Double(a["x1"]!)!
            axes[axes.count - 1].x2 = Double(a["x2"]!)!
        case ("text", "tick-label"): pendingTickX = Double(a["x"]!)!
        case ("path", _): pathPoints.append(a["d"]!.split(separator: " ").count)
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let cls = stack.removeLast()
        if cls == "tick-label", let x = pendingTickX { axes[axes.count - 1].ticks.append((x, text)); pendingTickX = nil }
        if cls == "note" { notes.append(text) }
        if cls == "title", name == "text" { titleText = text }
    }

    static func scan(_ svg: String) throws -> SVGScan {
        let scan = SVGScan()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = scan
        guard parser.parse() else { throw TimelineError.malformed(path: "svg", line: parser.lineNumber, reason: "\(String(describing: parser.parserError))") }
        return scan
    }
}

@Suite("SVG plot")
struct PlotTests {
    /// Runs `xmllint --noout` on the file; returns its exit status and messages.
    func xmllint(_ path: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["xmllint", "--noout", path]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    /// "12.5" seconds or "m:ss(.s)" / "h:mm:ss" back to seconds.
    func seconds(_ label: String) -> Double {
        label.split(separator: ":").reduce(0.0) { $0 * 60 + Double($1)! }
    }

    /// The axis line's ends, mapped through the linear fit of the tick labels, must be the range.
    func expectAxisSpans(_ axis: SVGScan.Axis, _ range: ClosedRange<Double>) {
        #expect(axis.ticks.count >= 3, "\(axis.ticks.count) ticks")
        guard let first = axis.ticks.first, let last = axis.ticks.last, first.x < last.x else { return }
        let t0 = seconds(first.label), t1 = seconds(last.label)
        let perPixel = (t1 - t0) / (last.x - first.x)
        let start = t0 + (axis.x1 - first.x) * perPixel, end = t0 + (axis.x2 - first.x) * perPixel
        // Tolerance: coordinates carry 2 decimals, labels are rounded to the tick step.
        #expect(abs(start - range.lowerBound) <= 0.02 * perPixel + 1e-6, "axis starts at \(start), range \(range)")
        #expect(abs(end - range.upperBound) <= 0.02 * perPixel + 1e-6, "axis ends at \(end), range \(range)")
    }

    func rows(tracks: [Int], frames: Int, fps: Double, start: Double = 0, raw: Bool) -> [TimelineRow] {
        var rng = LCG(seed: 99)
        return (0..<frames).flatMap { i -> [TimelineRow] in
            let t = start + Double(i) / fps
            let present = tracks.filter { id in id == tracks.first || (i / 50) % 2 == 0 }
            if present.isEmpty || i % 97 == 13 { return [TimelineRow(frame: i, timestamp: t, face: nil)] }
            return present.map { id in
                TimelineRow(frame: i, timestamp: t, face: FaceEmotion(faceID: id, confidence: 1, box: FaceRect(x: 0, y: 0, width: 1, height: 1),
                                                                       probabilities: rng.probabilities(), rawProbabilities: raw ? rng.probabilities() : nil))
            }
        }
    }

    @Test func onePanelPerTrackValidSVGAndAxisSpansTheRange() throws {
        let dir = TemporaryDirectory()
        for raw in [false, true] {
            let data = rows(tracks: [3, 8], frames: 400, fps: 29.97, start: 1.5, raw: raw)
            var plot = TimelinePlot(source: "samples/a&b <c>.mp4", model: "mini-xception", smoothing: "ema:0.5")
            plot.add(data)
            let path = dir.file("plot-\(raw).svg")
            try plot.write(to: path)
            let (status, messages) = try xmllint(path)
            #expect(status == 0, "xmllint: \(messages)")
            let svg = try String(contentsOfFile: path, encoding: .utf8)
            let scan = try SVGScan.scan(svg)
            #expect(scan.panels == ["track-3", "track-8"])
            #expect(scan.titleText == "samples/a&b <c>.mp4")
            #expect(svg.contains("model mini-xception"))
            #expect(scan.axes.count == 2)
            let range = data.first!.timestamp...data.last!.timestamp
            for axis in scan.axes { expectAxisSpans(axis, range) }
            #expect(svg.contains("<polyline") == raw, "raw lines only with raw data")
            for c in EmotionClass.allCases { #expect(svg.contains(TimelinePlot.palette[c]!)) }
        }
    }

    @Test func noFacesGiveAnEmptyChartWithANote() throws {
        let dir = TemporaryDirectory()
        var plot = TimelinePlot(source: "no_face.mp4", model: "mini-xception")
        plot.add((0..<90).map { TimelineRow(frame: $0, timestamp: Double($0) / 30, face: nil) })
        let path = dir.file("empty.svg")
        try plot.write(to: path)
        #expect(try xmllint(path).0 == 0)
        let scan = try SVGScan.scan(String(contentsOfFile: path, encoding: .utf8))
        #expect(scan.panels.isEmpty)
        #expect(scan.notes.count == 1 && scan.notes[0].hasPrefix("No faces found in 90 frames"))
        expectAxisSpans(scan.axes[0], 0...(89.0 / 30))
        // No rows at all: still a valid chart.
        try TimelinePlot(source: "x", model: "y").write(to: path)
        #expect(try xmllint(path).0 == 0)
    }

    @Test func longVideosAreDownSampledNotTruncated() throws {
        // One hour at 30 fps: the drawing keeps at most maxPoints points per track and the
        // axis still spans the hour (labels in h:mm:ss / m:ss).
        let fps = 30.0, frames = 108_000
        var plot = TimelinePlot(source: "long.mp4", model: "m", maxPoints: 500)
        var rng = LCG(seed: 1)
        for i in 0..<frames {
            plot.add(TimelineRow(frame: i, timestamp: Double(i) / fps,
                                 face: FaceEmotion(faceID: 0, confidence: 1, box: FaceRect(x: 0, y: 0, width: 1, height: 1),
                                                   probabilities: rng.probabilities())))
        }
        let svg = plot.svg()
        let scan = try SVGScan.scan(svg)
        #expect(scan.panels.count == 1)
        // Each area path: M + 2 points per bin.
        for n in scan.pathPoints { #expect(n <= 2 * 500 + 2) }
        #expect(scan.pathPoints.count == EmotionClass.count)
        #expect(svg.utf8.count < 400_000, "\(svg.utf8.count) bytes")
        #expect(scan.axes[0].ticks.contains { $0.label.contains(":") })
        expectAxisSpans(scan.axes[0], 0...(Double(frames - 1) / fps))
    }

    @Test func drawsFromAFileReadBack() throws {
        let dir = TemporaryDirectory()
        let csv = dir.file("t.csv")
        let writer = try EmotionTimelineWriter(path: csv, format: .csv, columns: TimelineColumns(includeRaw: true))
        let data = rows(tracks: [0, 1, 2], frames: 200, fps: 25, raw: true)
        try writer.write(data)
        try writer.close()
        try TimelineSidecar(fervidVersion: "test", model: .init(name: "dba-resnet101", labels: ["happy"]), columns: TimelineColumns(includeRaw: true),
                            format: .csv, smoothing: .ema(tau: 0.5), source: .init(location: "clip.mp4", live: false), startTime: Date())
            .write(to: TimelineSidecar.path(forOutput: csv))
        let plot = TimelinePlot(document: try EmotionTimelineReader.read(path: csv))
        let svg = plot.svg()
        let scan = try SVGScan.scan(svg)
        #expect(scan.panels == ["track-0", "track-1", "track-2"])
        #expect(scan.titleText == "clip.mp4" && svg.contains("model dba-resnet101") && svg.contains("ema:0.5"))
    }
}
