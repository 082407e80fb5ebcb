import CFFmpeg
import Foundation
import Testing
import TestSupport
@testable import Video

/// Every sample decodes exactly as ffprobe says: same frame count, same timestamp on every frame.
@Suite("Sample files against ffprobe")
struct SampleDecodeTests {
    @Test("frame count and every pts equal ffprobe -show_frames", arguments: Samples.names)
    func framesMatchFFprobe(name: String) throws {
        guard let path = Samples.path(name) else { return }
        let source = try VideoSource(url: path)
        let oracle = try ProbeOracle(path: path, streamIndex: source.info.streamIndex)
        #expect(!oracle.timestamps.isEmpty, "ffprobe listed no frames for \(path)")
        let tb = Double(oracle.timeBase.num) / Double(oracle.timeBase.den)

        var count = 0
        var mismatches = 0
        while let frame = try source.nextFrame() {
            #expect(frame.index == count)
            if count < oracle.timestamps.count {
                let expected = oracle.timestamps[count]
                if frame.timestamp != expected { mismatches += 1 }
                if let ticks = expected {
                    #expect(abs(frame.pts - Double(ticks) * tb) < 1e-9, "frame \(count) pts")
                }
            }
            #expect(frame.width == oracle.width && frame.height == oracle.height)
            #expect(frame.wallclock == nil, "a file has no wall-clock times")
            count += 1
        }
        #expect(count == oracle.timestamps.count, "\(name): decoded \(count), ffprobe \(oracle.timestamps.count)")
        #expect(mismatches == 0, "\(name): \(mismatches) frames with a timestamp other than ffprobe's")
        #expect(source.endReason == .endOfInput)
        #expect(source.stats.framesDecoded == count)
        #expect(source.stats.corruptPackets == 0)
        #expect(!source.isLive)
    }

    @Test("stream facts equal ffprobe's", arguments: Samples.names)
    func infoMatchesFFprobe(name: String) throws {
        guard let path = Samples.path(name) else { return }
        let info = try VideoSource(url: path).info
        let oracle = try ProbeOracle(path: path, streamIndex: info.streamIndex)
        #expect(info.width == oracle.width)
        #expect(info.height == oracle.height)
        #expect(info.codec == oracle.codec)
        #expect(info.pixelFormat == oracle.pixelFormat)
        #expect(info.nominalFrameRate.description == oracle.nominalRate)
        #expect(info.averageFrameRate.description == oracle.averageRate)
        #expect(info.timeBase.numerator == oracle.timeBase.num && info.timeBase.denominator == oracle.timeBase.den)
        let formatDuration = try runTool("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
        let expected = Double(formatDuration.text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(abs((info.duration ?? -2) - expected) < 1e-3)
    }

    @Test("frames are released after use: the source keeps none")
    func framesAreNotRetained() throws {
        guard let path = Samples.path("WolfgangLanger_Pexels.mp4") else { return }
        let source = try VideoSource(url: path)
        weak var firstFrame: DecodedFrame?
        var count = 0
        var mostAlive = 0
        while let frame = try source.nextFrame() {
            if count == 0 { firstFrame = frame }
            mostAlive = max(mostAlive, source.framesAlive)
            count += 1
        }
        #expect(count == 472)
        #expect(firstFrame == nil, "the first frame is still alive after the loop moved on")
        #expect(mostAlive == 1, "only the frame in hand is alive while decoding")
        #expect(source.framesAlive == 0)

        // The counter is not vacuous: frames a consumer keeps are counted.
        let again = try VideoSource(url: path)
        var kept: [DecodedFrame] = []
        while kept.count < 5, let frame = try again.nextFrame() { kept.append(frame) }
        #expect(again.framesAlive == 5)
        kept.removeAll()
        #expect(again.framesAlive == 0)
    }
}

/// Inputs that are not what they claim, or not there.
@Suite("Bad input")
struct BadInputTests {
    @Test("a missing path fails with FFmpeg's no-such-file error")
    func missingPath() {
        let path = temporaryPath(".mp4")
        #expect {
            _ = try VideoSource(url: path)
        } throws: { error in
            guard let e = error as? VideoError else { return false }
            return e.ffmpegCode == fervid_averror(ENOENT) && e.description.contains("No such file or directory")
        }
    }

    @Test("a text file named .mp4 fails as invalid data")
    func textFileNamedMP4() throws {
        let path = temporaryPath(".mp4")
        try "this is not a video\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try VideoSource(url: path)
        } throws: { error in
            (error as? VideoError)?.ffmpegCode == fervid_averror_invaliddata()
        }
    }

    @Test("a file cut to 30% decodes what ffprobe decodes and reports the rest")
    func truncatedFile() throws {
        guard let sample = Samples.path("WolfgangLanger_Pexels.mp4") else { return }
        let data = try Data(contentsOf: URL(fileURLWithPath: sample))
        let path = temporaryPath(".mp4")
        try data.prefix(data.count * 3 / 10).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let source = try VideoSource(url: path)
        var count = 0
        while try source.nextFrame() != nil { count += 1 }
        let oracle = try ProbeOracle(path: path, streamIndex: source.info.streamIndex)
        #expect(count == oracle.timestamps.count, "decoded \(count), ffprobe \(oracle.timestamps.count)")
        #expect(count > 0 && count < source.info.declaredFrameCount ?? 0)
        guard case let .readError(error) = source.endReason, case let .truncated(present, indexed) = error else {
            Issue.record("end reason \(String(describing: source.endReason)) does not report the cut")
            return
        }
        #expect(indexed == source.info.declaredFrameCount)
        #expect(present == source.stats.packetsRead && present < indexed)
    }

    @Test("a file cut before its index (moov at the end) fails to open")
    func truncatedBeforeIndex() throws {
        guard let sample = Samples.path("single_face.mp4") else { return }
        let data = try Data(contentsOf: URL(fileURLWithPath: sample))
        let path = temporaryPath(".mp4")
        try data.prefix(data.count * 3 / 10).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VideoError.self) { _ = try VideoSource(url: path) }
    }

    @Test("an unsupported URL scheme names the problem")
    func unsupportedScheme() {
        #expect {
            _ = try VideoSource(url: "nosuchproto://127.0.0.1/x.mp4")
        } throws: { error in
            guard let e = error as? VideoError else { return false }
            return e.ffmpegCode == fervid_averror_protocol_not_found() && e.description.contains("unsupported URL scheme")
        }
    }

    /// An MJPEG AVI (one JPEG per packet) made from a sample, with the JPEGs of `damaged`
    /// packets zeroed from SOI to EOI: the decoder must reject exactly those packets.
    private func damagedMJPEG(damaging damaged: (Int) -> Bool) throws -> String? {
        guard let sample = Samples.path("single_face.mp4") else { return nil }
        let clean = temporaryPath(".avi")
        defer { try? FileManager.default.removeItem(atPath: clean) }
        let made = try runTool("ffmpeg", ["-v", "error", "-y", "-i", sample, "-an", "-frames:v", "20", "-s", "160x90",
                                          "-c:v", "mjpeg", "-q:v", "5", clean])
        guard made.status == 0 else {
            Issue.record("ffmpeg could not make the MJPEG file: \(made.stderr)")
            return nil
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clean)))
        // JPEG entropy data stuffs every 0xFF with 0x00, so FF D8 FF starts and FF D9 ends each picture.
        var starts: [Int] = []
        var i = 0
        while i + 2 < bytes.count {
            if bytes[i] == 0xFF && bytes[i + 1] == 0xD8 && bytes[i + 2] == 0xFF { starts.append(i) }
            i += 1
        }
        #expect(starts.count == 20)
        for (k, start) in starts.enumerated() where damaged(k) {
            var end = start + 2
            while end + 1 < bytes.count && !(bytes[end] == 0xFF && bytes[end + 1] == 0xD9) { end += 1 }
            for j in start ..< min(end + 2, bytes.count) { bytes[j] = 0 }
        }
        let path = temporaryPath(".avi")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("damaged packets are skipped and counted; the rest decode as ffprobe decodes them")
    func damagedPacketsAreSkipped() throws {
        let damaged: Set<Int> = [3, 7, 8]
        guard let path = try damagedMJPEG(damaging: { damaged.contains($0) }) else { return }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try VideoSource(url: path)
        var timestamps: [Int64?] = []
        while let frame = try source.nextFrame() { timestamps.append(frame.timestamp) }
        let oracle = try ProbeOracle(path: path, streamIndex: source.info.streamIndex)
        #expect(timestamps.count == 20 - damaged.count)
        #expect(timestamps == oracle.timestamps)
        #expect(source.stats.corruptPackets == damaged.count)
        #expect(source.endReason == .endOfInput)
    }

    @Test("a file whose every packet is damaged throws: nothing decodes")
    func nothingDecodes() throws {
        guard let path = try damagedMJPEG(damaging: { _ in true }) else { return }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try VideoSource(url: path)
        #expect {
            while try source.nextFrame() != nil {}
        } throws: { error in
            guard case .nothingDecoded = error as? VideoError else { return false }
            return true
        }
        #expect(source.stats.corruptPackets == 20)
        #expect(try source.nextFrame() == nil, "after the error the source stays ended")
    }
}
