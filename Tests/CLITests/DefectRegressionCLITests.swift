import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The mini-Xception model with its header rewritten by `edit` (tensors and data kept, or extended).
func editedModel(_ edit: (inout [String: Any], inout Data) throws -> Void) throws -> String {
    let original = try Data(contentsOf: modelsDirectory.appendingPathComponent("mini-xception.safetensors"))
    let n = Int(original.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    var header = try #require(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + n)) as? [String: Any])
    var data = original.subdata(in: 8 + n ..< original.count)
    try edit(&header, &data)
    var json = try JSONSerialization.data(withJSONObject: header)
    while json.count % 8 != 0 { json.append(0x20) }
    var length = UInt64(json.count).littleEndian
    var file = Data(bytes: &length, count: 8)
    file.append(json)
    file.append(data)
    let path = temporaryPath(".safetensors")
    try file.write(to: URL(fileURLWithPath: path))
    return path
}

/// Each defect of issue 12, as a user meets it.
@Suite(.serialized) struct DefectRegressionCLITests {
    @Test("1 + 5: boxes with huge coordinates, wholly outside or of size 1e-300 give success=0 rows, no crash")
    func oddBoxes() throws {
        guard let bin = fervidBinary() else { return }
        let video = try Fixtures.video(), boxes = temporaryPath(".csv"), csv = temporaryPath(".csv")
        defer { remove(video, boxes, csv, csv + ".json") }
        try """
            frame,face_id,x,y,w,h
            0,0,1e308,1e308,1e308,1e308
            1,0,-500,-500,100,100
            2,0,500,10,50,50
            3,0,20,20,1e-300,1e-300
            4,0,30,20,80,80
            """.write(toFile: boxes, atomically: true, encoding: .utf8)
        let result = try run(bin, ["analyze", video, "--faces", "boxes:\(boxes)", "-o", csv, "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let rows = try TimelineCSV(path: csv).rows
        #expect(rows.count == 10)
        for row in rows {
            let frame = Int(row["frame"] ?? "") ?? -1
            if frame == 4 {
                #expect(row["success"] == "1" && row["label"] != "", "frame 4 has a real face")
            } else {
                #expect(row["success"] == "0" && row["angry"] == "", "frame \(frame): \(row)")
            }
        }
    }

    @Test("2: a model with a zero-element tensor of absurd dimensions fails at once, naming the tensor")
    func absurdTensorDoesNotHang() throws {
        guard let bin = fervidBinary() else { return }
        let model = try editedModel { header, _ in
            header["zz.kernel"] = ["dtype": "F32", "shape": [1_000_000, 1_000_000, 1_000_000, 0],
                                   "data_offsets": [0, 0]]
        }
        let video = try Fixtures.video(), csv = temporaryPath(".csv")
        defer { remove(model, video, csv, csv + ".json") }
        let child = try Child(bin, ["analyze", video, "--model", model, "-o", csv, "--faces", "center", "--quiet"])
        let status = child.wait(seconds: 60)
        #expect(status == 1, "hung or wrong exit: \(String(describing: status))")
        #expect(child.stderr.contains("zz.kernel") && child.stderr.contains(model), "stderr: \(child.stderr)")
        #expect(!FileManager.default.fileExists(atPath: csv))
    }

    @Test("4: --decoder-threads is bounded like --threads", arguments: ["10000", "257", "-1"])
    func decoderThreadsBounded(_ value: String) throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        for command in [["analyze", sample, "--quiet"], ["probe", sample]] {
            let result = try run(bin, command + ["--decoder-threads", value])
            #expect(result.status == 2, "\(command[0]): stderr \(result.stderr)")
            #expect(result.stderr.contains("--decoder-threads must be a whole number from 0"), "stderr: \(result.stderr)")
        }
    }

    @Test("6: a model whose weights hold NaN is refused at load, naming the tensor")
    func nanWeights() throws {
        guard let bin = fervidBinary() else { return }
        var victim = ""
        let model = try editedModel { header, data in
            // The first F32 tensor by offset: its first value becomes NaN.
            let entries = header.compactMap { (name, value) -> (String, Int)? in
                guard let e = value as? [String: Any], e["dtype"] as? String == "F32",
                      let o = e["data_offsets"] as? [Int], o[1] > o[0] else { return nil }
                return (name, o[0])
            }.sorted { $0.1 < $1.1 }
            let (name, offset) = try #require(entries.first)
            victim = name
            var nan = Float.nan.bitPattern.littleEndian
            data.replaceSubrange(offset ..< offset + 4, with: Data(bytes: &nan, count: 4))
        }
        let video = try Fixtures.video(), csv = temporaryPath(".csv")
        defer { remove(model, video, csv, csv + ".json") }
        let result = try run(bin, ["analyze", video, "--model", model, "-o", csv, "--faces", "center", "--quiet"])
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("'\(victim)'") && result.stderr.contains("non-finite"), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: csv))
    }

    @Test("8: --summary/--plot /dev/full and -o - into /dev/full fail with the OS's reason",
          arguments: ["--summary", "--plot", "-o -"])
    func writeErrorsAreErrors(_ which: String) throws {
        guard let bin = fervidBinary() else { return }
        let video = try Fixtures.video(), csv = temporaryPath(".csv")
        // A full device of the test's own (as root): the fervid before the fix replaced the file
        // it was given by a rename, which must not happen to the system's /dev/full.
        let device = temporaryPath("-full")
        // Device 1:7 (Linux's makedev for major < 4096, minor < 256: major << 8 | minor).
        let full = mknod(device, S_IFCHR | 0o666, dev_t(1 << 8 | 7)) == 0 ? device : "/dev/full"
        defer { remove(video, csv, csv + ".json", device) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin)
        var args = ["analyze", video, "--faces", "center", "--quiet"]
        args += which == "-o -" ? ["-o", "-"] : ["-o", csv, which, full]
        process.arguments = args
        let handle = try #require(FileHandle(forWritingAtPath: full))
        process.standardOutput = which == "-o -" ? handle : FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(which): stderr \(stderr)")
        #expect(stderr.contains("No space left on device"), "\(which): stderr \(stderr)")
        #expect(stderr.contains(which == "-o -" ? "standard output" : full), "\(which): stderr \(stderr)")
        var st = stat()
        #expect(stat(full, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "\(full) is no longer a device")
    }

    @Test("10: negative values reach validation; --smooth says why; file errors give the OS's cause",
          arguments: [
              (["--fps", "-1"], "--fps must be a positive number"),
              (["--fps=-1"], "--fps must be a positive number"),
              (["--batch", "-3"], "--batch must be a whole number from 1 to 1024"),
              (["--start", "-2.5"], "--start must be seconds"),
              (["--smooth", "ema:0"], "TAU must be > 0"),
              (["--smooth", "hmm:2"], "STAY"),
          ])
    func messages(_ flags: [String], _ expected: String) throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let result = try run(bin, ["analyze", sample, "--quiet"] + flags)
        #expect(result.status == 2)
        #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("Missing value"), "stderr: \(result.stderr)")
    }

    @Test("10: unreadable files name the OS's cause, never NSCocoaErrorDomain")
    func fileErrors() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let dir = temporaryPath("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { remove(dir) }
        let cases: [([String], String)] = [
            (["analyze", sample, "--faces", "boxes:/nonexistent/boxes.csv", "-o", dir + "/a.csv", "--quiet"], "No such file or directory"),
            (["analyze", sample, "--faces", "boxes:\(dir)", "-o", dir + "/b.csv", "--quiet"], "Is a directory"),
            (["plot", "/nonexistent/t.csv", "-o", dir + "/p.svg"], "No such file or directory"),
            (["plot", dir, "-o", dir + "/p.svg"], "Is a directory"),
        ]
        for (args, cause) in cases {
            let result = try run(bin, args)
            #expect(result.status == 1, "\(args): stderr \(result.stderr)")
            #expect(result.stderrLines.count == 1)
            #expect(result.stderr.contains(cause) && !result.stderr.contains("NSCocoaErrorDomain"), "\(args): \(result.stderr)")
        }
    }
}
