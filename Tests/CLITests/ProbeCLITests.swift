import Foundation
import Testing
import TestSupport

/// `fervid probe` as a user runs it: the built binary, checked against ffprobe.
@Suite("fervid probe")
struct ProbeCLITests {
    private func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(text)")
    }

    @Test("--json reports what ffprobe reports", arguments: sampleNames)
    func probeJSON(name: String) throws {
        guard let bin = fervidBinary(), let path = samplePath(name) else { return }
        let result = try run(bin, ["probe", path, "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try json(result.stdout)
        let stream = try ffprobe(path, "stream=codec_name,width,height,pix_fmt,r_frame_rate,avg_frame_rate")
        let format = try ffprobe(path, "format=format_name,duration")
        #expect(report["codec"] as? String == stream["codec_name"])
        #expect(report["width"] as? Int == Int(stream["width"] ?? ""))
        #expect(report["height"] as? Int == Int(stream["height"] ?? ""))
        #expect(report["pixel_format"] as? String == stream["pix_fmt"])
        #expect(report["frame_rate_nominal"] as? String == stream["r_frame_rate"])
        #expect(report["frame_rate_average"] as? String == stream["avg_frame_rate"])
        #expect(report["container"] as? String == format["format_name"])
        let duration = try #require(report["duration"] as? Double)
        #expect(abs(duration - (Double(format["duration"] ?? "") ?? -1)) < 1e-3)
        #expect(report["live"] as? Bool == false)
        #expect(report["frames"] == nil, "frames are counted only with --count")
    }

    @Test("--count gives ffprobe's frame count and first and last pts", arguments: sampleNames)
    func probeCount(name: String) throws {
        guard let bin = fervidBinary(), let path = samplePath(name) else { return }
        let result = try run(bin, ["probe", path, "--count", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try json(result.stdout)
        let counted = try ffprobe(path, "stream=nb_read_frames", extra: ["-count_frames"])
        #expect(report["frames"] as? Int == Int(counted["nb_read_frames"] ?? ""))
        let frames = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                         "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
        let times = frames.stdout.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .init(charactersIn: ", "))) }
        let first = try #require(report["first_pts"] as? Double)
        let last = try #require(report["last_pts"] as? Double)
        #expect(abs(first - (times.first ?? -1)) < 1e-6)
        #expect(abs(last - (times.last ?? -1)) < 1e-6)
        #expect(report["end"] as? String == "end_of_input")
        #expect(report["corrupt_packets"] as? Int == 0)
    }

    @Test("text output names container, codec, size and frame rates")
    func probeText() throws {
        guard let bin = fervidBinary(), let path = samplePath("single_face.mp4") else { return }
        let result = try run(bin, ["probe", path, "--count"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("h264"))
        #expect(result.stdout.contains("640x360"))
        #expect(result.stdout.contains("30.000 fps (30/1) nominal"))
        #expect(result.stdout.contains("frames:      72 decodable"))
        #expect(result.stderr.isEmpty)
    }
}

/// Bad input: one line `fervid: <input>: <cause>` on stderr, exit 1; bad usage exits 2.
@Suite("fervid errors")
struct ErrorCLITests {
    private func expectOneLineFailure(_ result: CommandResult, input: String, mentioning cause: String,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("fervid: \(input): "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(cause), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test("a missing path")
    func missingPath() throws {
        guard let bin = fervidBinary() else { return }
        let path = temporaryPath(".mp4")
        let result = try run(bin, ["probe", path])
        expectOneLineFailure(result, input: path, mentioning: "No such file or directory")
        #expect(result.stdout.isEmpty)
    }

    @Test("a text file named .mp4")
    func textFile() throws {
        guard let bin = fervidBinary() else { return }
        let path = temporaryPath(".mp4")
        try "not a video\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectOneLineFailure(try run(bin, ["probe", path, "--count"]), input: path, mentioning: "Invalid data")
    }

    @Test("a file cut to 30%: prints what decoded, says it is truncated, exits 3 (a partial result)")
    func truncatedFile() throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let data = try Data(contentsOf: URL(fileURLWithPath: sample))
        let path = temporaryPath(".mp4")
        try data.prefix(data.count * 3 / 10).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run(bin, ["probe", path, "--count", "--json"])
        let counted = try ffprobe(path, "stream=nb_read_frames", extra: ["-count_frames"])
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(report?["frames"] as? Int == Int(counted["nb_read_frames"] ?? ""))
        #expect(report?["end"] as? String == "read_error")
        #expect(result.status == 3, "stderr: \(result.stderr)")
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("fervid: \(path): partial result (truncated): "), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("ends early"), "stderr: \(result.stderr)")
    }

    @Test("an unsupported URL scheme")
    func unsupportedScheme() throws {
        guard let bin = fervidBinary() else { return }
        let url = "nosuchproto://example/video.mp4"
        expectOneLineFailure(try run(bin, ["probe", url]), input: url, mentioning: "unsupported URL scheme")
    }

    @Test("a closed port on 127.0.0.1")
    func closedPort() throws {
        guard let bin = fervidBinary() else { return }
        let url = "tcp://127.0.0.1:\(freePort())"
        expectOneLineFailure(try run(bin, ["probe", url, "--open-timeout", "30"]), input: url,
                             mentioning: "Connection refused")
    }

    @Test("bad usage exits 2",
          arguments: [["probe"], ["probe", "x.mp4", "--no-such-flag"], ["probe", "x.mp4", "--read-timeout", "soon"],
                      ["probe", "x.mp4", "--read-timeout", "0"], ["no-such-command"]])
    func badUsage(args: [String]) throws {
        guard let bin = fervidBinary() else { return }
        let result = try run(bin, args)
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test("--help exits 0 and lists probe")
    func help() throws {
        guard let bin = fervidBinary() else { return }
        let result = try run(bin, ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("probe"))
    }
}
