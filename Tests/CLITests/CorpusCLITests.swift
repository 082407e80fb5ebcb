import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A scratch folder for one test, removed at deinit; files are links to the samples.
final class Scratch {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("fervid-corpus-cli-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func at(_ relative: String) -> String { path + "/" + relative }
    /// A link `relative` → `target` (folders created).
    func link(_ relative: String, to target: String) throws {
        try FileManager.default.createDirectory(atPath: PathParts.parent(at(relative)), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: at(relative), withDestinationPath: target)
    }
    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: at(relative)) }
    func bytes(_ relative: String) -> Data? { FileManager.default.contents(atPath: at(relative)) }
    /// Every regular file below `relative`, as paths relative to it, sorted.
    func files(under relative: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: at(relative)) else { return [] }
        var out: [String] = []
        while let f = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: at(relative + "/" + f), isDirectory: &isDir), !isDir.boolValue { out.append(f) }
        }
        return out.sorted()
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum PathParts {
    static func parent(_ p: String) -> String { String(p[..<(p.lastIndex(of: "/") ?? p.endIndex)]) }
}

/// `fervid analyze` over corpora: folders, manifests, mirrored outputs, clashes, per-input
/// extras, --resume, --shard, Ctrl-C over several inputs, live inputs at once, `fervid collect`.
/// Inputs are links to the short samples; --faces center keeps each run around a second.
@Suite(.serialized) struct CorpusCLITests {
    /// Runs `fervid args…` in `dir`.
    func fervid(_ args: [String], in dir: String) throws -> CommandResult {
        let bin = try #require(fervidBinary())
        return try run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", dir, bin] + args)
    }

    /// in/a/one.mp4 (single_face), in/b/two.MOV (no_face), in/b/c/three.mp4 (single_face), in/notes.txt.
    func corpus(_ s: Scratch) throws {
        let single = try #require(samplePath("single_face.mp4")), none = try #require(samplePath("no_face.mp4"))
        try s.link("in/a/one.mp4", to: single)
        try s.link("in/b/two.MOV", to: none)
        try s.link("in/b/c/three.mp4", to: single)
        try "not a video".write(toFile: s.at("in/notes.txt"), atomically: false, encoding: .utf8)
    }

    static let fast = ["--faces", "center", "--fps", "8", "--threads", "1"]
    static let stems = ["a/one", "b/c/three", "b/two"]

    func status(_ sidecar: [String: Any]) -> String? {
        sidecar["status"] as? String ?? ((sidecar["complete"] as? Bool) == true ? "complete" : nil)
    }

    @Test("a folder: videos found recursively, the tree mirrored under -o DIR/, a sidecar each with stamp, model and settings")
    func folder() throws {
        let s = Scratch()
        try corpus(s)
        let r = try fervid(["analyze", "in/", "-o", "out/"] + Self.fast, in: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.files(under: "out") == Self.stems.flatMap { [$0 + ".emotions.csv", $0 + ".emotions.csv.json"] })
        #expect(r.stderr.contains("input 1 of 3: in/a/one.mp4") && r.stderr.contains("input 3 of 3: in/b/two.MOV"))
        #expect(r.stderr.contains("3 inputs: 3 complete"))

        // Each timeline is what a run on that input alone writes.
        let alone = try fervid(["analyze", "in/b/two.MOV", "-o", "alone.csv"] + Self.fast, in: s.path)
        #expect(alone.status == 0)
        #expect(s.bytes("out/b/two.emotions.csv") == s.bytes("alone.csv"))

        let sidecar = try jsonObject(s.at("out/b/two.emotions.csv.json"))
        let source = try #require(sidecar["source"] as? [String: Any])
        let target = URL(fileURLWithPath: try #require(samplePath("no_face.mp4"))).resolvingSymlinksInPath().path
        let attributes = try FileManager.default.attributesOfItem(atPath: target)
        #expect((source["size"] as? NSNumber)?.int64Value == (attributes[.size] as? NSNumber)?.int64Value)
        let modified = try #require(source["modified"] as? String)
        let mtime = try #require(attributes[.modificationDate] as? Date)
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime]
        #expect(modified.hasPrefix(String(iso.string(from: mtime).dropLast())), "\(modified) vs \(mtime)")
        let model = try #require(sidecar["model"] as? [String: Any])
        let sha = try runTool("sha256sum", [modelsDirectory.appendingPathComponent("mini-xception.safetensors").path])
        #expect(model["sha256"] as? String == sha.stdout.split(separator: " ").first.map(String.init))
        let metadata = try #require(model["metadata"] as? [String: String])
        #expect(!metadata.isEmpty && metadata.keys.allSatisfy { $0.hasPrefix("fervid.") })
        #expect(metadata["fervid.keras_model_config"] == nil)
        let size = try #require((try FileManager.default.attributesOfItem(atPath: s.at("out/b/two.emotions.csv.json"))[.size] as? NSNumber)?.intValue)
        #expect(size < 8000, "sidecar of \(size) bytes")
        let settings = try #require(sidecar["settings"] as? [String: String])
        #expect(settings["faces"] == "center" && settings["fps"] == "8.0" && settings["smooth"] == "ema:0.5")
    }

    @Test("--manifest FILE and - (standard input): relative lines, comments, the tree below the common folder; --include")
    func manifest() throws {
        let s = Scratch()
        try corpus(s)
        try "# corpus\nin/b/two.MOV\n\nin/a/one.mp4\n".write(toFile: s.at("list.txt"), atomically: false, encoding: .utf8)
        let r = try fervid(["analyze", "--manifest", "list.txt", "-o", "out/", "--quiet"] + Self.fast, in: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.files(under: "out") == ["a/one.emotions.csv", "a/one.emotions.csv.json", "b/two.emotions.csv", "b/two.emotions.csv.json"])
        let bin = try #require(fervidBinary())
        let piped = try run("/bin/sh", ["-c", "cd \"$0\" && printf 'in/b/c/three.mp4\\n' | \"$1\" analyze --manifest - -o piped/ --quiet --faces center --fps 8",
                                        s.path, bin])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(s.files(under: "piped") == ["three.emotions.csv", "three.emotions.csv.json"])
        let included = try fervid(["analyze", "in/", "--include", "*.mov", "-o", "inc/", "--quiet"] + Self.fast, in: s.path)
        #expect(included.status == 0)
        #expect(s.files(under: "inc") == ["b/two.emotions.csv", "b/two.emotions.csv.json"])
        let none = try fervid(["analyze", "in/", "--include", "*.avi", "-o", "none/"] + Self.fast, in: s.path)
        #expect(none.status == 2 && none.stderr.contains("no inputs"))
    }

    @Test("clashes are refused before any work, exit 2: same stem twice, one file for several inputs, an output onto an input")
    func clashes() throws {
        let s = Scratch()
        try corpus(s)
        try s.link("in/a/one.mkv", to: try #require(samplePath("no_face.mp4")))
        var r = try fervid(["analyze", "in/", "-o", "out/"] + Self.fast, in: s.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("in/a/one.mkv") && r.stderr.contains("in/a/one.mp4"), "\(r.stderr)")
        #expect(!s.exists("out/a"), "nothing written")
        try FileManager.default.removeItem(atPath: s.at("in/a/one.mkv"))
        try s.link("in/b/one.mp4", to: try #require(samplePath("single_face.mp4")))  // {stem} alone clashes with a/one
        for bad in [["-o", "one.csv"], ["-o", "-"], ["-o", "out/", "--plot", "one.svg"], ["-o", "out/", "--plot", "p/{stem}.svg"],
                    ["-o", "out/", "--annotate", "in/{relpath}.mp4"]] {
            r = try fervid(["analyze", "in/"] + bad + Self.fast, in: s.path)
            #expect(r.status == 2, "\(bad): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
        #expect(s.files(under: "out").isEmpty && !s.exists("one.csv"))
        // The same two names in different folders are mirrored, not a clash.
        try s.link("other/a/one.mp4", to: try #require(samplePath("single_face.mp4")))
        r = try fervid(["analyze", "in/a/one.mp4", "other/a/one.mp4", "-o", "two/", "--quiet"] + Self.fast, in: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.files(under: "two") == ["in/a/one.emotions.csv", "in/a/one.emotions.csv.json", "other/a/one.emotions.csv", "other/a/one.emotions.csv.json"])
    }

    @Test("--summary DIR/ and --plot PATTERN give every input its own, matching its timeline")
    func perInputExtras() throws {
        let s = Scratch()
        try corpus(s)
        let r = try fervid(["analyze", "in/", "-o", "out/", "--summary", "sum/", "--plot", "plots/{relpath}-chart.svg", "--quiet"] + Self.fast,
                           in: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.files(under: "sum") == Self.stems.map { $0 + ".summary.json" })
        #expect(s.files(under: "plots") == Self.stems.map { $0 + "-chart.svg" })
        for stem in Self.stems {
            let csv = try TimelineCSV(path: s.at("out/\(stem).emotions.csv"))
            let summary = try jsonObject(s.at("sum/\(stem).summary.json"))
            let frames = Set(csv.rows.map { $0["frame"]! }).count
            #expect(summary["frames"] as? Int == frames, "\(stem)")
            let svg = try String(contentsOfFile: s.at("plots/\(stem)-chart.svg"), encoding: .utf8)
            #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
            #expect(svg.contains(stem.split(separator: "/").last!), "the chart names its input")
        }
    }

    @Test("--resume skips what is complete for the same input, model and settings; redoes a changed input or other settings")
    func resume() throws {
        let s = Scratch()
        try corpus(s)
        var r = try fervid(["analyze", "in/", "-o", "out/", "--quiet"] + Self.fast, in: s.path)
        #expect(r.status == 0)
        let before = Dictionary(uniqueKeysWithValues: Self.stems.map { ($0, s.bytes("out/\($0).emotions.csv.json")) })
        r = try fervid(["analyze", "in/", "-o", "out/", "--resume"] + Self.fast, in: s.path)
        #expect(r.status == 0)
        #expect(r.stderr.contains("3 skipped") && !r.stdout.contains("→"), "no analysis: \(r.stderr)")
        for stem in Self.stems { #expect(s.bytes("out/\(stem).emotions.csv.json") == before[stem]!, "\(stem) untouched") }

        // A new input file (another link target: other size and time) is redone; the rest skipped.
        try FileManager.default.removeItem(atPath: s.at("in/b/c/three.mp4"))
        try s.link("in/b/c/three.mp4", to: try #require(samplePath("no_face.mp4")))
        r = try fervid(["analyze", "in/", "-o", "out/", "--resume"] + Self.fast, in: s.path)
        #expect(r.status == 0)
        #expect(r.stderr.contains("1 complete, 2 skipped"), "\(r.stderr)")
        #expect(s.bytes("out/b/c/three.emotions.csv.json") != before["b/c/three"]!)

        // Other settings: everything is redone, and the partial-looking old timeline is replaced, not appended to.
        r = try fervid(["analyze", "in/", "-o", "out/", "--resume", "--faces", "center", "--fps", "4", "--threads", "1"], in: s.path)
        #expect(r.status == 0)
        #expect(r.stderr.contains("3 inputs: 3 complete"), "\(r.stderr)")
        let csv = try TimelineCSV(path: s.at("out/a/one.emotions.csv"))
        #expect(csv.rows.map { Int($0["frame"]!)! } == csv.rows.map { Int($0["frame"]!)! }.sorted())
        #expect(Set(csv.rows.map { $0["frame"]! }).count == csv.rows.count)
    }

    @Test("--shard I/N: the shards together write exactly what one process writes")
    func shards() throws {
        let s = Scratch()
        try corpus(s)
        var r = try fervid(["analyze", "in/", "-o", "one/", "--quiet"] + Self.fast, in: s.path)
        #expect(r.status == 0)
        for i in 0 ..< 2 {
            r = try fervid(["analyze", "in/", "-o", "sharded/", "--shard", "\(i)/2", "--quiet"] + Self.fast, in: s.path)
            #expect(r.status == 0, "\(r.stderr)")
            let mine = s.files(under: "sharded").filter { $0.hasSuffix(".csv") }
            #expect(mine.count == (i == 0 ? 2 : 3), "shard \(i) adds its inputs: \(mine)")
        }
        #expect(s.files(under: "sharded") == s.files(under: "one"))
        for stem in Self.stems {
            #expect(s.bytes("sharded/\(stem).emotions.csv") == s.bytes("one/\(stem).emotions.csv"), "\(stem)")
        }
        // Two files at a time (two pipelines, one shared model): the same timelines.
        r = try fervid(["analyze", "in/", "-o", "jobs/", "--jobs", "2", "--quiet"] + Self.fast, in: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        for stem in Self.stems {
            #expect(s.bytes("jobs/\(stem).emotions.csv") == s.bytes("one/\(stem).emotions.csv"), "--jobs 2: \(stem)")
        }
        #expect(try fervid(["analyze", "in/", "--shard", "2/2"], in: s.path).status == 2)
    }

    @Test("a shard killed mid-input, re-run with --resume, finishes only what is missing")
    func killedShardResumed() throws {
        let s = Scratch()
        let single = try #require(samplePath("single_face.mp4")), long = try #require(samplePath("WolfgangLanger_Pexels.mp4"))
        try s.link("in/1-short.mp4", to: single)
        try s.link("in/2-long.mp4", to: long)
        try s.link("in/3-short.mp4", to: single)
        let options = ["--faces", "center", "--threads", "1", "--quiet"]
        let reference = try fervid(["analyze", "in/", "-o", "ref/"] + options, in: s.path)
        #expect(reference.status == 0)

        let bin = try #require(fervidBinary())
        let child = try Child("/bin/sh", ["-c", "cd \"$0\" && exec \"$1\" analyze in/ -o out/ --shard 0/1 --resume --faces center --threads 1 --quiet",
                                          s.path, bin])
        defer { child.stop() }
        let first = s.at("out/1-short.emotions.csv.json")
        #expect(eventually(60) { (try? jsonObject(first)).map { status($0) == "complete" } ?? false })
        #expect(eventually(30) { s.exists("out/2-long.emotions.csv.json") })  // written just after the timeline is opened
        kill(child.pid, SIGKILL)
        _ = child.wait(seconds: 10)
        let long1 = try jsonObject(s.at("out/2-long.emotions.csv.json"))
        #expect(status(long1) != "complete", "killed mid-input")
        #expect(!s.exists("out/3-short.emotions.csv"))
        let firstBytes = s.bytes("out/1-short.emotions.csv.json")

        let r = try fervid(["analyze", "in/", "-o", "out/", "--shard", "0/1", "--resume"] + options.dropLast(), in: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 skipped") && r.stderr.contains("2 complete"), "\(r.stderr)")
        #expect(s.bytes("out/1-short.emotions.csv.json") == firstBytes, "the finished input is not redone")
        for name in ["1-short", "2-long", "3-short"] {
            #expect(s.bytes("out/\(name).emotions.csv") == s.bytes("ref/\(name).emotions.csv"), "\(name) equals one uninterrupted run")
        }
    }

    @Test("Ctrl-C ends the whole run: the input in flight partial, the rest not started (recorded), exit 3")
    func interruptWholeRun() throws {
        let s = Scratch()
        let long = try #require(samplePath("WolfgangLanger_Pexels.mp4")), single = try #require(samplePath("single_face.mp4"))
        try s.link("in/1-long.mp4", to: long)
        try s.link("in/2-next.mp4", to: single)
        try s.link("in/3-last.mp4", to: single)
        let bin = try #require(fervidBinary())
        let child = try Child("/bin/sh", ["-c", "cd \"$0\" && exec \"$1\" analyze in/ -o out/ --faces center --threads 1", s.path, bin])
        defer { child.stop() }
        #expect(eventually(30) { ((try? TimelineCSV(path: s.at("out/1-long.emotions.csv")))?.rows.count ?? 0) >= 20 })
        kill(child.pid, SIGINT)
        let code = child.wait(seconds: 30)
        #expect(code == 3, "exit \(String(describing: code)): \(child.stderr)")
        let err = child.stderr
        #expect(err.contains("3 inputs: 0 complete, 1 partial, 0 failed, 2 not started"), "\(err)")
        #expect(err.contains("not started: in/2-next.mp4") && err.contains("not started: in/3-last.mp4"))
        #expect(!s.exists("out/2-next.emotions.csv"), "never moved on to the next input")
        let next = try jsonObject(s.at("out/2-next.emotions.csv.json"))
        #expect(next["status"] as? String == "not_started")
        let csv = try TimelineCSV(path: s.at("out/1-long.emotions.csv"))
        #expect(csv.badLines.isEmpty && csv.rows.count >= 20)
        #expect(csv.rows.count < 472, "stopped early")
    }

    @Test("two live streams run at the same time, named by host and port; Ctrl-C stops both")
    func liveAtOnce() throws {
        let s = Scratch()
        let sample = try #require(samplePath("single_face.mp4"))
        let ports = [freePort(), freePort()]
        let urls = ports.map { "http://127.0.0.1:\($0)/live.ts" }
        let servers = try urls.map { url in
            try Child("ffmpeg", ["-v", "error", "-re", "-stream_loop", "-1", "-i", sample, "-an", "-c:v", "copy", "-f", "mpegts", "-listen", "1", url])
        }
        defer { servers.forEach { $0.stop() } }
        usleep(700_000)
        let bin = try #require(fervidBinary())
        let child = try Child("/bin/sh", ["-c", "cd \"$0\" && exec \"$1\" analyze \"$2\" \"$3\" -o out/ --faces center --threads 1 --timeout 5",
                                          s.path, bin] + urls)
        defer { child.stop() }
        let names = ports.map { "out/127.0.0.1_\($0)_live.emotions.csv" }
        #expect(eventually(30) { names.allSatisfy { ((try? TimelineCSV(path: s.at($0)))?.rows.count ?? 0) >= 10 } },
                "both streams have rows while both run: \(s.files(under: "out"))")
        kill(child.pid, SIGINT)
        let code = child.wait(seconds: 30)
        #expect(code != nil, "the whole run ended")
        for name in names {
            let csv = try TimelineCSV(path: s.at(name))
            #expect(csv.badLines.isEmpty && csv.header.last == "wallclock")
            #expect(s.exists(name + ".json"))
        }
        #expect(child.stderr.contains("2 inputs"), "\(child.stderr)")
    }

    @Test("fervid collect: a row for every input, failed ones included; --rows has every timeline row")
    func collect() throws {
        let s = Scratch()
        try corpus(s)
        try "in/a/one.mp4\nin/b/two.MOV\nin/missing.mp4\n".write(toFile: s.at("list.txt"), atomically: false, encoding: .utf8)
        let r = try fervid(["analyze", "--manifest", "list.txt", "-o", "out/", "--quiet"] + Self.fast, in: s.path)
        #expect(r.status == 1, "one input failed: \(r.stderr)")
        #expect(s.exists("out/missing.emotions.csv.json") && !s.exists("out/missing.emotions.csv"))
        let c = try fervid(["collect", "out", "-o", "corpus.csv", "--rows", "rows.csv"], in: s.path)
        #expect(c.status == 0, "\(c.stderr)")
        let table = try TimelineCSV(path: s.at("corpus.csv"))
        #expect(table.badLines.isEmpty)
        #expect(table.rows.map { $0["input"]! } == ["in/a/one.mp4", "in/b/two.MOV", "in/missing.mp4"])
        #expect(table.rows.map { $0["status"]! } == ["complete", "complete", "failed"])
        #expect(table.rows[2]["detail"]!.contains("in/missing.mp4"))
        let one = try TimelineCSV(path: s.at("out/a/one.emotions.csv"))
        let two = try TimelineCSV(path: s.at("out/b/two.emotions.csv"))
        #expect(table.rows[0]["face_rows"] == String(one.rows.filter { $0["success"] == "1" }.count))
        let meanHappy = one.rows.compactMap { Double($0["happy"]!) }.reduce(0, +) / Double(one.rows.count)
        #expect(abs(Double(table.rows[0]["mean_happy"]!)! - meanHappy) < 1e-5)
        let rows = try TimelineCSV(path: s.at("rows.csv"))
        #expect(rows.header.first == "input" && rows.rows.count == one.rows.count + two.rows.count)
    }
}
