import Foundation
import Testing
import TestSupport

/// "Nothing is ever overwritten that was not an output of fervid" (issue 12): an output path
/// that holds a file fervid did not write (or not of that kind) is refused before any work —
/// exit 2, one line naming it and `--overwrite`, the file byte for byte as it was — while
/// fervid's own outputs are replaced as before, and `--overwrite` forces it.
@Suite(.serialized) struct OverwriteCLITests {
    /// A folder of its own, removed at the end of the test.
    final class Folder {
        let path = temporaryPath("-overwrite")
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
    }

    static let foreign = Data("Meeting notes, 1 December: do not lose these.\n".utf8)

    static func bytes(_ path: String) -> Data? { try? Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Every output option, the file name it gets here, and the arguments that ask for it.
    static let outputs: [(option: String, name: String)] = [
        ("-o", "t.csv"), ("sidecar", "t.csv.json"), ("--summary", "s.json"), ("--plot", "p.svg"), ("--annotate", "a.mp4"),
    ]

    static func analyzeArguments(_ video: String, _ folder: Folder) -> [String] {
        ["analyze", video, "-o", folder.file("t.csv"), "--summary", folder.file("s.json"), "--plot", folder.file("p.svg"),
         "--annotate", folder.file("a.mp4"), "--faces", "center", "--quiet"]
    }

    @Test("a foreign file at any output path: exit 2, one line naming it and --overwrite, the file untouched, nothing written",
          arguments: outputs.map(\.option))
    func foreignRefused(_ option: String) throws {
        guard let bin = fervidBinary() else { return }
        let folder = try Folder(), video = try Fixtures.video(seconds: 0.5)
        defer { remove(video) }
        let name = Self.outputs.first { $0.option == option }!.name
        let target = folder.file(name)
        try Self.foreign.write(to: URL(fileURLWithPath: target))
        let result = try run(bin, Self.analyzeArguments(video, folder))
        #expect(result.status == 2, "stderr: \(result.stderr)")
        let lines = result.stderrLines
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.contains("\(option) \(target)") == true, "stderr: \(result.stderr)")
        #expect(lines.first?.contains("is not a fervid") == true && lines.first?.contains("--overwrite") == true,
                "stderr: \(result.stderr)")
        #expect(Self.bytes(target) == Self.foreign, "the foreign file changed")
        // Refused before any work: no other output exists.
        for (_, other) in Self.outputs where other != name {
            #expect(!FileManager.default.fileExists(atPath: folder.file(other)), "\(other) was written")
        }
    }

    @Test("fervid's own outputs are replaced on a second run (make run into the same out/), and --overwrite forces a foreign one")
    func ownReplacedForeignForced() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try Folder(), video = try Fixtures.video(seconds: 0.5)
        defer { remove(video) }
        let first = try run(bin, Self.analyzeArguments(video, folder))
        try #require(first.status == 0, "stderr: \(first.stderr)")
        // The marks the second run recognises, seen by an independent reader (ffprobe, the text).
        let tags = try run("ffprobe", ["-v", "error", "-show_entries", "format_tags=comment", "-of", "default=nw=1:nk=1",
                                       folder.file("a.mp4")])
        #expect(tags.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "fervid_output: annotated video")
        #expect((try jsonObject(folder.file("s.json")))["fervid_output"] as? String == "summary")
        #expect(String(decoding: Self.bytes(folder.file("p.svg")) ?? Data(), as: UTF8.self)
            .contains("<!-- fervid_output: timeline chart -->"))
        // Run again: each output is fervid's own, each is replaced.
        let stamps = Self.outputs.map { Self.bytes(folder.file($0.name)) }
        let second = try run(bin, Self.analyzeArguments(video, folder))
        #expect(second.status == 0, "stderr: \(second.stderr)")
        // The sidecar's times change; the rest is rewritten whole (same bytes or not, it was replaced).
        #expect(Self.bytes(folder.file("t.csv.json")) != stamps[1])
        // A foreign file at every path: --overwrite replaces each.
        for (_, name) in Self.outputs { try Self.foreign.write(to: URL(fileURLWithPath: folder.file(name))) }
        let forced = try run(bin, Self.analyzeArguments(video, folder) + ["--overwrite"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        for (_, name) in Self.outputs { #expect(Self.bytes(folder.file(name)) != Self.foreign, "\(name) was not replaced") }
        #expect(try TimelineCSV(path: folder.file("t.csv")).rows.count == 5)
        // --overwrite never makes an input an output.
        let clash = try run(bin, ["analyze", video, "-o", video, "--faces", "center", "--overwrite", "--quiet"])
        #expect(clash.status == 2, "stderr: \(clash.stderr)")
    }

    @Test("an output of another kind is foreign: a timeline at --summary, a summary at -o; an empty file holds nothing to lose")
    func kindsDoNotMix() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try Folder(), video = try Fixtures.video(seconds: 0.5)
        defer { remove(video) }
        let made = try run(bin, ["analyze", video, "-o", folder.file("t.csv"), "--summary", folder.file("s.json"),
                                 "--faces", "center", "--quiet"])
        try #require(made.status == 0, "stderr: \(made.stderr)")
        let timeline = Self.bytes(folder.file("t.csv")), summary = Self.bytes(folder.file("s.json"))
        let swapped = try run(bin, ["analyze", video, "-o", folder.file("s.json"), "--summary", folder.file("t.csv"),
                                    "--faces", "center", "--quiet"])
        #expect(swapped.status == 2, "stderr: \(swapped.stderr)")
        #expect(Self.bytes(folder.file("t.csv")) == timeline && Self.bytes(folder.file("s.json")) == summary)
        // JSON Lines replaces a CSV timeline (the same kind), and the other way round.
        let jsonl = try run(bin, ["analyze", video, "-o", folder.file("t.csv"), "--format", "jsonl", "--faces", "center", "--quiet"])
        #expect(jsonl.status == 0, "stderr: \(jsonl.stderr)")
        let back = try run(bin, ["analyze", video, "-o", folder.file("t.csv"), "--faces", "center", "--quiet"])
        #expect(back.status == 0, "stderr: \(back.stderr)")
        _ = FileManager.default.createFile(atPath: folder.file("empty.svg"), contents: Data())
        let empty = try run(bin, ["analyze", video, "-o", folder.file("t.csv"), "--plot", folder.file("empty.svg"),
                                  "--faces", "center", "--quiet"])
        #expect(empty.status == 0, "stderr: \(empty.stderr)")
    }

    @Test("a corpus run (-o DIR/) refuses a foreign file at any input's output before any input runs; --resume still skips")
    func corpus() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try Folder()
        let videos = folder.file("in")
        try FileManager.default.createDirectory(atPath: videos, withIntermediateDirectories: true)
        for name in ["a", "b"] {
            let made = try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=0.3",
                                          "-pix_fmt", "yuv420p", "\(videos)/\(name).mp4"])
            try #require(made.status == 0)
        }
        let out = folder.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Self.foreign.write(to: URL(fileURLWithPath: out + "/b.emotions.csv"))
        let args = ["analyze", videos, "-o", out + "/", "--faces", "center", "--quiet"]
        let refused = try run(bin, args)
        #expect(refused.status == 2, "stderr: \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/a.emotions.csv"), "input a ran before the refusal")
        #expect(Self.bytes(out + "/b.emotions.csv") == Self.foreign)
        try FileManager.default.removeItem(atPath: out + "/b.emotions.csv")
        let ran = try run(bin, args)
        #expect(ran.status == 0, "stderr: \(ran.stderr)")
        let again = try run(bin, args + ["--resume"])
        #expect(again.status == 0, "stderr: \(again.stderr)")
        let redo = try run(bin, args)
        #expect(redo.status == 0, "stderr: \(redo.stderr)")
    }

    @Test("fervid plot -o and fervid collect -o / --rows: foreign refused (untouched), their own replaced, --overwrite forces")
    func plotAndCollect() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try Folder(), video = try Fixtures.video(seconds: 0.5)
        defer { remove(video) }
        let dir = folder.file("run")
        let made = try run(bin, ["analyze", video, "-o", dir + "/", "--faces", "center", "--quiet"])
        try #require(made.status == 0, "stderr: \(made.stderr)")
        let timeline = try #require(try FileManager.default.subpathsOfDirectory(atPath: dir).first { $0.hasSuffix(".csv") })
        let notes = folder.file("notes.txt")
        for (command, kind) in [(["plot", dir + "/" + timeline, "-o", notes], "plot"),
                                (["collect", dir, "-o", notes], "corpus table"),
                                (["collect", dir, "-o", folder.file("table.csv"), "--rows", notes], "corpus rows table"),
                                (["collect", dir, "-o", folder.file("table.jsonl"), "--rows", notes, "--format", "jsonl"],
                                 "corpus rows table")] {
            try Self.foreign.write(to: URL(fileURLWithPath: notes))
            let refused = try run(bin, command)
            #expect(refused.status == 2, "\(command): \(refused.stderr)")
            #expect(refused.stderr.contains("is not a fervid \(kind)") && refused.stderr.contains("--overwrite"),
                    "\(command): \(refused.stderr)")
            #expect(Self.bytes(notes) == Self.foreign, "\(command) changed the foreign file")
            let forced = try run(bin, command + ["--overwrite"])
            #expect(forced.status == 0, "\(command): \(forced.stderr)")
            #expect(Self.bytes(notes) != Self.foreign)
            let again = try run(bin, command)  // now fervid's own: replaced
            #expect(again.status == 0, "\(command) again: \(again.stderr)")
        }
    }
}

extension OverwriteCLITests {
    @Test("fervid models run --output: a foreign file refused before any work, its own output replaced, --overwrite forces")
    func modelsRun() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try Folder()
        // An input tensor for MTCNN's P-Net, (1, 3, 12, 12) zeros, built by hand.
        var json = Data(#"{"input":{"dtype":"F32","shape":[1,3,12,12],"data_offsets":[0,1728]}}"#.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian
        try (Data(bytes: &length, count: 8) + json + Data(count: 1728)).write(to: URL(fileURLWithPath: folder.file("in.safetensors")))
        let notes = folder.file("notes.safetensors")
        try Self.foreign.write(to: URL(fileURLWithPath: notes))
        let command = ["models", "run", "mtcnn-pnet", "--input", folder.file("in.safetensors"), "--output", notes]
        let refused = try run(bin, command)
        #expect(refused.status == 2 && refused.stderr.contains("is not a fervid tensor output"), "stderr: \(refused.stderr)")
        #expect(Self.bytes(notes) == Self.foreign)
        let forced = try run(bin, command + ["--overwrite"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        #expect(Self.bytes(notes) != Self.foreign)
        let again = try run(bin, command)
        #expect(again.status == 0, "stderr: \(again.stderr)")
        let clash = try run(bin, ["models", "run", "mtcnn-pnet", "--input", notes, "--output", notes, "--overwrite"])
        #expect(clash.status == 2, "stderr: \(clash.stderr)")
    }
}

@Suite(.serialized) struct OutputPathEdgeCLITests {
    @Test("one-character output paths (-o w, --summary s, --plot p): no trap in NSString's path code (exit 132 before)")
    func oneCharacterPaths() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try OverwriteCLITests.Folder(), video = try Fixtures.video(seconds: 0.5)
        defer { remove(video) }
        let result = try run(bin, ["analyze", video, "-o", "w", "--summary", "s", "--plot", "p", "--faces", "center", "--quiet"],
                             currentDirectory: folder.path)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try TimelineCSV(path: folder.file("w")).rows.count == 5)
        for name in ["w.json", "s", "p"] { #expect(FileManager.default.fileExists(atPath: folder.file(name)), "\(name)") }
    }

    @Test("an annotated video that received no frame is removed, not left as a file that does not play")
    func noFrameNoVideo() throws {
        guard let bin = fervidBinary() else { return }
        let folder = try OverwriteCLITests.Folder(), video = try Fixtures.video(seconds: 0.5)
        defer { remove(video) }
        // --start past the end: the run opens the annotated video, then no frame reaches it.
        let result = try run(bin, ["analyze", video, "-o", folder.file("t.csv"), "--annotate", folder.file("a.mp4"),
                                   "--start", "30", "--faces", "center", "--quiet"])
        #expect([0, 3].contains(result.status), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("a.mp4")))
        #expect(try TimelineCSV(path: folder.file("t.csv")).rows.isEmpty)
    }
}
