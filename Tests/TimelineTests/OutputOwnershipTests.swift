import Foundation
import Testing
@testable import Timeline

/// ``OutputSafety/foreignContent(at:kind:containerComment:)``: fervid's own outputs (made by its
/// writers) are recognised; files it did not write, or of another kind, are not.
@Suite struct OutputOwnershipTests {
    static let notes = Data("Meeting notes: keep.\n".utf8)

    func write(_ data: Data, _ path: String) throws { try data.write(to: URL(fileURLWithPath: path)) }

    func sidecar() -> TimelineSidecar {
        TimelineSidecar(fervidVersion: "test", model: .init(name: "m", labels: ["happy"]), columns: TimelineColumns(),
                        format: .csv, smoothing: .none, source: .init(location: "clip.mp4", live: false), startTime: Date())
    }

    @Test("what fervid's writers produce is recognised as its own kind, and as no other kind")
    func ownOutputs() throws {
        let dir = TemporaryDirectory()
        var written: [OutputKind: String] = [:]
        for (format, columns) in [(TimelineFormat.csv, TimelineColumns()), (.jsonl, TimelineColumns(includeRaw: true, includeLandmarks: true))] {
            let path = dir.file("t.\(format.rawValue)")
            let writer = try EmotionTimelineWriter(path: path, format: format, columns: columns)
            try writer.write(TimelineRow(frame: 0, timestamp: 0, face: nil))
            try writer.close()
            #expect(OutputSafety.foreignContent(at: path, kind: .timeline) == nil, "\(format)")
            written[.timeline] = path
        }
        try sidecar().write(to: dir.file("t.csv.json"))
        written[.sidecar] = dir.file("t.csv.json")
        var builder = TimelineSummaryBuilder()
        builder.add([TimelineRow(frame: 0, timestamp: 0, face: nil)])
        try builder.summary().write(to: dir.file("s.json"))
        written[.summary] = dir.file("s.json")
        try TimelinePlot(source: "clip.mp4", model: "m").write(to: dir.file("p.svg"))
        written[.plot] = dir.file("p.svg")
        for (kind, path) in written {
            #expect(OutputSafety.foreignContent(at: path, kind: kind) == nil, "\(kind) not recognised")
            for other in [OutputKind.timeline, .sidecar, .summary, .plot, .corpusTable, .corpusRows] where other != kind {
                #expect(OutputSafety.foreignContent(at: path, kind: other) != nil, "\(kind) taken for \(other)")
            }
        }
    }

    @Test("files fervid did not write are foreign for every kind; a missing, empty or device path is not")
    func foreignFiles() throws {
        let dir = TemporaryDirectory()
        let lookalikes: [String: String] = [
            "notes.txt": "Meeting notes: keep.\n",
            "other.csv": "frame,timestamp,face_id,value\n0,0,0,1\n",  // a CSV, not fervid's header
            "short.csv": "frame,timestamp,face_id,confidence,success,x,y,w,h,box\n",
            "data.json": "{\"frames\": 3, \"tracks\": [], \"author\": \"me\"}\n",  // summary-ish, one key more
            "config.json": "{\"schema_version\": 2}\n",  // no fervid_version
            "drawing.svg": "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n",
            "table.csv": "input,status\nx,ok\n",
            "binary.bin": "\u{0}\u{1}\u{2}\u{FF}",
        ]
        for (name, text) in lookalikes {
            try write(Data(text.utf8), dir.file(name))
            for kind in OutputKind.allCases {
                let finding = OutputSafety.foreignContent(at: dir.file(name), kind: kind, containerComment: { _ in nil })
                #expect(finding != nil, "\(name) taken for a fervid \(kind)")
            }
        }
        FileManager.default.createFile(atPath: dir.file("empty"), contents: Data())
        for kind in OutputKind.allCases {
            #expect(OutputSafety.foreignContent(at: dir.file("missing"), kind: kind) == nil)
            #expect(OutputSafety.foreignContent(at: dir.file("empty"), kind: kind) == nil)
            #expect(OutputSafety.foreignContent(at: "/dev/null", kind: kind) == nil)
            #expect(OutputSafety.foreignContent(at: dir.path, kind: kind) == "it is a directory")
        }
    }

    @Test("summaries and charts from before the marker are recognised by their exact shape")
    func legacyOutputs() throws {
        let dir = TemporaryDirectory()
        // A schema version 1 timeline (no `box` column), as fervid ab0fc06 wrote it.
        try write(Data("""
            frame,timestamp,face_id,confidence,success,x,y,w,h,angry,disgust,fear,happy,neutral,sad,surprise,label,label_prob
            0,0.000000,0,1.000000,1,20.00,0.00,120.00,120.00,0.059505,0.000009,0.166924,0.022357,0.098909,0.633513,0.018782,sad,0.633513

            """.utf8), dir.file("v1.csv"))
        #expect(OutputSafety.foreignContent(at: dir.file("v1.csv"), kind: .timeline) == nil)
        var builder = TimelineSummaryBuilder()
        builder.add([TimelineRow(frame: 0, timestamp: 0, face: nil)])
        var summary = builder.summary()
        summary.fervidOutput = nil
        try summary.write(to: dir.file("old.json"))
        #expect(try String(contentsOfFile: dir.file("old.json"), encoding: .utf8).contains("fervid_output") == false)
        #expect(OutputSafety.foreignContent(at: dir.file("old.json"), kind: .summary) == nil)
        let svg = TimelinePlot(source: "clip.mp4", model: "m").svg().replacingOccurrences(of: TimelinePlot.marker + "\n", with: "")
        #expect(!svg.contains("fervid_output"))
        try write(Data(svg.utf8), dir.file("old.svg"))
        #expect(OutputSafety.foreignContent(at: dir.file("old.svg"), kind: .plot) == nil)
    }

    @Test("an annotated video is fervid's by its container's comment tag only")
    func annotatedVideo() throws {
        let dir = TemporaryDirectory()
        try write(Self.notes, dir.file("a.mp4"))
        let path = dir.file("a.mp4")
        #expect(OutputSafety.foreignContent(at: path, kind: .annotatedVideo, containerComment: { _ in OutputSafety.annotatedVideoComment }) == nil)
        #expect(OutputSafety.foreignContent(at: path, kind: .annotatedVideo, containerComment: { _ in "holiday" }) != nil)
        #expect(OutputSafety.foreignContent(at: path, kind: .annotatedVideo, containerComment: { _ in nil }) != nil)
        #expect(OutputSafety.foreignContent(at: path, kind: .annotatedVideo) != nil)  // no reader: never assumed
    }

    /// A safetensors file built by hand: 8-byte little-endian header length, the JSON header, data.
    func safetensors(_ header: String, bytes: Int) -> Data {
        var json = Data(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian
        return Data(bytes: &length, count: 8) + json + Data(count: bytes)
    }

    @Test("models run --output: fervid's logits/probabilities file is its own; a model or other tensors are not")
    func tensorOutput() throws {
        let dir = TemporaryDirectory()
        let cases: [(String, String, Bool)] = [
            ("own.safetensors", #"{"__metadata__":{"fervid.labels":"a,b"},"logits":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"probabilities":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]}}"#, true),
            ("mtcnn.safetensors", #"{"__metadata__":{"fervid.model":"mtcnn-pnet"},"logits":{"dtype":"F32","shape":[1,4],"data_offsets":[0,16]}}"#, true),
            ("model.safetensors", #"{"__metadata__":{"fervid.arch":"mini-xception"},"logits":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"conv.weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, false),
            ("nometa.safetensors", #"{"logits":{"dtype":"F32","shape":[1,4],"data_offsets":[0,16]}}"#, false),
            ("othermeta.safetensors", #"{"__metadata__":{"format":"pt"},"logits":{"dtype":"F32","shape":[1,4],"data_offsets":[0,16]}}"#, false),
        ]
        for (name, header, own) in cases {
            try write(safetensors(header, bytes: 16), dir.file(name))
            #expect((OutputSafety.foreignContent(at: dir.file(name), kind: .tensorOutput) == nil) == own, "\(name)")
        }
        try write(Self.notes, dir.file("notes.safetensors"))
        #expect(OutputSafety.foreignContent(at: dir.file("notes.safetensors"), kind: .tensorOutput) != nil)
    }

    @Test("checkOwnership throws the first foreign output, naming it and --overwrite")
    func check() throws {
        let dir = TemporaryDirectory()
        try write(Self.notes, dir.file("notes.docx"))
        try sidecar().write(to: dir.file("t.csv.json"))
        #expect(throws: ForeignOutput.self) {
            try OutputSafety.checkOwnership([("sidecar", dir.file("t.csv.json"), .sidecar), ("-o", dir.file("notes.docx"), .timeline)])
        }
        do {
            try OutputSafety.checkOwnership([("--summary", dir.file("notes.docx"), .summary)])
            Issue.record("not refused")
        } catch {
            #expect(error.description.hasPrefix("--summary \(dir.file("notes.docx")) exists and is not a fervid summary ("))
            #expect(error.description.hasSuffix("refusing to replace it, nothing was written (--overwrite replaces it)"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("notes.docx"))) == Self.notes)
    }
}

/// Path pieces without NSString (`("w" as NSString).deletingLastPathComponent` traps here: `-o w`
/// crashed fervid with exit 132).
@Suite struct PathTextTests {
    @Test("parent, name and appending of one-character and other paths")
    func pieces() {
        #expect(PathText.parent("w") == "" && PathText.name("w") == "w")
        #expect(PathText.parent("/w") == "/" && PathText.name("/w") == "w")
        #expect(PathText.parent("a/w") == "a" && PathText.name("a/w") == "w")
        #expect(PathText.parent("") == "" && PathText.name("") == "")
        #expect(PathText.appending("w", to: "") == "w" && PathText.appending("w", to: "/") == "/w")
        #expect(PathText.appending("w", to: "out") == "out/w" && PathText.appending("w", to: "out/") == "out/w")
    }

    @Test("one-character output paths: the clash check and the atomic write take them apart safely")
    func oneCharacterPaths() throws {
        let id = try #require(OutputSafety.identity(of: "w"))
        let cwd = FileManager.default.currentDirectoryPath
        let real = try #require(realpath(cwd, nil))
        defer { free(real) }
        let dir = String(cString: real)
        #expect(id.path == (dir == "/" ? "" : dir) + "/w")
        let folder = TemporaryDirectory()
        try writeAtomically(Data("x".utf8), to: folder.file("w"))
        #expect(try String(contentsOfFile: folder.file("w"), encoding: .utf8) == "x")
    }
}
