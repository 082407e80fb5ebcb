import Foundation
import Testing
import TestSupport
@testable import Corpus

/// A temporary folder tree removed at deinit.
final class Tree {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("fervid-corpus-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    /// Creates `relative` (and its folders) holding `contents`; returns its full path.
    @discardableResult
    func file(_ relative: String, _ contents: String = "x") -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! contents.write(toFile: full, atomically: false, encoding: .utf8)
        return full
    }
    func dir(_ relative: String) -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("Corpus inputs")
struct CorpusInputsTests {
    @Test("a directory: recursive, video extensions in any case, hidden and other files skipped, tree mirrored")
    func directory() throws {
        let t = Tree()
        for f in ["a/x.mp4", "a/b/y.MOV", "a/b/c/z.Mkv", "top.webm", "a/notes.txt", "a/.hidden.mp4", ".git/k.mp4",
                  "a/b/clip.mp4.part", "a/frame.png"] { t.file("in/" + f) }
        let inputs = try CorpusInputs.expand(arguments: [t.path + "/in/"], currentDirectory: t.path)
        #expect(inputs.map(\.relativeStem) == ["a/b/c/z", "a/b/y", "a/x", "top"])
        #expect(inputs.map(\.location) == ["a/b/c/z.Mkv", "a/b/y.MOV", "a/x.mp4", "top.webm"].map { t.path + "/in/" + $0 })
        #expect(inputs.allSatisfy { !$0.isURL })
    }

    @Test("--include globs replace the extension list and match the name or the path below the folder")
    func include() throws {
        let t = Tree()
        for f in ["s1/a.mp4", "s1/b.MP4", "s2/a.mp4", "s2/raw.dat", "x.avi"] { t.file("in/" + f) }
        let byName = try CorpusInputs.expand(arguments: ["in"], include: ["*.mp4"], currentDirectory: t.path)
        #expect(byName.map(\.relativeStem) == ["s1/a", "s1/b", "s2/a"])
        let byPath = try CorpusInputs.expand(arguments: ["in"], include: ["s2/*"], currentDirectory: t.path)
        #expect(byPath.map(\.relativeStem) == ["s2/a", "s2/raw"])
        let two = try CorpusInputs.expand(arguments: ["in"], include: ["*.avi", "*.dat"], currentDirectory: t.path)
        #expect(two.map(\.relativeStem) == ["s2/raw", "x"])
    }

    @Test("a symbolic link loop is searched once; a link to a file is followed")
    func links() throws {
        let t = Tree()
        t.file("in/a/x.mp4")
        try FileManager.default.createSymbolicLink(atPath: t.path + "/in/a/loop", withDestinationPath: t.path + "/in")
        try FileManager.default.createSymbolicLink(atPath: t.path + "/in/linked.mp4", withDestinationPath: t.path + "/in/a/x.mp4")
        let inputs = try CorpusInputs.expand(arguments: ["in"], currentDirectory: t.path)
        #expect(inputs.map(\.relativeStem) == ["a/x", "linked"])
    }

    @Test("files as arguments mirror below their deepest common folder")
    func files() throws {
        let t = Tree()
        t.file("a/x.mp4"); t.file("b/x.mp4"); t.file("b/c/y.mp4")
        let two = try CorpusInputs.expand(arguments: ["b/x.mp4", "a/x.mp4"], currentDirectory: t.path)
        #expect(two.map(\.relativeStem) == ["a/x", "b/x"])
        let one = try CorpusInputs.expand(arguments: ["b/c/y.mp4"], currentDirectory: t.path)
        #expect(one.map(\.relativeStem) == ["y"])
        let nested = try CorpusInputs.expand(arguments: ["b/c/y.mp4", "./b/x.mp4"], currentDirectory: t.path)
        #expect(nested.map(\.relativeStem) == ["x", "c/y"])  // sorted by location: "./b/x.mp4" < "b/c/y.mp4"
        // One-character names (NSString's path methods trap on them in this Foundation).
        t.file("w")
        #expect(try CorpusInputs.expand(arguments: ["w"], currentDirectory: t.path).map(\.relativeStem) == ["w"])
    }

    @Test("a manifest: comments, blank lines, CRLF, relative to the current folder, directories expanded, duplicates once")
    func manifest() throws {
        let t = Tree()
        t.file("v/p1/a.mp4"); t.file("v/p2/b.mp4"); t.file("w/c.mkv")
        let text = "# interviews\r\nv/p1/a.mp4\r\n\n  v/p2/b.mp4  \n\(t.path)/v/p1/a.mp4\nw/\nhttp://127.0.0.1:9000/live.ts\n"
        let inputs = try CorpusInputs.expand(arguments: [], manifest: text, currentDirectory: t.path)
        #expect(inputs.map(\.location) == [t.path + "/v/p1/a.mp4", "http://127.0.0.1:9000/live.ts", "v/p2/b.mp4", "w/c.mkv"])
        // The files listed mirror below v/ (their common folder); the folder w/ mirrors below itself.
        #expect(inputs.map(\.relativeStem) == ["p1/a", "127.0.0.1_9000_live", "p2/b", "c"])
        #expect(inputs[1].isURL)
    }

    @Test("a missing file stays an input (the run records why it failed); a missing manifest is an error")
    func missing() throws {
        let t = Tree()
        let inputs = try CorpusInputs.expand(arguments: ["nope/gone.mp4"], currentDirectory: t.path)
        #expect(inputs.map(\.relativeStem) == ["gone"])
        #expect(throws: CorpusInputError.self) { try CorpusInputs.readManifest(t.path + "/no-such-manifest.txt") }
        #expect(throws: CorpusInputError.self) { try CorpusInputs.readManifest(t.path) }
    }

    @Test("shards: disjoint, together the whole list, position mod N")
    func shards() throws {
        let list = (0 ..< 11).map { CorpusInput(location: "f\($0)", relativeStem: "f\($0)", isURL: false) }
        var union: [CorpusInput] = []
        for i in 0 ..< 4 {
            let shard = CorpusInputs.shard(list, index: i, count: 4)
            #expect(shard.map(\.location) == stride(from: i, to: 11, by: 4).map { "f\($0)" })
            union += shard
        }
        #expect(Set(union) == Set(list))
        #expect(union.count == list.count)
        #expect(CorpusInputs.parseShard("2/5")! == (2, 5))
        for bad in ["5/5", "-1/3", "1/0", "a/b", "1", "1/2/3", ""] { #expect(CorpusInputs.parseShard(bad) == nil) }
    }

    @Test("URL names: host, port, path and query, sanitised; two loopback streams differ")
    func urlNames() {
        #expect(CorpusInputs.urlStem("http://127.0.0.1:8080/live.ts") == "127.0.0.1_8080_live")
        #expect(CorpusInputs.urlStem("http://127.0.0.1:8081/live.ts") == "127.0.0.1_8081_live")
        #expect(CorpusInputs.urlStem("rtsp://cam.local/stream1?ch=2&q=hi") == "cam.local_stream1_ch_2_q_hi")
        #expect(CorpusInputs.urlStem("https://bucket.s3.example.com/corpus/day%201/x.mp4") == "bucket.s3.example.com_corpus_day_1_x")
        #expect(CorpusInputs.urlStem("udp://@:1234") == "1234")
        #expect(CorpusInputs.urlStem("srt://[::1]:9000") == "1_9000")
        #expect(!CorpusInputs.urlStem("http://h/../../etc/passwd").contains("/"))
    }
}

@Suite("Output layout")
struct OutputLayoutTests {
    let a = CorpusInput(location: "in/a/x.mp4", relativeStem: "a/x", isURL: false)
    let b = CorpusInput(location: "in/b/x.mp4", relativeStem: "b/x", isURL: false)

    @Test("a folder mirrors the tree; patterns put {stem} and {relpath}")
    func templates() {
        #expect(OutputTemplate("out/").path(for: a, suffix: ".emotions.csv") == "out/a/x.emotions.csv")
        #expect(OutputTemplate("out///").path(for: a, suffix: ".svg") == "out/a/x.svg")
        #expect(OutputTemplate("plots/{relpath}.svg").path(for: a, suffix: ".svg") == "plots/a/x.svg")
        #expect(OutputTemplate("s/{stem}-summary.json").path(for: a, suffix: "") == "s/x-summary.json")
        #expect(OutputTemplate("one.csv") == .file("one.csv"))
        #expect(OutputTemplate("-") == .standardOutput)
        #expect(OutputTemplate("./").path(for: a, suffix: ".emotions.csv") == "a/x.emotions.csv")
        #expect(OutputTemplate("out/").isPerInput && !OutputTemplate("x.svg").isPerInput)
    }

    @Test("clashes: same stem twice, a pattern without {relpath}, an output onto an input; mirrored trees are fine")
    func clashes() throws {
        let t = Tree()
        let plans = OutputLayout.plan([a, b], output: .directory("out/"), timelineSuffix: ".emotions.csv",
                                      summary: .directory("s/"), plot: .pattern("p/{relpath}.svg"), annotate: nil)
        try OutputLayout.checkClashes([a, b], plans, cwd: t.path)
        #expect(plans[1].timeline == "out/b/x.emotions.csv" && plans[1].sidecar == "out/b/x.emotions.csv.json")
        #expect(plans[0].summary == "s/a/x.summary.json" && plans[0].plot == "p/a/x.svg")

        let stemOnly = OutputLayout.plan([a, b], output: .directory("out/"), timelineSuffix: ".emotions.csv",
                                         summary: nil, plot: .pattern("p/{stem}.svg"), annotate: nil)
        #expect(throws: OutputClash.self) { try OutputLayout.checkClashes([a, b], stemOnly, cwd: t.path) }

        let mov = CorpusInput(location: "in/a/x.mov", relativeStem: "a/x", isURL: false)
        let sameStem = OutputLayout.plan([a, mov], output: .directory("out/"), timelineSuffix: ".emotions.csv",
                                         summary: nil, plot: nil, annotate: nil)
        #expect(throws: OutputClash.self) { try OutputLayout.checkClashes([a, mov], sameStem, cwd: t.path) }

        // The annotated video of x.mp4 written over the input itself, through a pattern.
        let video = t.file("in/a/x.mp4")
        let onto = OutputLayout.plan([a], output: .directory("out/"), timelineSuffix: ".emotions.csv",
                                     summary: nil, plot: nil, annotate: .pattern("in/{relpath}.mp4"))
        #expect(onto[0].annotate == "in/a/x.mp4")
        #expect(throws: OutputClash.self) { try OutputLayout.checkClashes([a], onto, cwd: t.path) }
        _ = video
    }

    @Test("a link to the output folder is seen through")
    func linkedFolder() throws {
        let t = Tree()
        _ = t.dir("real")
        try FileManager.default.createSymbolicLink(atPath: t.path + "/alias", withDestinationPath: t.path + "/real")
        let plans = [PlannedOutputs(timeline: "real/x.emotions.csv", sidecar: nil),
                     PlannedOutputs(timeline: "alias/x.emotions.csv", sidecar: nil)]
        let inputs = [a, b]
        #expect(throws: OutputClash.self) { try OutputLayout.checkClashes(inputs, plans, cwd: t.path) }
    }
}

@Suite("SHA-256")
struct SHA256Tests {
    @Test("FIPS 180-4 examples and sha256sum on files of awkward lengths")
    func digests() throws {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let t = Tree()
        for n in [55, 56, 63, 64, 65, 1000, (1 << 20) + 17] {
            var bytes = [UInt8](repeating: 0, count: n)
            var x: UInt32 = 2_463_534_242
            for i in 0 ..< n { x ^= x << 13; x ^= x >> 17; x ^= x << 5; bytes[i] = UInt8(truncatingIfNeeded: x) }
            let path = t.path + "/f\(n)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let oracle = try runTool("sha256sum", [path]).stdout.split(separator: " ").first.map(String.init)
            #expect(SHA256.hex(file: path) == oracle, "length \(n)")
        }
        #expect(SHA256.hex(file: t.path + "/missing") == nil)
    }
}
