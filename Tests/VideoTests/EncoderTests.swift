import Foundation
import Testing
import TestSupport
import Video

/// The encoder's output read back by the ffmpeg tools: frame count, timestamps, duration and
/// streams from ffprobe, pixels from the ffmpeg CLI's decoding. Inputs' timestamps also come from
/// ffprobe, never from the code under test.
@Suite("Encoder against ffprobe and the ffmpeg CLI")
struct EncoderTests {
    /// What ffprobe says about a file.
    struct Probe {
        struct Stream {
            var type: String
            var codec: String
            var width: Int?
            var height: Int?
            var timeBase: Double?
            var duration: Double?
        }

        var streams: [Stream]
        var formatDuration: Double?
        /// Presentation times of the first video stream's frames, in seconds (decoding order of output = display order).
        var videoTimes: [Double]
        /// (start, duration) of each audio packet, seconds.
        var audioPackets: [(Double, Double)]

        var video: Stream? { streams.first { $0.type == "video" } }
        var audio: Stream? { streams.first { $0.type == "audio" } }

        init(_ path: String) throws {
            let info = try runTool("ffprobe", ["-v", "error", "-show_entries",
                                               "stream=codec_type,codec_name,width,height,time_base,duration:format=duration",
                                               "-of", "json", path])
            #expect(info.status == 0, "ffprobe: \(info.stderr)")
            let json = try JSONSerialization.jsonObject(with: info.stdoutData) as? [String: Any] ?? [:]
            func number(_ any: Any?) -> Double? { (any as? String).flatMap(Double.init) }
            func rational(_ any: Any?) -> Double? {
                let parts = ((any as? String) ?? "").split(separator: "/").compactMap { Double($0) }
                return parts.count == 2 && parts[1] != 0 ? parts[0] / parts[1] : nil
            }
            streams = ((json["streams"] as? [[String: Any]]) ?? []).map {
                Stream(type: $0["codec_type"] as? String ?? "", codec: $0["codec_name"] as? String ?? "",
                       width: $0["width"] as? Int, height: $0["height"] as? Int,
                       timeBase: rational($0["time_base"]), duration: number($0["duration"]))
            }
            formatDuration = number((json["format"] as? [String: Any])?["duration"])
            let frames = try runTool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                 "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
            videoTimes = frames.text.split(separator: "\n").compactMap {
                Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", \r")))
            }
            let packets = try runTool("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries",
                                                  "packet=pts_time,duration_time", "-of", "csv=p=0", path])
            audioPackets = packets.text.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: ",").compactMap { Double($0) }
                return fields.count >= 2 ? (fields[0], fields[1]) : nil
            }
        }
    }

    /// What was handed to the encoder.
    struct Encoded {
        var indices: [Int] = []
        /// The RGB pictures of the frames asked for, by source index.
        var pixels: [Int: [UInt8]] = [:]
        var audio: AudioCopyStatus = .notRequested
        var encoderName = ""
        var encodedSize = (0, 0)
    }

    /// Decodes `input` with `VideoSource` and re-encodes the frames `keep` selects at their own
    /// timestamps, at `size` (the source's when nil).
    func reencode(_ input: String, to output: String, keep: (Int) -> Bool = { _ in true },
                  copyAudio: Bool, size: (Int, Int)? = nil, options: VideoEncoderOptions = VideoEncoderOptions(),
                  keepPixels: Set<Int> = []) throws -> Encoded {
        let source = try VideoSource(url: input)
        let (width, height) = size ?? (source.info.width, source.info.height)
        let encoder = try VideoEncoder(path: output, width: width, height: height,
                                       frameRate: source.info.averageFrameRate, timeBase: source.info.timeBase,
                                       audioFrom: copyAudio ? input : nil, options: options)
        let scaler = FrameScaler()
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        var result = Encoded()
        while let frame = try source.nextFrame() {
            guard keep(frame.index) else { continue }
            try rgb.withUnsafeMutableBytes { buffer in
                _ = try scaler.convert(frame, to: .rgb24, width: width, height: height, into: buffer)
            }
            try rgb.withUnsafeBytes { try encoder.write(rgb: $0, pts: frame.pts) }
            result.indices.append(frame.index)
            if keepPixels.contains(frame.index) { result.pixels[frame.index] = rgb }
        }
        try encoder.finish()
        #expect(encoder.framesWritten == result.indices.count)
        #expect(encoder.adjustedTimestamps == 0)
        result.audio = encoder.audio
        result.encoderName = encoder.encoderName
        result.encodedSize = (encoder.encodedWidth, encoder.encodedHeight)
        return result
    }

    /// The input's frame times from ffprobe.
    func inputTimes(_ path: String) throws -> [Double] {
        let frames = try runTool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                             "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
        return frames.text.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", \r"))) }
    }

    /// Output frame `n` (display order) decoded by the ffmpeg CLI to RGB24, cropped to `width`×`height`.
    func decodedOutputFrame(_ path: String, n: Int, width: Int, height: Int) throws -> [UInt8] {
        let result = try runTool("ffmpeg", [
            "-v", "error", "-nostdin", "-threads", "1", "-i", path, "-an",
            "-vf", "select=eq(n\\,\(n)),crop=\(width):\(height):0:0:exact=1",
            "-frames:v", "1", "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
        ])
        #expect(result.status == 0, "ffmpeg: \(result.stderr)")
        return [UInt8](result.stdoutData)
    }

    func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        // Plain loops over buffers: a debug build's zip/reduce over 700 kB takes seconds.
        var sum = 0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                for i in 0 ..< a.count { sum += abs(Int(a[i]) - Int(b[i])) }
            }
        }
        return Double(sum) / Double(a.count)
    }

    /// Output times equal the kept input frames' times within one output tick (plus rounding).
    func expectSameTimes(_ output: Probe, _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(output.videoTimes.count == expected.count, sourceLocation: sourceLocation)
        let tick = output.video?.timeBase ?? 1
        let worst = zip(output.videoTimes, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= tick + 1e-6, "worst timestamp difference \(worst) s, tick \(tick) s", sourceLocation: sourceLocation)
    }

    @Test("every frame re-encoded: same count, timestamps, duration; audio copied; pixels within codec noise")
    func reencodeEveryFrame() throws {
        guard let input = Samples.path("single_face.mp4") else { return }
        let output = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let encoded = try reencode(input, to: output, copyAudio: true, keepPixels: [10, 40])
        #expect(encoded.encoderName == "libx264")
        #expect(encoded.audio == .copied(codec: "mp3"))

        let source = try Probe(input), result = try Probe(output)
        let times = try inputTimes(input)
        #expect(times.count == 72)
        expectSameTimes(result, times)
        #expect(result.video?.codec == "h264")
        #expect(result.video?.width == 640 && result.video?.height == 360)
        let frame = 1 / 30.0
        let inDuration = try #require(source.video?.duration), outDuration = try #require(result.video?.duration)
        #expect(abs(inDuration - outDuration) <= frame + 1e-6, "duration \(outDuration) s vs \(inDuration) s")
        // Audio: the source's codec, stopping with the video (its last packet starts before the
        // end of the last frame).
        #expect(result.audio?.codec == "mp3")
        let videoEnd = try #require(times.last) + frame
        let lastAudio = try #require(result.audioPackets.last)
        #expect(lastAudio.0 < videoEnd && lastAudio.0 + lastAudio.1 >= videoEnd - lastAudio.1)
        #expect(result.audioPackets.count == source.audioPackets.filter { $0.0 < videoEnd }.count)

        for n in [10, 40] {
            let decoded = try decodedOutputFrame(output, n: n, width: 640, height: 360)
            let mad = meanAbsoluteDifference(try #require(encoded.pixels[n]), decoded)
            #expect(mad < 3, "frame \(n): mean |diff| \(mad)")
        }
        // The comparison can fail: frame 40 of the output is not frame 10 of the input.
        let other = try decodedOutputFrame(output, n: 40, width: 640, height: 360)
        #expect(meanAbsoluteDifference(try #require(encoded.pixels[10]), other) > 3)
    }

    @Test("variable frame rate: a subset of frames keeps its own timestamps; no audio when not asked")
    func variableFrameRate() throws {
        guard let input = Samples.path("single_face.mp4") else { return }
        let output = temporaryPath(".mkv")
        defer { try? FileManager.default.removeItem(atPath: output) }
        // Every other frame, plus a few odd ones: gaps of 1 and 2 frames.
        let keep: (Int) -> Bool = { $0 % 2 == 0 || $0 % 5 == 1 }
        let encoded = try reencode(input, to: output, keep: keep, copyAudio: false, keepPixels: [31])
        #expect(encoded.audio == .notRequested)
        let times = try inputTimes(input)
        let kept = times.indices.filter(keep).map { times[$0] }
        #expect(encoded.indices == times.indices.filter(keep))
        let result = try Probe(output)
        #expect(result.streams.map(\.type) == ["video"])
        expectSameTimes(result, kept)
        let duration = try #require(result.formatDuration)
        #expect(abs(duration - (kept.last! + 1 / 30.0)) <= 1 / 30.0 + 1e-3, "duration \(duration)")
        let n = try #require(encoded.indices.firstIndex(of: 31))
        let decoded = try decodedOutputFrame(output, n: n, width: 640, height: 360)
        #expect(meanAbsoluteDifference(try #require(encoded.pixels[31]), decoded) < 3)
    }

    @Test("the first part of a file: the copied audio stops with the video")
    func audioStopsWithVideo() throws {
        guard let input = Samples.path("WolfgangLanger_Pexels.mp4") else { return }
        let output = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let encoded = try reencode(input, to: output, keep: { $0 < 30 }, copyAudio: true, size: (160, 90))
        #expect(encoded.audio == .copied(codec: "aac"))
        let times = try inputTimes(input).prefix(30)
        let result = try Probe(output)
        expectSameTimes(result, Array(times))
        let videoEnd = times.last! + 1001 / 24000.0
        let starts = result.audioPackets.map(\.0)
        #expect(starts.allSatisfy { $0 < videoEnd })
        let lastAudio = try #require(result.audioPackets.last)
        #expect(lastAudio.0 + lastAudio.1 >= videoEnd, "audio ends at \(lastAudio.0 + lastAudio.1), video at \(videoEnd)")
    }

    @Test("odd frame sizes are padded by one repeated column and row", arguments: [(321, 180), (320, 181)])
    func oddSize(width: Int, height: Int) throws {
        guard let input = Samples.path("single_face.mp4") else { return }
        let output = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let encoded = try reencode(input, to: output, keep: { $0 < 12 }, copyAudio: false,
                                   size: (width, height), keepPixels: [5])
        let padded = ((width + 1) & ~1, (height + 1) & ~1)
        #expect(encoded.encodedSize == padded)
        let result = try Probe(output)
        #expect(result.video?.width == padded.0 && result.video?.height == padded.1)
        #expect(result.videoTimes.count == 12)
        let decoded = try decodedOutputFrame(output, n: 5, width: width, height: height)
        let mad = meanAbsoluteDifference(try #require(encoded.pixels[5]), decoded)
        #expect(mad < 3, "mean |diff| \(mad)")
        // The padding repeats the edge: the extra column and row equal their neighbours (within noise).
        let full = try decodedOutputFrame(output, n: 5, width: padded.0, height: padded.1)
        func pixel(_ x: Int, _ y: Int) -> [Int] { (0 ..< 3).map { Int(full[(y * padded.0 + x) * 3 + $0]) } }
        var worst = 0
        if padded.0 != width {
            for y in 0 ..< height { worst = max(worst, zip(pixel(width, y), pixel(width - 1, y)).map { abs($0 - $1) }.max()!) }
        }
        if padded.1 != height {
            for x in 0 ..< width { worst = max(worst, zip(pixel(x, height), pixel(x, height - 1)).map { abs($0 - $1) }.max()!) }
        }
        #expect(worst <= 24, "padding differs from the edge by \(worst)")
    }

    @Test("another encoder (MPEG-4 part 2) when asked: same frames and timestamps")
    func mpeg4() throws {
        guard let input = Samples.path("single_face.mp4") else { return }
        let output = temporaryPath(".avi")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let encoded = try reencode(input, to: output, keep: { $0 < 20 }, copyAudio: false,
                                   options: VideoEncoderOptions(encoder: "mpeg4"), keepPixels: [7])
        #expect(encoded.encoderName == "mpeg4")
        let result = try Probe(output)
        #expect(result.video?.codec == "mpeg4")
        #expect(result.videoTimes.count == 20)
        let decoded = try decodedOutputFrame(output, n: 7, width: 640, height: 360)
        #expect(meanAbsoluteDifference(try #require(encoded.pixels[7]), decoded) < 6)
    }

    /// A small input made by the ffmpeg CLI: 10 frames of `testsrc`, with the given audio arguments.
    func syntheticInput(_ suffix: String, audio: [String]) throws -> String {
        let path = temporaryPath(suffix)
        var args = ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1"]
        if !audio.isEmpty { args += ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"] + audio }
        args += ["-c:v", "mpeg4", "-shortest", path]
        let made = try runTool("ffmpeg", args)
        #expect(made.status == 0, "ffmpeg: \(made.stderr)")
        return path
    }

    @Test("audio the container cannot hold, or no audio at all: video only, and the status says which")
    func audioFallbacks() throws {
        let pcm = try syntheticInput(".mkv", audio: ["-c:a", "pcm_s16le"])
        let silent = try syntheticInput(".mkv", audio: [])
        let output = temporaryPath(".mp4")
        defer { for p in [pcm, silent, output] { try? FileManager.default.removeItem(atPath: p) } }

        let unsupported = try reencode(pcm, to: output, copyAudio: true)
        #expect(unsupported.audio == .unsupportedByContainer(codec: "pcm_s16le", container: "mp4"))
        #expect(try Probe(output).streams.map(\.type) == ["video"])
        #expect(try Probe(output).videoTimes.count == 10)

        let none = try reencode(silent, to: output, copyAudio: true)
        #expect(none.audio == .noAudioStream)
        #expect(try Probe(output).streams.map(\.type) == ["video"])

        // The same PCM audio fits in Matroska, and is copied there.
        let mkv = temporaryPath(".mkv")
        defer { try? FileManager.default.removeItem(atPath: mkv) }
        let copied = try reencode(pcm, to: mkv, copyAudio: true)
        #expect(copied.audio == .copied(codec: "pcm_s16le"))
        #expect(try Probe(mkv).audio?.codec == "pcm_s16le")
    }

    @Test("a network input is not reopened for audio; an unreadable one is reported")
    func audioSourcesNotCopied() throws {
        let output = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let live = try VideoEncoder(path: output, width: 32, height: 32, frameRate: Rational(25, 1),
                                    audioFrom: "udp://127.0.0.1:9")
        #expect(live.audio == .liveInput)
        try live.finish()
        let missing = try VideoEncoder(path: output, width: 32, height: 32, frameRate: Rational(25, 1),
                                       audioFrom: "/nonexistent/in.mp4")
        guard case let .unreadable(cause) = missing.audio else {
            Issue.record("expected .unreadable, got \(missing.audio)")
            return
        }
        #expect(cause.contains("/nonexistent/in.mp4") && cause.contains("No such file"))
    }

    @Test("bad output: missing directory, unknown extension, wrong picture size, write after finish")
    func badOutput() throws {
        let missing = "/nonexistent-fervid-dir/out.mp4"
        #expect {
            _ = try VideoEncoder(path: missing, width: 64, height: 48, frameRate: Rational(25, 1))
        } throws: { error in
            guard let error = error as? VideoError, case let .writing(path, cause) = error else { return false }
            return path == missing && cause.ffmpegCode != nil
                && "\(error)" == "cannot write \(missing): No such file or directory (avio_open)"
        }
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent-fervid-dir"))

        let unknown = temporaryPath(".notacontainer")
        #expect {
            _ = try VideoEncoder(path: unknown, width: 64, height: 48, frameRate: Rational(25, 1))
        } throws: { error in
            guard let error = error as? VideoError, case let .writing(path, cause) = error,
                  case .unknownContainer = cause else { return false }
            return path == unknown
        }

        let output = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let encoder = try VideoEncoder(path: output, width: 64, height: 48, frameRate: Rational(25, 1))
        let short = [UInt8](repeating: 0, count: 64 * 48 * 3 - 1)
        #expect(throws: VideoError.writing(path: output, cause: .frameSizeMismatch(bytes: short.count, expectedWidth: 64, expectedHeight: 48))) {
            try short.withUnsafeBytes { try encoder.write(rgb: $0, pts: 0) }
        }
        let black = [UInt8](repeating: 0, count: 64 * 48 * 3)
        try black.withUnsafeBytes { try encoder.write(rgb: $0, pts: 0) }
        try encoder.finish()
        try encoder.finish()  // a second finish does nothing
        #expect(throws: VideoError.writing(path: output, cause: .alreadyFinished)) {
            try black.withUnsafeBytes { try encoder.write(rgb: $0, pts: 0.04) }
        }
        #expect(try Probe(output).videoTimes == [0])
    }

    @Test("an encoder released without finish() still leaves a playable file; repeated timestamps move one tick")
    func finishedByDeinit() throws {
        let output = temporaryPath(".mp4")
        defer { try? FileManager.default.removeItem(atPath: output) }
        do {
            let encoder = try VideoEncoder(path: output, width: 48, height: 32, frameRate: Rational(10, 1),
                                           timeBase: Rational(1, 10))
            var image = [UInt8](repeating: 0, count: 48 * 32 * 3)
            for i in 0 ..< 8 {
                for j in image.indices { image[j] = UInt8((j + i * 16) & 0xFF) }
                // Frame 5 repeats frame 4's time: it is moved to the next tick.
                let pts = Double(i == 5 ? 4 : i) / 10
                try image.withUnsafeBytes { try encoder.write(rgb: $0, pts: pts) }
            }
            #expect(encoder.adjustedTimestamps == 1)
            #expect(encoder.framesWritten == 8)
        }
        expectSameTimes(try Probe(output), (0 ..< 8).map { Double($0) / 10 })
    }
}
