import Foundation
import Testing
import TestSupport

/// Inputs besides files and URLs (docs/cli.md): standard input (`-`, `pipe:0`), image sequences
/// (`%03d.png`) and single images. Oracles: ffprobe (and ffmpeg, which makes the inputs), and the
/// same bytes analyzed as a file.
@Suite("fervid analyze: pipes, image sequences, single images")
struct InputFormsCLITests {
    /// A fresh folder, removed by the caller.
    static func folder() throws -> String {
        let dir = temporaryPath("-inputs")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func ffmpeg(_ args: [String]) throws {
        let r = try run("ffmpeg", ["-v", "error", "-y"] + args)
        try #require(r.status == 0, "ffmpeg \(args.joined(separator: " ")): \(r.stderr)")
    }

    /// The rows of a timeline without the `wallclock`-free sidecar noise: every field as text.
    static func rows(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test("`-` and `pipe:0` read standard input: the same timeline as the same bytes read as a file")
    func standardInput() throws {
        let binary = try #require(fervidBinary())
        let sample = try #require(samplePath("single_face.mp4"))
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ts = dir + "/clip.ts"
        try Self.ffmpeg(["-i", sample, "-c", "copy", "-f", "mpegts", ts])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ts))

        let file = try run(binary, ["analyze", ts, "-o", dir + "/file.csv", "--quiet"])
        try #require(file.status == 0, "\(file.stderr)")
        let expected = try Self.rows(dir + "/file.csv")
        #expect(expected.count - 1 == (try ffprobeTimestamps(ts)).count)

        for input in ["-", "pipe:0"] {
            let r = try run(binary, ["analyze", input, "-o", dir + "/pipe.csv", "--quiet"], stdin: bytes)
            #expect(r.status == 0, "\(input): \(r.stderr)")
            #expect(try Self.rows(dir + "/pipe.csv") == expected, "\(input)")
        }
        // --annotate does not open the pipe a second time for its audio (that would take bytes
        // from the video): every frame is still analyzed, and the annotated video has no audio.
        let annotated = try run(binary, ["analyze", "-", "-o", dir + "/ann.csv", "--annotate", dir + "/ann.mp4", "--quiet"],
                                stdin: bytes)
        #expect(annotated.status == 0, "\(annotated.stderr)")
        #expect(try Self.rows(dir + "/ann.csv") == expected)
        #expect(try ffprobeTimestamps(dir + "/ann.mp4").count == expected.count - 1)
        let streams = try run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", dir + "/ann.mp4"])
        #expect(streams.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["video"])

        // Without -o: stdin.emotions.csv in the current directory.
        let named = try run(binary, ["analyze", "-", "--quiet"], currentDirectory: dir, stdin: bytes)
        #expect(named.status == 0, "\(named.stderr)")
        #expect(try Self.rows(dir + "/stdin.emotions.csv") == expected)
    }

    @Test("an MP4 with its index at the end cannot come through a pipe: one line saying how to fix it")
    func mp4ThroughPipe() throws {
        let binary = try #require(fervidBinary())
        let sample = try #require(samplePath("single_face.mp4"))
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The sample keeps its moov after mdat (the usual layout); faststart moves it to the front.
        let faststart = dir + "/faststart.mp4"
        try Self.ffmpeg(["-i", sample, "-c", "copy", "-movflags", "+faststart", faststart])

        let bad = try run(binary, ["analyze", "-", "-o", dir + "/bad.csv", "--quiet"],
                          stdin: try Data(contentsOf: URL(fileURLWithPath: sample)))
        #expect(bad.status == 1)
        #expect(bad.stderrLines.count == 1, "\(bad.stderr)")
        #expect(bad.stderr.hasPrefix("fervid: -: no frame could be decoded: "), "\(bad.stderr)")
        #expect(bad.stderr.contains("+faststart"), "\(bad.stderr)")

        let good = try run(binary, ["analyze", "-", "-o", dir + "/good.csv", "--quiet"],
                           stdin: try Data(contentsOf: URL(fileURLWithPath: faststart)))
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try Self.rows(dir + "/good.csv").count - 1 == (try ffprobeTimestamps(sample)).count)
    }

    @Test("an image sequence (%03d.png) is a video: one row per image, timestamps as ffprobe reads them")
    func imageSequence() throws {
        let binary = try #require(fervidBinary())
        let sample = try #require(samplePath("single_face.mp4"))
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.ffmpeg(["-i", sample, "-frames:v", "12", dir + "/%03d.png"])
        let pattern = dir + "/%03d.png"

        let r = try run(binary, ["analyze", pattern, "-o", dir + "/seq.csv", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let csv = try TimelineCSV(path: dir + "/seq.csv")
        let oracle = try ffprobeTimestamps(pattern)
        #expect(oracle.count == 12)
        #expect(csv.rows.count == oracle.count)
        for (row, t) in zip(csv.rows, oracle) {
            #expect(row["success"] == "1")
            #expect(abs((Double(row["timestamp"] ?? "") ?? -1) - t) < 1e-6, "\(row["timestamp"] ?? "") vs \(t)")
        }
        #expect(csv.rows.map { $0["frame"] } == (0 ..< 12).map { String($0) })
        // Without -o the name comes from the pattern's stem.
        let named = try run(binary, ["analyze", pattern, "--quiet"], currentDirectory: dir)
        #expect(named.status == 0, "\(named.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/%03d.emotions.csv"))
    }

    @Test("a single image is a one-frame video: one row at time 0; a face-less image gives success=0")
    func singleImage() throws {
        let binary = try #require(fervidBinary())
        let face = try #require(samplePath("single_face.mp4"))
        let empty = try #require(samplePath("no_face.mp4"))
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.ffmpeg(["-i", face, "-frames:v", "1", dir + "/face.png"])
        try Self.ffmpeg(["-i", face, "-frames:v", "1", "-q:v", "2", dir + "/face.jpg"])
        try Self.ffmpeg(["-i", empty, "-frames:v", "1", dir + "/empty.png"])

        for image in ["face.png", "face.jpg"] {
            let r = try run(binary, ["analyze", dir + "/" + image, "-o", dir + "/\(image).csv", "--quiet"])
            #expect(r.status == 0, "\(image): \(r.stderr)")
            let csv = try TimelineCSV(path: dir + "/\(image).csv")
            #expect(csv.rows.count == 1, "\(image)")
            #expect(csv.rows.first?["frame"] == "0" && csv.rows.first?["timestamp"] == "0.000000")
            #expect(csv.rows.first?["success"] == "1", "\(image)")
            #expect(TimelineCSV.classes.contains(csv.rows.first?["label"] ?? ""))
        }
        let r = try run(binary, ["analyze", dir + "/empty.png", "-o", dir + "/empty.csv", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let csv = try TimelineCSV(path: dir + "/empty.csv")
        #expect(csv.rows.count == 1)
        #expect(csv.rows.first?["success"] == "0")
    }
}
