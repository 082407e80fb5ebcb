import CFFmpeg
import Foundation
import Testing
import TestSupport
@testable import Video

/// Display matrices (rotation side data) and frames turned upright.
@Suite("Display orientation")
struct OrientationTests {
    /// A display matrix made by FFmpeg's own constructors: `av_display_rotation_set` (a
    /// clockwise turn) then `av_display_matrix_flip`.
    func matrix(cw degrees: Double, hflip: Bool = false, vflip: Bool = false) -> [Int32] {
        var m = [Int32](repeating: 0, count: 9)
        av_display_rotation_set(&m, degrees)
        av_display_matrix_flip(&m, hflip ? 1 : 0, vflip ? 1 : 0)
        return m
    }

    @Test func matricesGiveTheTurnsTheFFmpegCLIApplies() {
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 0)) == .identity)
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 90)) == DisplayOrientation(rotation: 90))
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 180)) == DisplayOrientation(rotation: 180))
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 270)) == DisplayOrientation(rotation: 270))
        #expect(DisplayOrientation(displayMatrix: matrix(cw: -90)) == DisplayOrientation(rotation: 270))
        // Mirrors: ffmpeg_filter.c's rules (hflip / vflip filters, transpose's *_flip modes).
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 0, hflip: true)) == DisplayOrientation(hflip: true))
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 0, vflip: true)) == DisplayOrientation(vflip: true))
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 90, hflip: true))?.mirrored == true)
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 270, hflip: true))?.mirrored == true)
        #expect(DisplayOrientation(displayMatrix: matrix(cw: 45)) == nil)
    }

    @Test func rotationAndMirrorNamesAgreeWithTheFlags() {
        for t in [false, true] {
            for h in [false, true] {
                for v in [false, true] {
                    let o = DisplayOrientation(transpose: t, hflip: h, vflip: v)
                    #expect(DisplayOrientation(rotation: o.rotation, mirrored: o.mirrored) == o)
                }
            }
        }
        // Clockwise 90°: the stored top-left corner goes to the top-right.
        let cw = DisplayOrientation(rotation: 90)
        #expect(cw.display(x: 0, y: 0, width: 4, height: 2) == (1, 0))
        #expect(cw.display(x: 3, y: 0, width: 4, height: 2) == (1, 3))
        #expect(DisplayOrientation(rotation: 270).display(x: 0, y: 0, width: 4, height: 2) == (0, 3))
        #expect(DisplayOrientation(rotation: 0, mirrored: true).display(x: 0, y: 1, width: 4, height: 2) == (3, 1))
    }

    /// The fast plane turner against its naive twin (pixel by pixel through `display(x:y:)`),
    /// for every orientation, odd sizes, 1- and 2-byte samples, padded strides.
    @Test func planeTurnMatchesThePerPixelMapping() {
        for bytes in [1, 2] {
            let (w, h, stride) = (7, 5, 7 * bytes + 3)
            var src = [UInt8](repeating: 0, count: stride * h)
            for y in 0..<h { for x in 0..<w { for b in 0..<bytes { src[y * stride + x * bytes + b] = UInt8(truncatingIfNeeded: y * 31 + x * 7 + b * 101) } } }
            for t in [false, true] { for hf in [false, true] { for vf in [false, true] {
                let o = DisplayOrientation(transpose: t, hflip: hf, vflip: vf)
                let (dw, dh) = o.displaySize(width: w, height: h)
                let dstStride = dw * bytes + 5
                var dst = [UInt8](repeating: 0, count: dstStride * dh)
                src.withUnsafeBufferPointer { s in
                    dst.withUnsafeMutableBufferPointer { d in
                        FrameOrienter.turnPlane(s.baseAddress!, stride: stride, width: w, height: h, into: d.baseAddress!,
                                                stride: dstStride, bytes: bytes, orientation: o)
                    }
                }
                var expected = dst
                for y in 0..<h { for x in 0..<w {
                    let p = o.display(x: x, y: y, width: w, height: h)
                    for b in 0..<bytes { expected[p.y * dstStride + p.x * bytes + b] = src[y * stride + x * bytes + b] }
                } }
                #expect(dst == expected, "\(o), \(bytes) bytes")
            } } }
        }
    }

    /// A sideways-stored copy of a sample with a display matrix, decoded by VideoSource, equals
    /// the ffmpeg CLI's autorotated decode of the same file (the oracle), and the upright source
    /// within codec noise.
    @Test("rotated files decode upright, as ffmpeg's autorotate shows them", arguments: [90, 180, 270])
    func decodesUpright(degrees: Int) throws {
        guard let sample = Samples.path("single_face.mp4") else { return }
        let stored = temporaryPath(".mp4"), tagged = temporaryPath(".mp4")
        defer { for p in [stored, tagged] { try? FileManager.default.removeItem(atPath: p) } }
        let filter = [90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"][degrees]!
        var r = try runTool("ffmpeg", ["-v", "error", "-nostdin", "-y", "-i", sample, "-frames:v", "3", "-vf", filter,
                                       "-c:v", "libx264", "-crf", "10", stored])
        #expect(r.status == 0, "\(r.stderr)")
        r = try runTool("ffmpeg", ["-v", "error", "-nostdin", "-y", "-i", stored, "-c", "copy", "-metadata:s:v:0", "rotate=\(degrees)", tagged])
        #expect(r.status == 0, "\(r.stderr)")
        let source = try VideoSource(url: tagged)
        #expect(source.info.orientation.rotation == (360 - degrees) % 360)
        #expect(source.info.width == (degrees == 180 ? 640 : 360))
        #expect((source.info.displayWidth, source.info.displayHeight) == (640, 360))
        let frame = try #require(try source.nextFrame())
        #expect((frame.width, frame.height) == (640, 360))
        let ours = try FrameScaler().convert(frame, to: .gray8, width: 640, height: 360).bytes
        let theirs = try runTool("ffmpeg", ["-v", "error", "-nostdin", "-i", tagged, "-frames:v", "1", "-sws_flags", "bilinear",
                                            "-pix_fmt", "gray", "-f", "rawvideo", "-"]).stdoutData
        #expect(theirs.count == ours.count)
        let diff = zip(ours, theirs).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
        #expect(diff <= 2, "max difference \(diff) from ffmpeg's autorotated frame")
        // And not merely similar: the stored (sideways) picture is far from it.
        let raw = try runTool("ffmpeg", ["-v", "error", "-nostdin", "-noautorotate", "-i", tagged, "-frames:v", "1",
                                         "-vf", "scale=640:360", "-pix_fmt", "gray", "-f", "rawvideo", "-"]).stdoutData
        let far = zip(ours, raw).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(ours.count)
        #expect(far > 10, "mean difference \(far) from the stored picture")
    }
}
