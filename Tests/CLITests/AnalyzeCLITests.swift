import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A timeline CSV as a test reads it: header and rows as name → text.
struct TimelineCSV {
    var header: [String]
    var rows: [[String: String]]
    /// Lines whose field count differs from the header's (a torn or garbage line).
    var badLines: [Int]

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        header = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        rows = []
        badLines = []
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if fields.count != header.count { badLines.append(i + 2); continue }
            rows.append(Dictionary(uniqueKeysWithValues: zip(header, fields)))
        }
    }

    static let classes = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
}

/// ffprobe's best-effort timestamps (seconds) of every decoded frame of the first video stream.
func ffprobeTimestamps(_ path: String) throws -> [Double] {
    let result = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                     "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
    return result.stdout.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .init(charactersIn: ", \r"))) }
}

/// Label changes per track in a sequence of labels (consecutive rows of one face).
func labelChanges(_ rows: [[String: String]], label: ([String: String]) -> String) -> Int {
    var last: [String: String] = [:], changes = 0
    for row in rows where row["success"] == "1" {
        let id = row["face_id"] ?? "", l = label(row)
        if let prev = last[id], prev != l { changes += 1 }
        last[id] = l
    }
    return changes
}

func argmaxLabel(_ row: [String: String], prefix: String) -> String {
    TimelineCSV.classes.max { Double(row[prefix + $0] ?? "") ?? -1 < Double(row[prefix + $1] ?? "") ?? -1 }!
}

func jsonObject(_ path: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
}

/// Resident memory of a process in KiB, from /proc.
func residentKiB(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
    return nil
}

/// A child process the test owns: started, signalled, waited for with a bound, always reaped.
final class Child: @unchecked Sendable {
    let process = Process()
    private let errBox = DataBox()
    private let errPipe = Pipe()

    init(_ executable: String, _ args: [String]) throws {
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + args
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errPipe
        try process.run()
        let pipe = errPipe, box = errBox
        Thread { box.set(pipe.fileHandleForReading.readDataToEndOfFile()) }.start()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits up to `seconds` for the exit; returns the status, or nil (then kills it).
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var stderr: String {
        let deadline = Date().addingTimeInterval(2)
        while !errBox.done && Date() < deadline { usleep(1000) }
        return String(decoding: errBox.data, as: UTF8.self)
    }

    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// Waits until `condition` holds, polling, for at most `seconds`.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

@Suite(.serialized) struct AnalyzeCLITests {
    @Test("WolfgangLanger end to end: one row per frame, ffprobe's pts, sums, smoothing, summary")
    func endToEnd() throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let csv = temporaryPath(".csv"), summary = temporaryPath(".json")
        defer { for p in [csv, csv + ".json", summary] { try? FileManager.default.removeItem(atPath: p) } }
        let result = try run(bin, ["analyze", sample, "-o", csv, "--raw", "--summary", summary, "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        #expect(Array(table.header.prefix(9)) == ["frame", "timestamp", "face_id", "confidence", "success", "x", "y", "w", "h"])

        // One frame index per decoded frame, in order, with ffprobe's timestamps.
        let pts = try ffprobeTimestamps(sample)
        #expect(pts.count == 472)
        var frames: [Int: Double] = [:]
        for row in table.rows { frames[Int(row["frame"]!)!] = Double(row["timestamp"]!)! }
        #expect(frames.count == pts.count)
        for (i, t) in pts.enumerated() {
            guard let got = frames[i] else { Issue.record("no row for frame \(i)"); break }
            #expect(abs(got - t) < 1e-6, "frame \(i): \(got) vs ffprobe \(t)")
        }
        // Probabilities sum to 1, smoothed and raw.
        let faceRows = table.rows.filter { $0["success"] == "1" }
        #expect(faceRows.count >= pts.count * 9 / 10, "a face in most frames: \(faceRows.count) of \(pts.count)")
        for row in faceRows {
            for prefix in ["", "raw_"] {
                let sum = TimelineCSV.classes.reduce(0.0) { $0 + Double(row[prefix + $1]!)! }
                #expect(abs(sum - 1) < 1e-5, "frame \(row["frame"]!) \(prefix)sum \(sum)")
            }
        }
        // One person: one track.
        #expect(Set(faceRows.map { $0["face_id"]! }).count == 1)
        // Smoothing lowers the label changes per minute.
        let minutes = (pts.last! - pts.first!) / 60
        let raw = Double(labelChanges(table.rows) { argmaxLabel($0, prefix: "raw_") }) / minutes
        let smoothed = Double(labelChanges(table.rows) { $0["label"]! }) / minutes
        #expect(smoothed < raw, "label changes per minute: raw \(raw), smoothed \(smoothed)")
        // The summary's segments cover each track's timeline without gaps.
        let s = try jsonObject(summary)
        let tracks = s["tracks"] as? [[String: Any]] ?? []
        #expect(tracks.count == 1)
        for track in tracks {
            let segments = track["segments"] as? [[String: Any]] ?? []
            #expect(!segments.isEmpty)
            let start = track["start"] as? Double ?? -1, end = track["end"] as? Double ?? -1
            #expect(abs((segments.first?["start"] as? Double ?? -9) - start) < 1e-9)
            #expect(abs((segments.last?["end"] as? Double ?? -9) - end) < 1e-9)
            for (a, b) in zip(segments, segments.dropFirst()) {
                #expect(abs((a["end"] as? Double ?? -1) - (b["start"] as? Double ?? -2)) < 1e-9)
            }
        }
        // The sidecar says the run completed.
        let sidecar = try jsonObject(csv + ".json")
        #expect(sidecar["complete"] as? Bool == true)
        #expect(sidecar["schema_version"] as? Int == 2)
    }

    @Test("--fps 5 samples by timestamp; --start/--end cut by timestamp")
    func samplingAndCutting() throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let pts = try ffprobeTimestamps(sample)
        let csv = temporaryPath(".csv")
        defer { for p in [csv, csv + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
        var result = try run(bin, ["analyze", sample, "-o", csv, "--fps", "5", "--faces", "center", "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        var got = try TimelineCSV(path: csv).rows.map { Double($0["timestamp"]!)! }
        // Expected independently: the first frame at or after each multiple of 0.2 s.
        var expected: [Double] = []
        var next = 0.0
        for t in pts where t + 1e-9 >= next {
            expected.append(t)
            next = (floor(t / 0.2 + 1e-6) + 1) * 0.2
        }
        #expect(got.count == expected.count)
        #expect(zip(got, expected).allSatisfy { abs($0 - $1) < 1e-6 })

        result = try run(bin, ["analyze", sample, "-o", csv, "--start", "5", "--end", "10", "--faces", "center", "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        got = try TimelineCSV(path: csv).rows.map { Double($0["timestamp"]!)! }
        let inRange = pts.filter { $0 >= 5 && $0 < 10 }
        #expect(got.count == inRange.count)
        #expect(zip(got, inRange).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("no_face.mp4: every row success=0; the summary says 100% no face")
    func noFace() throws {
        guard let bin = fervidBinary(), let sample = samplePath("no_face.mp4") else { return }
        let csv = temporaryPath(".csv"), summary = temporaryPath(".json")
        defer { for p in [csv, csv + ".json", summary] { try? FileManager.default.removeItem(atPath: p) } }
        let result = try run(bin, ["analyze", sample, "-o", csv, "--summary", summary, "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let table = try TimelineCSV(path: csv)
        #expect(table.rows.count == 95)
        #expect(table.rows.allSatisfy { $0["success"] == "0" && $0["face_id"] == "" })
        let s = try jsonObject(summary)
        #expect(s["no_face_share"] as? Double == 1)
        #expect((s["tracks"] as? [Any])?.isEmpty == true)
    }

    @Test("SIGINT mid-file: exit 0, every row parses, the sidecar is written")
    func interruptMidFile() throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        // A long input (the sample 8 times) so the run is still going when the signal comes.
        let long = temporaryPath(".mp4"), csv = temporaryPath(".csv")
        defer { for p in [long, csv, csv + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
        let made = try run("ffmpeg", ["-v", "error", "-y", "-stream_loop", "7", "-i", sample, "-c", "copy", long])
        try #require(made.status == 0, "ffmpeg: \(made.stderr)")
        let child = try Child(bin, ["analyze", long, "-o", csv, "--quiet"])
        let started = eventually(60) { ((try? TimelineCSV(path: csv))?.rows.count ?? 0) > 20 }
        #expect(started, "no rows after 60 s")
        kill(child.pid, SIGINT)
        let status = child.wait(seconds: 60)
        #expect(status == 0, "stderr: \(child.stderr)")
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        #expect(table.rows.count > 20)
        #expect(table.rows.count < 8 * 472, "the run stopped early")
        let sidecar = try jsonObject(csv + ".json")
        #expect((sidecar["frames"] as? [String: Any])?["analyzed"] as? Int == Set(table.rows.map { $0["frame"]! }).count)
    }

    @Test("a live HTTP stream: rows while it runs, wallclock; the server's death ends the run cleanly")
    func liveHTTP() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/live.ts"
        let csv = temporaryPath(".csv")
        defer { for p in [csv, csv + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
        let server = try Child("ffmpeg", ["-v", "error", "-re", "-stream_loop", "-1", "-i", sample, "-an", "-c:v", "copy",
                                          "-f", "mpegts", "-listen", "1", url])
        defer { server.stop() }
        // The server listens once ffmpeg has opened its input (read from /proc/net: no
        // connection is made, which would use up the one-client server).
        #expect(LiveFixtures.waitForSocket(port, seconds: 60))
        let c = try Child(bin, ["analyze", url, "-o", csv, "--faces", "center", "--timeout", "2",
                                "--reconnect", "1", "--reconnect-delay", "0.2", "--quiet"])
        defer { c.stop() }
        #expect(eventually(20) { ((try? TimelineCSV(path: csv))?.rows.count ?? 0) >= 10 }, "rows while the stream runs")
        #expect(c.process.isRunning)
        let live = try TimelineCSV(path: csv)
        #expect(live.header.last == "wallclock")
        #expect(live.rows.allSatisfy { ($0["wallclock"] ?? "").hasSuffix("Z") })
        server.stop()
        let status = c.wait(seconds: 30)
        #expect(status == 0, "stderr: \(c.stderr)")
        let table = try TimelineCSV(path: csv)
        #expect(table.badLines.isEmpty)
        #expect(table.rows.count >= live.rows.count)
        let sidecar = try jsonObject(csv + ".json")
        #expect(sidecar["complete"] as? Bool == true)
    }
}

@Suite(.serialized) struct AnalyzeLiveMemoryTests {
    @Test("memory stays flat on an endless live stream")
    func memoryFlat() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let port = freePort()
        let url = "http://127.0.0.1:\(port)/loop.ts"
        let csv = temporaryPath(".csv")
        defer { for p in [csv, csv + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
        // No -re: the server sends as fast as fervid reads, so many frames pass (and are dropped).
        let server = try Child("ffmpeg", ["-v", "error", "-stream_loop", "-1", "-i", sample, "-an", "-c:v", "copy",
                                          "-f", "mpegts", "-listen", "1", url])
        defer { server.stop() }
        #expect(LiveFixtures.waitForSocket(port, seconds: 60))
        // --max-lag 1: the buffer (1 s of frames) fills in the first seconds; flat afterwards.
        let c = try Child(bin, ["analyze", url, "-o", csv, "--faces", "center", "--live", "live", "--max-lag", "1", "--quiet"])
        defer { c.stop() }
        #expect(eventually(20) { ((try? TimelineCSV(path: csv))?.rows.count ?? 0) >= 50 })
        usleep(3_000_000)
        let early = residentKiB(c.pid) ?? 0
        let rowsEarly = (try? TimelineCSV(path: csv))?.rows.count ?? 0
        usleep(9_000_000)
        let late = residentKiB(c.pid) ?? Int.max
        let rowsLate = (try? TimelineCSV(path: csv))?.rows.count ?? 0
        #expect(rowsLate > rowsEarly + 100, "the stream kept flowing: \(rowsEarly) -> \(rowsLate) rows")
        // Flat: less than 24 MiB of growth over 9 s of frames (a leak of one 640×360 frame per
        // frame would add ~300 KiB each).
        #expect(late - early < 24 * 1024, "resident memory \(early) KiB -> \(late) KiB")
        kill(c.pid, SIGINT)
        #expect(c.wait(seconds: 30) == 0, "stderr: \(c.stderr)")
    }
}

@Suite struct AnalyzeBadInputTests {
    @Test func missingInput() throws {
        guard let bin = fervidBinary() else { return }
        let csv = temporaryPath(".csv")
        let result = try run(bin, ["analyze", "/nonexistent/clip.mp4", "-o", csv, "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("/nonexistent/clip.mp4"))
        #expect(!FileManager.default.fileExists(atPath: csv))
    }

    @Test func unreadableModel() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let model = temporaryPath(".safetensors"), csv = temporaryPath(".csv")
        defer { try? FileManager.default.removeItem(atPath: model) }
        try "not a model".write(toFile: model, atomically: true, encoding: .utf8)
        let result = try run(bin, ["analyze", sample, "--model", model, "-o", csv, "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains(model))
        #expect(!FileManager.default.fileExists(atPath: csv))
    }

    @Test("a model whose labels the CSV cannot map")
    func unmappableLabels() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let original = try Data(contentsOf: modelsDirectory.appendingPathComponent("mini-xception.safetensors"))
        // Rewrite the header's labels: u64 length, JSON header, data.
        let n = Int(original.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try #require(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + n)) as? [String: Any])
        var meta = header["__metadata__"] as? [String: String] ?? [:]
        meta["fervid.labels"] = "angry,disgust,fear,happy,sad,surprise,contempt"
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian
        var file = Data(bytes: &length, count: 8)
        file.append(json)
        file.append(original.subdata(in: 8 + n ..< original.count))
        let model = temporaryPath(".safetensors"), csv = temporaryPath(".csv")
        defer { try? FileManager.default.removeItem(atPath: model) }
        try file.write(to: URL(fileURLWithPath: model))
        let result = try run(bin, ["analyze", sample, "--model", model, "-o", csv, "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("contempt"), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: csv))
    }

    @Test func missingOutputDirectory() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let result = try run(bin, ["analyze", sample, "-o", "/nonexistent-dir/out.csv", "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("/nonexistent-dir"))
    }

    @Test("bad flag values are usage errors naming the flag", arguments: [
        ["--fps", "0"], ["--batch", "0"], ["--smooth", "wobble"], ["--detect-interval", "-1"], ["--faces", "sideways"],
        ["--start", "5", "--end", "2"],
    ])
    func badValues(_ flags: [String]) throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let result = try run(bin, ["analyze", sample, "--quiet"] + flags)
        #expect(result.status == 2)
        #expect(result.stderr.contains(flags[flags.count - 2]), "stderr: \(result.stderr)")
    }
}

