import Foundation
import Testing
import TestSupport

// The face stage end to end on videos built from the samples by the ffmpeg CLI inside the tests
// (issue 13): sparse sampling, hard cuts between face and no-face scenes, sideways-stored copies
// with a display matrix. The oracle for "a face is there" is construction (which sample and
// which segment a frame came from; WolfgangLanger_Pexels.mp4 shows one person in every frame,
// no_face.mp4 none) and, for rotation, the same analysis of the upright video.

/// Runs the ffmpeg CLI; a failure fails the test with ffmpeg's message.
private func ffmpeg(_ args: [String]) throws {
    let r = try run("ffmpeg", ["-v", "error", "-nostdin", "-y"] + args)
    guard r.status == 0 else { throw FixtureError(description: "ffmpeg \(args.joined(separator: " ")): \(r.stderr)") }
}

private struct FixtureError: Error, CustomStringConvertible { let description: String }

private func analyze(_ bin: String, _ input: String, _ extra: [String]) throws -> (TimelineCSV, String) {
    let csv = temporaryPath(".csv")
    let r = try run(bin, ["analyze", input, "-o", csv, "--quiet"] + extra)
    defer { for p in [csv, csv + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
    guard r.status == 0 else { throw FixtureError(description: "fervid analyze \(input) \(extra): \(r.stderr)") }
    let sidecar = (try? String(contentsOfFile: csv + ".json", encoding: .utf8)) ?? ""
    return (try TimelineCSV(path: csv), sidecar)
}

private func box(_ row: [String: String]) -> (Double, Double, Double, Double)? {
    guard let x = Double(row["x"] ?? ""), let y = Double(row["y"] ?? ""), let w = Double(row["w"] ?? ""),
          let h = Double(row["h"] ?? "") else { return nil }
    return (x, y, w, h)
}

private func iou(_ a: (Double, Double, Double, Double), _ b: (Double, Double, Double, Double)) -> Double {
    let iw = min(a.0 + a.2, b.0 + b.2) - max(a.0, b.0), ih = min(a.1 + a.3, b.1 + b.3) - max(a.1, b.1)
    guard iw > 0, ih > 0 else { return 0 }
    return iw * ih / (a.2 * a.3 + b.2 * b.3 - iw * ih)
}

@Suite(.serialized) struct FacesCLITests {
    /// One person in every frame: at any sampling rate every analyzed frame has the face, with
    /// one id (before issue 13: 24 of 40 rows without a face and 8 ids at --fps 2).
    @Test("sparse sampling: the face in every analyzed frame, one id", arguments: [["--fps", "1"], ["--fps", "2"], ["--fps", "5"],
                                                                             ["--detect-interval", "1"], ["--detect-interval", "2"]])
    func sparseSampling(_ options: [String]) throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let (table, _) = try analyze(bin, sample, options)
        #expect(table.badLines.isEmpty)
        #expect(table.rows.count >= (options[0] == "--fps" ? Int(Double(options[1])! * 19) : 472))
        let missing = table.rows.filter { $0["success"] != "1" }.map { $0["frame"]! }
        #expect(missing.isEmpty, "\(options): no face in frames \(missing)")
        #expect(Set(table.rows.compactMap { $0["face_id"] }).count == 1, "\(options): one person, one id")
        #expect(table.rows.allSatisfy { ["detected", "tracked"].contains($0["box"] ?? "") })
    }

    /// Hard cuts: 3 s of the face, 2 s of an empty scene, 3 s of the face, 2 s empty, at 24 fps
    /// (frames 0–71 face, 72–119 none, 120–191 face, 192–239 none). No row in an empty segment
    /// may claim a face; every frame of a face segment has one.
    @Test("hard cuts between face and no-face scenes", arguments: [[String](), ["--fps", "5"], ["--detect-interval", "2"]])
    func hardCuts(_ options: [String]) throws {
        guard let bin = fervidBinary(), let face = samplePath("WolfgangLanger_Pexels.mp4"),
              let empty = samplePath("no_face.mp4") else { return }
        let video = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: video) }
        let scene = "setpts=PTS-STARTPTS,scale=640:360,setsar=1,fps=24,format=yuv420p"
        try ffmpeg(["-i", face, "-i", empty, "-filter_complex",
                    "[0:v]trim=0:3,\(scene)[a];[1:v]trim=0:2,\(scene)[b];[0:v]trim=5:8,\(scene)[c];[1:v]trim=1:3,\(scene)[d];"
                        + "[a][b][c][d]concat=n=4:v=1:a=0[v]",
                    "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", video])
        let (table, _) = try analyze(bin, video, options)
        func hasFace(_ frame: Int) -> Bool { frame < 72 || (120 ..< 192).contains(frame) }
        var ids: [Bool: Set<String>] = [:]
        var claimed: [Int] = [], missed: [Int] = []
        for row in table.rows {
            let frame = Int(row["frame"]!)!
            if row["success"] == "1" {
                if !hasFace(frame) { claimed.append(frame) }
                ids[frame < 120, default: []].insert(row["face_id"]!)
            } else if hasFace(frame) {
                missed.append(frame)
            }
        }
        #expect(Set(table.rows.map { Int($0["frame"]!)! }).count == table.rows.count)
        #expect(claimed.isEmpty, "\(options): rows claiming a face in an empty scene: frames \(claimed)")
        #expect(missed.isEmpty, "\(options): no face found in frames \(missed)")
        #expect(ids[true]?.count == 1 && ids[false]?.count == 1, "one id per face segment: \(ids)")
    }

    /// Sideways-stored copies (rotated pixels + a display matrix that turns them back, made as a
    /// phone does it) must give the upright video's boxes and labels.
    @Test("rotated video: boxes and labels match the upright video")
    func rotatedVideo() throws {
        guard let bin = fervidBinary(), let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
        let dir = temporaryPath("-rot")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let upright = dir + "/up.mp4"
        try ffmpeg(["-i", sample, "-t", "3", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", upright])
        let (reference, referenceSidecar) = try analyze(bin, upright, ["--landmarks"])
        #expect(referenceSidecar.contains("\"rotation\" : 0"))
        #expect(reference.rows.filter { $0["success"] == "1" }.count == reference.rows.count)
        // Stored turned the other way, displayed turned back: the tag `rotate=R` makes the
        // display matrix of an R° counter-clockwise turn (ffprobe's `rotation=R`).
        for (degrees, filter) in [(90, "transpose=clock"), (180, "hflip,vflip"), (270, "transpose=cclock")] {
            let stored = dir + "/stored\(degrees).mp4", tagged = dir + "/rot\(degrees).mp4"
            try ffmpeg(["-i", upright, "-vf", filter, "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", stored])
            try ffmpeg(["-i", stored, "-c", "copy", "-metadata:s:v:0", "rotate=\(degrees)", tagged])
            let side = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation",
                                           "-of", "csv=p=0", tagged]).stdout
            let angle = Int(side.trimmingCharacters(in: .whitespacesAndNewlines)).map { ($0 % 360 + 360) % 360 }
            #expect(angle == degrees, "the copy carries its display matrix: \(side)")
            let probe = try run(bin, ["probe", tagged, "--json"])
            let info = try JSONSerialization.jsonObject(with: probe.stdoutData) as? [String: Any] ?? [:]
            // fervid reports the clockwise turn the display applies: 360 − R.
            #expect(info["rotation"] as? Int == (360 - degrees) % 360, "probe: \(probe.stdout)")
            let (table, sidecar) = try analyze(bin, tagged, ["--landmarks"])
            #expect(sidecar.contains("\"rotation\" : \((360 - degrees) % 360)"), "sidecar: \(sidecar)")
            #expect(table.rows.count == reference.rows.count)
            var agree = 0, lowIoU: [String] = []
            for (a, b) in zip(reference.rows, table.rows) {
                #expect(a["frame"] == b["frame"] && a["success"] == b["success"])
                guard let ba = box(a), let bb = box(b) else { continue }
                let v = iou(ba, bb)
                if v < 0.8 { lowIoU.append("\(a["frame"]!): \(v)") }
                if a["label"] == b["label"] { agree += 1 }
                // Landmarks in display coordinates: the left eye (as seen) stays left of the right.
                #expect(Double(b["x_0"] ?? "") ?? 1 < Double(b["x_1"] ?? "") ?? 0)
            }
            #expect(lowIoU.isEmpty, "\(degrees)°: boxes with IoU < 0.8 against upright: \(lowIoU)")
            if degrees == 90 {
                // The annotated video is upright too (display size, no display matrix left to apply).
                let annotated = dir + "/annotated.mp4"
                let r = try run(bin, ["analyze", tagged, "-o", dir + "/a.csv", "--annotate", annotated, "--end", "0.5", "--quiet"])
                #expect(r.status == 0, "\(r.stderr)")
                let info = try ffprobe(annotated, "stream=width,height")
                #expect(info["width"] == "640" && info["height"] == "360", "annotated: \(info)")
            }
            #expect(agree * 100 >= reference.rows.count * 90, "\(degrees)°: labels agree on \(agree) of \(reference.rows.count)")
        }
    }

    /// --landmarks: ten columns, five points inside the face box in anatomical order; JSON Lines
    /// gets one `landmarks` array.
    @Test("--landmarks in CSV and JSON Lines")
    func landmarks() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let (table, _) = try analyze(bin, sample, ["--landmarks"])
        let names = ["x_0", "x_1", "x_2", "x_3", "x_4", "y_0", "y_1", "y_2", "y_3", "y_4"]
        #expect(Array(table.header[10 ..< 20]) == names)
        let faces = table.rows.filter { $0["success"] == "1" }
        #expect(!faces.isEmpty)
        for row in faces {
            let v = names.map { Double(row[$0] ?? "") ?? .nan }
            guard let b = box(row), v.allSatisfy(\.isFinite) else { Issue.record("frame \(row["frame"]!): \(row)"); continue }
            for k in 0 ..< 5 {
                #expect(v[k] >= b.0 - 2 && v[k] <= b.0 + b.2 + 2 && v[5 + k] >= b.1 - 2 && v[5 + k] <= b.1 + b.3 + 2,
                        "frame \(row["frame"]!): point \(k) outside the box")
            }
            // Eyes above the nose above the mouth corners; left of each pair on the left.
            #expect(v[5] < v[7] && v[6] < v[7] && v[7] < v[8] && v[7] < v[9])
            #expect(v[0] < v[1] && v[3] < v[4])
        }
        let jsonl = temporaryPath(".jsonl")
        defer { for p in [jsonl, jsonl + ".json"] { try? FileManager.default.removeItem(atPath: p) } }
        let r = try run(bin, ["analyze", sample, "-o", jsonl, "--format", "jsonl", "--landmarks", "--quiet", "--end", "0.5"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            #expect(o["x_0"] == nil)
            if o["success"] as? Int == 1 {
                let points = o["landmarks"] as? [[Double]] ?? []
                #expect(points.count == 5 && points.allSatisfy { $0.count == 2 })
            } else {
                #expect(o["landmarks"] is NSNull)
            }
        }
    }

    /// The `box` column says where a box came from; given and centred boxes have score 1 and no
    /// landmarks.
    @Test("box column: center and given boxes")
    func centerAndGivenBoxes() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let (center, _) = try analyze(bin, sample, ["--faces", "center", "--landmarks", "--end", "0.3"])
        #expect(!center.rows.isEmpty)
        #expect(center.rows.allSatisfy { $0["box"] == "center" && $0["confidence"] == "1.000000" && $0["x_0"] == "" })
        let boxes = temporaryPath(".csv")
        defer { try? FileManager.default.removeItem(atPath: boxes) }
        try "frame,face_id,x,y,w,h\n0,3,200,80,160,200\n1,3,202,80,160,200\n".write(toFile: boxes, atomically: true, encoding: .utf8)
        let (given, _) = try analyze(bin, sample, ["--faces", "boxes:" + boxes, "--end", "0.1"])
        let faces = given.rows.filter { $0["success"] == "1" }
        #expect(faces.count == 2)
        #expect(faces.allSatisfy { $0["box"] == "given" && $0["face_id"] == "3" && $0["confidence"] == "1.000000" })
        #expect(given.rows.filter { $0["success"] == "0" }.allSatisfy { $0["box"] == "" })
    }
}
