import Foundation
import Testing
import TestSupport
@testable import Video

/// Converted pixels against the ffmpeg CLI's own conversion of the same frame (same size, same
/// bilinear scaler), and crops against the ffmpeg `crop` filter.
@Suite("Pixels against the ffmpeg CLI")
struct PixelTests {
    /// Frame `index` of `path`, decoded by the code under test.
    private func frame(_ index: Int, of path: String) throws -> DecodedFrame? {
        let source = try VideoSource(url: path)
        while let frame = try source.nextFrame() {
            if frame.index == index { return frame }
        }
        return nil
    }

    /// ffmpeg's conversion of decoded frame `index` (selected by decode order, like ours).
    private func ffmpegPixels(_ path: String, index: Int, width: Int, height: Int, layout: PixelLayout,
                              crop: PixelRect? = nil) throws -> [UInt8] {
        var filters = ["select=eq(n\\,\(index))"]
        // exact=1: the crop filter would otherwise also round an odd width and height down to even.
        if let crop { filters.append("crop=\(crop.width):\(crop.height):\(crop.x):\(crop.y):exact=1") }
        filters.append("scale=\(width):\(height):flags=bilinear")
        let result = try runTool("ffmpeg", [
            "-v", "error", "-nostdin", "-threads", "1", "-i", path, "-an", "-vf", filters.joined(separator: ","),
            "-frames:v", "1", "-fps_mode", "passthrough", "-sws_flags", "bilinear",
            "-pix_fmt", layout == .rgb24 ? "rgb24" : "gray", "-f", "rawvideo", "-",
        ])
        #expect(result.status == 0, "ffmpeg: \(result.stderr)")
        return [UInt8](result.stdoutData)
    }

    private func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
    }

    @Test("RGB24 and GRAY8 equal ffmpeg's within 2/255",
          arguments: [(640, 360, PixelLayout.rgb24), (224, 224, .rgb24), (97, 61, .rgb24), (64, 64, .gray8), (640, 360, .gray8)])
    func fullFrame(width: Int, height: Int, layout: PixelLayout) throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let index = 40
        let decoded = try #require(try frame(index, of: path))
        let ours = try FrameScaler().convert(decoded, to: layout, width: width, height: height)
        let theirs = try ffmpegPixels(path, index: index, width: width, height: height, layout: layout)
        #expect(ours.bytes.count == width * height * layout.channels)
        #expect(theirs.count == ours.bytes.count)
        #expect(maxDifference(ours.bytes, theirs) <= 2)
        // The comparison can fail: a different frame of the same video does not pass it.
        let other = try ffmpegPixels(path, index: index - 30, width: width, height: height, layout: layout)
        #expect(maxDifference(ours.bytes, other) > 2)
    }

    @Test("a crop equals ffmpeg's crop filter followed by the same scale",
          arguments: [PixelRect(x: 200, y: 40, width: 180, height: 200), PixelRect(x: 301, y: 77, width: 121, height: 93)])
    func crop(rect: PixelRect) throws {
        guard let path = Samples.path("WolfgangLanger_Pexels.mp4") else { return }
        let index = 100
        let decoded = try #require(try frame(index, of: path))
        let scaler = FrameScaler()
        for (width, height, layout) in [(64, 64, PixelLayout.gray8), (112, 112, .rgb24)] {
            let ours = try scaler.convert(decoded, to: layout, width: width, height: height, crop: rect)
            // yuv420p: the origin snaps to even (as the crop filter's does), the size stays.
            #expect(ours.source == PixelRect(x: rect.x & ~1, y: rect.y & ~1, width: rect.width, height: rect.height))
            let theirs = try ffmpegPixels(path, index: index, width: width, height: height, layout: layout,
                                          crop: ours.source)
            #expect(maxDifference(ours.bytes, theirs) <= 2, "\(width)x\(height) \(layout)")
        }
    }

    @Test("a crop at its own size is the same block of the whole converted frame")
    func cropMatchesWholeFrame() throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let decoded = try #require(try frame(10, of: path))
        let scaler = FrameScaler()
        let whole = try scaler.convert(decoded, to: .rgb24, width: decoded.width, height: decoded.height)
        let rect = PixelRect(x: 120, y: 64, width: 150, height: 90)
        let part = try scaler.convert(decoded, to: .rgb24, width: rect.width, height: rect.height, crop: rect)
        // Naive twin: copy the block out of the whole-frame conversion.
        var block: [UInt8] = []
        for y in rect.y ..< rect.y + rect.height {
            let start = (y * whole.width + rect.x) * 3
            block += whole.bytes[start ..< start + rect.width * 3]
        }
        #expect(maxDifference(part.bytes, block) <= 2)
    }

    @Test("many crop sizes on one scaler stay right as its context cache evicts")
    func cacheEviction() throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let decoded = try #require(try frame(5, of: path))
        let small = FrameScaler(cacheCapacity: 2)
        let rects = (0 ..< 5).map { PixelRect(x: 20 * $0, y: 10 * $0, width: 100 + 10 * $0, height: 80 + 6 * $0) }
        for _ in 0 ..< 2 {
            for rect in rects {
                let cached = try small.convert(decoded, to: .rgb24, width: 48, height: 48, crop: rect)
                let fresh = try FrameScaler().convert(decoded, to: .rgb24, width: 48, height: 48, crop: rect)
                #expect(cached == fresh)
            }
        }
    }

    @Test("crops outside the frame and bad sizes are errors, not crashes")
    func invalidRequests() throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let decoded = try #require(try frame(0, of: path))
        let scaler = FrameScaler()
        for rect in [PixelRect(x: -1, y: 0, width: 10, height: 10), PixelRect(x: 600, y: 0, width: 41, height: 10),
                     PixelRect(x: 0, y: 0, width: 0, height: 10), PixelRect(x: 0, y: 355, width: 10, height: 6)] {
            #expect(throws: VideoError.invalidCrop(rect, frameWidth: 640, frameHeight: 360)) {
                _ = try scaler.convert(decoded, to: .rgb24, width: 8, height: 8, crop: rect)
            }
        }
        #expect(throws: VideoError.invalidOutputSize(width: 0, height: 8)) {
            _ = try scaler.convert(decoded, to: .rgb24, width: 0, height: 8)
        }
        #expect(PixelRect(x: -5, y: 350, width: 20, height: 20).clamped(toWidth: 640, height: 360)
            == PixelRect(x: 0, y: 350, width: 15, height: 10))
    }

    @Test("a frame can be converted on another thread while the decoder moves on")
    func convertOnAnotherThread() async throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let source = try VideoSource(url: path)
        let first = try #require(try source.nextFrame())
        let expected = try FrameScaler().convert(first, to: .rgb24, width: 32, height: 32)
        let task = Task.detached { try FrameScaler().convert(first, to: .rgb24, width: 32, height: 32) }
        for _ in 0 ..< 10 { _ = try source.nextFrame() }
        #expect(try await task.value == expected)
    }
}

/// `FrameScaler.convertReduced` (the face detector's bounded frame): box averaging by an integer
/// factor, then libswscale.
@Suite("Reduced conversion")
struct ReducedConversionTests {
    @Test("the box average equals its naive twin", arguments: [1, 2, 3, 4, 5, 16])
    func boxMatchesNaive(k: Int) {
        var rng = SystemRandomNumberGenerator()
        let (w, h, stride) = (37, 11, 37 * 16 + 5)
        let src = (0..<(stride * h * k)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var out = [UInt8](repeating: 0, count: w * h)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                boxReducePlane(s.baseAddress!, stride: stride, factor: k, width: w, height: h, into: o.baseAddress!, stride: w)
            }
        }
        #expect(out == naiveBoxReducePlane(src, stride: stride, factor: k, width: w, height: h))
    }

    /// Frame 40 of the sample, stored losslessly at its size and at 3× with every pixel (luma and
    /// chroma) repeated 3×3 (ffmpeg's neighbour scaler): reducing the big one by 3 gives back the
    /// small one's planes, so its RGB must equal the small one's plain conversion exactly.
    @Test("a 3×-replicated frame reduces to the original's exact RGB")
    func replicatedFrame() throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fervid-reduced-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ extra: [String]) throws -> String {
            let out = dir.appendingPathComponent(name).path
            let r = try runTool("ffmpeg", ["-v", "error", "-nostdin", "-y", "-i", path, "-an",
                                           "-vf", (["select=eq(n\\,40)"] + extra).joined(separator: ","),
                                           "-frames:v", "1", "-pix_fmt", "yuv420p", "-c:v", "ffv1", out])
            #expect(r.status == 0, "ffmpeg: \(r.stderr)")
            return out
        }
        let small = try write("small.mkv", [])
        let big = try write("big.mkv", ["scale=iw*3:ih*3:flags=neighbor"])
        let a = try #require(try VideoSource(url: small).nextFrame())
        let b = try #require(try VideoSource(url: big).nextFrame())
        #expect(b.width == 3 * a.width && b.height == 3 * a.height)
        let scaler = FrameScaler()
        let plain = try scaler.convert(a, to: .rgb24, width: a.width, height: a.height)
        let reduced = try scaler.convertReduced(b, to: .rgb24, width: a.width, height: a.height)
        #expect(reduced.bytes == plain.bytes)
        // Not the plain conversion of the big frame (libswscale's bilinear filter): that differs.
        let scaled = try scaler.convert(b, to: .rgb24, width: a.width, height: a.height)
        #expect(scaled.bytes != plain.bytes)
        // A size with no integer factor is the plain conversion.
        #expect(try scaler.convertReduced(a, to: .rgb24, width: 400, height: 225).bytes
                == scaler.convert(a, to: .rgb24, width: 400, height: 225).bytes)
    }
}
