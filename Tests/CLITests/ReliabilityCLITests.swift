import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Generated inputs for the reliability suite: small, made by the ffmpeg CLI at test time.
enum Fixtures {
    /// A short test-pattern video (`testsrc`), `seconds` long at `rate` fps.
    static func video(_ suffix: String = ".mp4", seconds: Double = 1, rate: Int = 10, size: String = "160x120",
                      extra: [String] = []) throws -> String {
        let path = temporaryPath(suffix)
        let made = try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i",
                                      "testsrc=size=\(size):rate=\(rate):duration=\(seconds)"]
                                      + extra + ["-pix_fmt", "yuv420p", path])
        try #require(made.status == 0, "ffmpeg: \(made.stderr)")
        return path
    }

    /// The first `fraction` of `source`'s bytes.
    static func cut(_ source: String, fraction: Double) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        let path = temporaryPath((source as NSString).pathExtension.isEmpty ? "" : "." + (source as NSString).pathExtension)
        try data.prefix(Int(Double(data.count) * fraction)).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func sha(_ path: String) -> Data? { try? Data(contentsOf: URL(fileURLWithPath: path)) }
}

func remove(_ paths: String...) { for p in paths { try? FileManager.default.removeItem(atPath: p) } }

@Suite(.serialized) struct StatusContractTests {
    @Test("a file cut at 10/50/90 %: exit 3, one line on stderr, sidecar partial/truncated, rows parse",
          arguments: [0.1, 0.5, 0.9])
    func truncatedFile(_ fraction: Double) throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        // The sample keeps its index (moov) before the media data, so a cut file opens and its
        // index says how many packets are missing.
        let cut = try Fixtures.cut(sample, fraction: fraction), csv = temporaryPath(".csv")
        defer { remove(cut, csv, csv + ".json") }
        let result = try run(bin, ["analyze", cut, "-o", csv, "--faces", "center", "--quiet"])
        #expect(result.status == 3, "stderr: \(result.stderr)")
        let lines = result.stderrLines
        #expect(lines.count == 1 && lines[0].contains(cut) && lines[0].contains("partial result (truncated)"),
                "stderr: \(result.stderr)")
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        #expect(table.rows.count > 0 && table.rows.count < 472)
        let sidecar = try jsonObject(csv + ".json")
        #expect(sidecar["status"] as? String == "partial")
        #expect(sidecar["reason"] as? String == "truncated")
        #expect(sidecar["complete"] as? Bool == false)
        #expect(sidecar["rows"] as? Int == table.rows.count)
        #expect((sidecar["frames"] as? [String: Any])?["analyzed"] as? Int == table.rows.count)
    }

    @Test("the whole file: exit 0, status complete, nothing on stderr")
    func completeFile() throws {
        guard let bin = fervidBinary() else { return }
        let video = try Fixtures.video(seconds: 2), csv = temporaryPath(".csv")
        defer { remove(video, csv, csv + ".json") }
        let result = try run(bin, ["analyze", video, "-o", csv, "--faces", "center", "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.isEmpty)
        let sidecar = try jsonObject(csv + ".json")
        #expect(sidecar["status"] as? String == "complete")
        #expect(sidecar["reason"] == nil)
        #expect(sidecar["end_time"] is String)
        #expect((sidecar["frames"] as? [String: Any])?["analyzed"] as? Int == 20)
        #expect(try TimelineCSV(path: csv).rows.count == 20)
    }

    @Test("SIGKILL mid-run: the sidecar was kept current (partial, running, counts > 0); every row parses")
    func killedRunLeavesTruthfulSidecar() throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let long = temporaryPath(".mp4"), csv = temporaryPath(".csv")
        defer { remove(long, csv, csv + ".json") }
        let made = try run("ffmpeg", ["-v", "error", "-y", "-stream_loop", "7", "-i", sample, "-c", "copy", long])
        try #require(made.status == 0, "ffmpeg: \(made.stderr)")
        let child = try Child(bin, ["analyze", long, "-o", csv, "--quiet", "--threads", "1"])
        defer { child.stop() }
        // Wait until the sidecar has been rewritten with counts (every 2 s while the run goes).
        let rewritten = eventually(90) {
            guard let s = try? jsonObject(csv + ".json") else { return false }
            return ((s["frames"] as? [String: Any])?["analyzed"] as? Int ?? 0) > 0
        }
        #expect(rewritten, "the sidecar still says 0 frames analyzed")
        kill(child.pid, SIGKILL)
        _ = child.wait(seconds: 30)
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        let sidecar = try jsonObject(csv + ".json")
        #expect(sidecar["status"] as? String == "partial")
        #expect(sidecar["reason"] as? String == "running")
        #expect(sidecar["complete"] as? Bool == false)
        #expect(sidecar["end_time"] == nil)
        #expect(sidecar["updated_time"] is String)
        let analyzed = (sidecar["frames"] as? [String: Any])?["analyzed"] as? Int ?? 0
        let rows = sidecar["rows"] as? Int ?? -1
        // The sidecar lags the timeline by at most one rewrite, never leads it.
        #expect(analyzed > 0 && rows > 0 && rows <= table.rows.count, "sidecar rows \(rows), file \(table.rows.count)")
        // No temporary file left next to it.
        let folder = (csv as NSString).deletingLastPathComponent, name = (csv as NSString).lastPathComponent
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter { $0.hasPrefix(".\(name).json.tmp") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test("-o /dev/null: no /dev/null.json (a sidecar goes next to a regular file only)")
    func devNullGetsNoSidecar() throws {
        guard let bin = fervidBinary() else { return }
        let video = try Fixtures.video()
        defer { remove(video) }
        let existed = FileManager.default.fileExists(atPath: "/dev/null.json")
        let result = try run(bin, ["analyze", video, "-o", "/dev/null", "--faces", "center", "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        if !existed {
            #expect(!FileManager.default.fileExists(atPath: "/dev/null.json"))
            remove("/dev/null.json")
        }
    }
}

@Suite struct OutputClashCLITests {
    /// Each case: the arguments after `analyze` (IN is the input video, G a fresh path,
    /// LINK a hard link to the input), and the two names the error line must hold.
    @Test("an output that is an input or another output: exit 2 before any work, the input intact",
          arguments: [
              (["IN", "-o", "IN"], "IN", "IN"),
              (["IN", "-o", "G.csv", "--annotate", "IN"], "--annotate", "IN"),
              (["IN", "-o", "G.csv", "--summary", "IN"], "--summary", "IN"),
              (["IN", "-o", "G.csv", "--plot", "IN"], "--plot", "IN"),
              (["IN", "-o", "LINK"], "LINK", "IN"),
              (["IN", "-o", "SYMLINK"], "SYMLINK", "IN"),
              (["IN", "-o", "G.mp4", "--annotate", "G.mp4"], "--annotate", "G.mp4"),
              (["IN", "-o", "G.csv", "--summary", "G.csv.json"], "--summary", "sidecar"),
              (["IN", "--model", "MODEL", "-o", "MODEL"], "MODEL", "--model"),
          ])
    func refused(_ args: [String], _ first: String, _ second: String) throws {
        guard let bin = fervidBinary() else { return }
        let video = try Fixtures.video()
        let folder = (video as NSString).deletingLastPathComponent
        let g = temporaryPath(""), link = temporaryPath(".csv"), symlink = temporaryPath(".csv")
        let model = temporaryPath(".safetensors")
        try FileManager.default.linkItem(atPath: video, toPath: link)
        try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: video)
        try FileManager.default.copyItem(at: modelsDirectory.appendingPathComponent("mini-xception.safetensors"),
                                         to: URL(fileURLWithPath: model))
        defer { remove(video, link, symlink, model, g + ".csv", g + ".csv.json", g + ".mp4") }
        let before = Fixtures.sha(video), modelBefore = Fixtures.sha(model)
        func expand(_ a: String) -> String {
            if a.hasPrefix("G.") { return g + a.dropFirst(1) }
            return ["IN": video, "LINK": link, "SYMLINK": symlink, "MODEL": model][a] ?? a
        }
        let argv = args.map(expand)
        let result = try run(bin, ["analyze"] + argv + ["--faces", "center", "--quiet"])
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(expand(first)) && result.stderr.contains(expand(second)), "stderr: \(result.stderr)")
        #expect(Fixtures.sha(video) == before, "the input was changed")
        #expect(Fixtures.sha(model) == modelBefore, "the model was changed")
        let made = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter { $0.hasPrefix((g as NSString).lastPathComponent) } ?? []
        #expect(made.isEmpty, "written: \(made)")
    }
}

@Suite struct StandardStreamClashTests {
    @Test("`fervid analyze - -o in.mp4 < in.mp4`: standard input's file is an input too (exit 2, intact)")
    func standardInputIsAnInput() throws {
        guard let bin = fervidBinary() else { return }
        let video = try Fixtures.video(".ts")
        defer { remove(video) }
        let before = Fixtures.sha(video)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = ["analyze", "-", "-o", video, "--faces", "center", "--quiet"]
        process.standardInput = try #require(FileHandle(forReadingAtPath: video))
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2, "stderr: \(stderr)")
        #expect(stderr.contains(video) && stderr.contains("is the input -"), "stderr: \(stderr)")
        #expect(Fixtures.sha(video) == before)
    }
}
