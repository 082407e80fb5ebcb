import Foundation
import Testing
import TestSupport

/// `fervid models bench`, `models run` on the shipped mini-Xception, and `analyze --stats`: the
/// pieces `make bench` (tools/bench/) drives. No test asserts a speed.
@Suite("fervid models bench")
struct ModelsBenchCLITests {
    /// The shipped model (`make models`): `FERVID_MODELS`, else the package's `models/`.
    static func shippedModel(_ name: String) throws -> String {
        let dir = ProcessInfo.processInfo.environment["FERVID_MODELS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? packageRoot().appendingPathComponent("models").path
        let path = dir + "/" + name + ".safetensors"
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run `make models`")
        return path
    }

    static func jsonObject(_ line: Substring) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test("--json reports the batch, the input shape and the median of the repeats")
    func jsonReport() throws {
        let model = try Self.shippedModel("mini-xception")
        let r = try runFervid(["models", "bench", model, "--batch", "3", "--threads", "1", "--seconds", "0.02",
                               "--repeats", "3", "--warmup", "0", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 1)
        let o = try Self.jsonObject(try #require(lines.first))
        #expect(o["model"] as? String == "mini-xception")
        #expect(o["batch"] as? Int == 3)
        #expect(o["threads"] as? Int == 1)
        #expect(o["input_shape"] as? [Int] == [3, 1, 64, 64])
        let repeats = try #require(o["repeats"] as? [Double])
        #expect(repeats.count == 3)
        #expect(repeats.allSatisfy { $0 > 0 && $0.isFinite })
        #expect(o["images_per_second"] as? Double == repeats.sorted()[1])
    }

    @Test("a built-in DBA-Net name runs with fixed random weights at 100×100")
    func builtInName() throws {
        let r = try runFervid(["models", "bench", "dbanet-densenet161-dba", "--threads", "1", "--seconds", "0.01",
                               "--repeats", "1", "--warmup", "0", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let o = try Self.jsonObject(try #require(r.out.split(separator: "\n").first))
        #expect(o["model"] as? String == "dbanet-densenet161-dba")
        #expect(o["input_shape"] as? [Int] == [1, 3, 100, 100])
        #expect((o["images_per_second"] as? Double ?? 0) > 0)
    }

    @Test("--serve answers one JSON line per command")
    func serve() throws {
        let binary = try #require(fervidBinary())
        let model = try Self.shippedModel("mini-xception")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["models", "bench", model, "--batch", "2", "--threads", "1", "--seconds", "0.02",
                             "--warmup", "0", "--serve"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data("run\nbogus\n\nrun\nquit\n".utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        try #require(lines.count == 4, "\(lines)")
        let ready = try Self.jsonObject(lines[0])
        #expect(ready["ready"] as? Bool == true)
        #expect(ready["input_shape"] as? [Int] == [2, 1, 64, 64])
        for i in [1, 3] {
            let run = try Self.jsonObject(lines[i])
            #expect((run["images_per_second"] as? Double ?? 0) > 0)
            let passes = try #require(run["passes"] as? Int)
            let seconds = try #require(run["seconds"] as? Double)
            #expect(passes >= 1)
            #expect(seconds >= 0.02)
            let cpu = try #require(run["cpu_seconds"] as? Double)
            // The process's CPU seconds within the repeat's window: positive, and no more than
            // every core for the whole window (not CPU since start-up, not milliseconds). Not
            // "≤ wall time": the process has other threads, and the window is timed, not counted.
            let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
            #expect(cpu > 0 && cpu <= seconds * cores * 1.02 + 0.005, "cpu \(cpu) s in \(seconds) s on \(cores) cores")
            // images/s is what the passes and the seconds say.
            #expect(abs((run["images_per_second"] as? Double ?? 0) - Double(2 * passes) / seconds) < 1e-6 * Double(2 * passes) / seconds)
        }
        let error = try Self.jsonObject(lines[2])["error"] as? String
        #expect(error?.contains("bogus") == true)
    }

    @Test("--peak: CPU-time GFLOP/s are at least the wall-clock ones (a thread cannot run longer than the wall)")
    func peak() throws {
        let r = try runFervid(["models", "bench", "--peak", "--threads", "1", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let o = try Self.jsonObject(try #require(r.out.split(separator: "\n").first))
        let cpuFlags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? []
        for (isa, flag) in [("avx512", "avx512f"), ("avx2", "avx2")] {
            let wall = o["peak_\(isa)_gflops"] as? Double
            let cpu = o["peak_\(isa)_cpu_gflops"] as? Double
            #expect((wall != nil) == cpuFlags.contains(Substring(flag)), "\(isa) reported iff /proc/cpuinfo lists \(flag)")
            if let wall, let cpu {
                #expect(wall > 0 && wall.isFinite)
                #expect(cpu >= wall * 0.999)
            }
        }
    }

    @Test("bad input: one error line naming it, non-zero exit")
    func badInput() throws {
        let missing = try runFervid(["models", "bench", "no-such-model"])
        #expect(missing.status == 1)
        #expect(missing.err.hasPrefix("fervid: no-such-model: "))
        #expect(missing.err.split(separator: "\n").count == 1)

        let detector = try Self.shippedModel("mtcnn")
        let wrong = try runFervid(["models", "bench", detector])
        #expect(wrong.status == 1)
        #expect(wrong.err.hasPrefix("fervid: \(detector): architecture 'mtcnn'"), "\(wrong.err)")
        #expect(wrong.err.split(separator: "\n").count == 1)

        let nothing = try runFervid(["models", "bench"])
        #expect(nothing.status == 2)
        let zero = try runFervid(["models", "bench", "mini-xception", "--batch", "0"])
        #expect(zero.status == 2)
    }

    @Test("`models run` on mini-Xception matches the NumPy reference's logits on sample face crops")
    func runMiniXception() throws {
        // Golden: tools/make_face_golden.py (Tests/ModelsTests/Golden/mini_xception.json).
        let goldenURL = packageRoot().appendingPathComponent("Tests/ModelsTests/Golden/mini_xception.json")
        let golden = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: goldenURL)) as? [String: Any])
        let crops = try #require(golden["crops"] as? [[String: Any]])
        var input: [Float] = []
        var expected: [[Double]] = []
        for crop in crops {
            let text = try #require(crop["crop"] as? String)
            let bytes = try #require(Data(base64Encoded: text))
            #expect(bytes.count == 64 * 64)
            input += bytes.map { (Float($0) / 255 - 0.5) * 2 }   // fer's normalization
            expected.append(try #require(crop["logits"] as? [Double]))
        }
        let inPath = temporaryPath(".safetensors"), outPath = temporaryPath(".safetensors")
        defer { try? FileManager.default.removeItem(atPath: inPath); try? FileManager.default.removeItem(atPath: outPath) }
        try safeTensors(name: "input", shape: [crops.count, 1, 64, 64], values: input).write(to: URL(fileURLWithPath: inPath))
        let r = try runFervid(["models", "run", try Self.shippedModel("mini-xception"), "--input", inPath, "--output", outPath])
        #expect(r.status == 0, "\(r.err)")
        let (shape, logits) = try readSafeTensorsFloats(Data(contentsOf: URL(fileURLWithPath: outPath)), name: "logits")
        #expect(shape == [crops.count, 7])
        var worst = 0.0
        for (n, e) in expected.enumerated() {
            for k in 0 ..< 7 { worst = max(worst, abs(Double(logits[n * 7 + k]) - e[k])) }
        }
        #expect(worst <= 1e-4, "max |Δlogit| \(worst)")

        // A DBA-Net-shaped input is refused with the expected shape named.
        try safeTensors(name: "input", shape: [1, 3, 64, 64], values: [Float](repeating: 0, count: 3 * 64 * 64))
            .write(to: URL(fileURLWithPath: inPath))
        let bad = try runFervid(["models", "run", try Self.shippedModel("mini-xception"), "--input", inPath, "--output", outPath])
        #expect(bad.status == 1)
        #expect(bad.err.contains("expected (N, 1, 64, 64)"), "\(bad.err)")
    }

    @Test("analyze --stats with the detector: the look-ahead runs scheduled detections ahead; the rows are those of --detect-interval's schedule")
    func analyzeStatsLookahead() throws {
        let sample = try #require(samplePath("single_face.mp4"))
        let out = temporaryPath(".emotions.csv")
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: out + ".json") }
        let r = try runFervid(["analyze", sample, "-o", out, "--quiet", "--stats"])
        #expect(r.status == 0, "\(r.err)")
        let line = try #require(r.err.split(separator: "\n").first { $0.hasPrefix("stats ") })
        var fields: [String: String] = [:]
        for kv in line.split(separator: " ").dropFirst() {
            let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
            if p.count == 2 { fields[p[0]] = p[1] }
        }
        let detections = try #require(Int(fields["detections"] ?? ""))
        let ahead = try #require(Int(fields["detections_ahead"] ?? ""))
        // 72 frames at 30 fps, a detection every 0.5 s: at least frames 0, 15, 30, 45, 60.
        #expect(detections >= 5)
        #expect(ahead >= 1 && ahead <= detections, "\(ahead) of \(detections) ahead")
        #expect((Double(fields["face_ahead_s"] ?? "") ?? 0) > 0)
    }

    @Test("analyze --stats: one stats line whose counts match ffprobe and whose stage seconds fit in the wall time")
    func analyzeStats() throws {
        let sample = try #require(samplePath("single_face.mp4"))
        let out = temporaryPath(".emotions.csv")
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: out + ".json") }
        let r = try runFervid(["analyze", sample, "-o", out, "--faces", "center", "--quiet", "--stats"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.err.split(separator: "\n").filter { $0.hasPrefix("stats ") }
        try #require(lines.count == 1, "\(r.err)")
        var fields: [String: String] = [:]
        for kv in lines[0].split(separator: " ").dropFirst() {
            let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
            if p.count == 2 { fields[p[0]] = p[1] }
        }
        let frames = try ProbeOracle(path: sample, streamIndex: 0).timestamps.count
        #expect(fields["input"] == sample)
        #expect(Int(fields["frames_read"] ?? "") == frames)
        #expect(Int(fields["frames_analyzed"] ?? "") == frames)
        #expect(Int(fields["faces"] ?? "") == frames)   // --faces center: one crop per frame
        #expect(fields["detections"] == "0")             // and no detector
        let wall = try #require(Double(fields["wall_s"] ?? ""))
        #expect(wall > 0)
        // Decode and classify each run on one thread: their busy time cannot exceed the wall time.
        for stage in ["decode_s", "face_s", "classify_s", "write_s"] {
            let busy = try #require(Double(fields[stage] ?? ""), "\(stage) missing")
            #expect(busy >= 0)
            if stage == "decode_s" || stage == "classify_s" { #expect(busy <= wall * 1.01 + 0.01, "\(stage) \(busy) > wall \(wall)") }
        }
        let fps = try #require(Double(fields["fps"] ?? ""))
        #expect(abs(fps - Double(frames) / wall) <= 0.01 * fps + 0.01)
        // The process's CPU over the pipeline: some, and no more than every core for the wall time.
        let cpu = try #require(Double(fields["cpu_s"] ?? ""), "cpu_s missing")
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        #expect(cpu > 0 && cpu <= wall * cores * 1.02 + 0.01, "cpu_s \(cpu), wall \(wall), \(cores) cores")
        let busy = try #require(Double(fields["cores_busy"] ?? ""), "cores_busy missing")
        #expect(abs(busy - cpu / wall) <= 0.01 + 0.01 * busy, "cores_busy \(busy), cpu_s / wall_s \(cpu / wall)")
    }
}

/// A one-tensor F32 safetensors file (the format: u64 LE header length, JSON header, data).
func safeTensors(name: String, shape: [Int], values: [Float]) -> Data {
    var header = "{\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
        + "\"data_offsets\":[0,\(values.count * 4)]}}"
    while header.utf8.count % 8 != 0 { header += " " }
    var data = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(Data(header.utf8))
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    return data
}

/// Shape and values of F32 tensor `name` in a safetensors file.
func readSafeTensorsFloats(_ data: Data, name: String) throws -> (shape: [Int], values: [Float]) {
    let bytes = [UInt8](data)
    try #require(bytes.count >= 8)
    let n = bytes[0 ..< 8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    try #require(8 + n <= bytes.count)
    let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8 ..< 8 + n])) as? [String: Any])
    let entry = try #require(header[name] as? [String: Any])
    #expect(entry["dtype"] as? String == "F32")
    let shape = try #require(entry["shape"] as? [Int])
    let offsets = try #require(entry["data_offsets"] as? [Int])
    let start = 8 + n + offsets[0], end = 8 + n + offsets[1]
    try #require(end <= bytes.count && (end - start) == shape.reduce(1, *) * 4)
    var values: [Float] = []
    values.reserveCapacity((end - start) / 4)
    var i = start
    while i < end {
        let bits = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        values.append(Float(bitPattern: bits))
        i += 4
    }
    return (shape, values)
}
