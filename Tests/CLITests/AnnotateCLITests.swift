import Foundation
import Testing
import TestSupport

/// Frame `n` of `path` as packed RGB24, decoded by the ffmpeg CLI (the oracle).
func ffmpegFrame(_ path: String, _ n: Int) throws -> [UInt8] {
    let result = try run("ffmpeg", ["-v", "error", "-i", path, "-vf", "select=eq(n\\,\(n))", "-frames:v", "1",
                                    "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
    return [UInt8](result.stdoutData)
}

/// Mean absolute difference over a square patch (codec noise averages out).
func patchDifference(_ a: [UInt8], _ b: [UInt8], width: Int, x: Int, y: Int, radius: Int) -> Double {
    var sum = 0.0, count = 0.0
    for yy in (y - radius) ... (y + radius) {
        for xx in (x - radius) ... (x + radius) {
            for c in 0 ..< 3 {
                let i = (yy * width + xx) * 3 + c
                sum += abs(Double(a[i]) - Double(b[i]))
                count += 1
            }
        }
    }
    return sum / count
}

@Suite struct AnnotateCLITests {
    @Test("--annotate: same frames and duration; boxes drawn where the faces are, nothing elsewhere")
    func annotatedVideo() throws {
        guard let bin = fervidBinary(), let sample = samplePath("single_face.mp4") else { return }
        let csv = temporaryPath(".csv"), video = temporaryPath(".mp4")
        defer { for p in [csv, csv + ".json", video] { try? FileManager.default.removeItem(atPath: p) } }
        let result = try run(bin, ["analyze", sample, "-o", csv, "--annotate", video, "--quiet"])
        #expect(result.status == 0, "stderr: \(result.stderr)")

        let input = try ffprobe(sample, "stream=nb_read_frames,duration,width,height", extra: ["-count_frames"])
        let output = try ffprobe(video, "stream=nb_read_frames,duration,width,height", extra: ["-count_frames"])
        #expect(output["nb_read_frames"] == input["nb_read_frames"])
        let d0 = Double(input["duration"] ?? "") ?? -1, d1 = Double(output["duration"] ?? "") ?? -9
        #expect(abs(d0 - d1) <= 1.0 / 30 + 1e-6, "duration \(d1) vs \(d0)")
        let audio = try run("ffprobe", ["-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_name",
                                        "-of", "csv=p=0", video])
        #expect(audio.stdout.contains("mp3"), "the source's audio is copied")

        // A frame with a face: a pixel on the box outline changed, a patch far away did not.
        let table = try TimelineCSV(path: csv)
        let width = Int(input["width"]!)!, height = Int(input["height"]!)!
        let row = try #require(table.rows.first { $0["success"] == "1" && $0["frame"] == "30" })
        let (bx, by) = (Double(row["x"]!)!, Double(row["y"]!)!)
        let (bw, bh) = (Double(row["w"]!)!, Double(row["h"]!)!)
        let source = try ffmpegFrame(sample, 30), annotated = try ffmpegFrame(video, 30)
        #expect(source.count == width * height * 3 && annotated.count == source.count)
        // Left edge of the box, half way down (the outline is 2–3 px wide: sample its middle).
        let edgeX = min(max(Int(bx.rounded()) + 1, 1), width - 2), edgeY = Int((by + bh / 2).rounded())
        let onBox = patchDifference(source, annotated, width: width, x: edgeX, y: edgeY, radius: 0)
        #expect(onBox > 40, "box outline at (\(edgeX), \(edgeY)) differs by \(onBox)")
        // Far from the face: the corner on the other side of the frame from the box.
        let farX = bx + bw / 2 > Double(width) / 2 ? 12 : width - 13
        let farY = by + bh / 2 > Double(height) / 2 ? 12 : height - 13
        let far = patchDifference(source, annotated, width: width, x: farX, y: farY, radius: 8)
        #expect(far < 4, "a patch far from the face differs by \(far) (codec noise only)")
    }
}
