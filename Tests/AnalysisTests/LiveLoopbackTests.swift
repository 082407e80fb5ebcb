import Faces
import Foundation
import Testing
import TestSupport
import Timeline
import Video
@testable import Analysis

/// One centred face (id 0) per frame, after sleeping `delay` seconds: a face stage as slow as
/// we like, whatever the machine's load (a sleep is never shorter than asked).
final class SlowCenterStage: FaceStage {
    let delay: Double
    init(delay: Double) { self.delay = delay }
    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        if delay > 0 { usleep(UInt32(delay * 1e6)) }
        let side = Double(min(frame.width, frame.height))
        return FaceStageOutput(faces: [TrackedFace(id: 0, rect: FaceRect(x: (Double(frame.width) - side) / 2,
                                                                         y: (Double(frame.height) - side) / 2,
                                                                         width: side, height: side), score: 1)])
    }
    func finish() -> [Int] { [0] }
}

/// The pipeline on a live source whose frames arrive in bursts: 2 s of frames at once every 2 s
/// (`tools/live_server.py --burst 2`, MPEG-TS over HTTP on 127.0.0.1). Counts and structure only:
/// the face stage's speed is set by a sleep, not by the machine.
@Suite("Live back-pressure on loopback", .serialized)
struct LiveLoopbackTests {
    static let seconds = 12.0

    struct Outcome {
        var frames: [AnalyzedFrame] = []
        var stats: PipelineStats
        var expected: Int
    }

    static func runBurstSource(delay: Double, maxLag: Double) throws -> Outcome {
        let sample = try #require(samplePath("WolfgangLanger_Pexels.mp4"))
        let dir = try LiveFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expected = try LiveFixtures.segments(of: sample, seconds: seconds, fps: nil, into: dir)
        let port = freePort()
        let server = try LiveFixtures.httpServer(port: port, directory: dir, burst: 2)
        defer { server.stop() }
        let options = VideoSourceOptions(openTimeout: 20, readTimeout: 20, reconnect: .never)
        let source = try VideoSource(url: "http://127.0.0.1:\(port)/burst.ts", options: options)
        #expect(source.isLive)
        var settings = PipelineSettings()
        settings.live = true
        settings.liveSettings = LiveSettings(maxLag: maxLag)
        let pipeline = AnalysisPipeline(source: source, faceStage: SlowCenterStage(delay: delay),
                                        classifier: RecordingClassifier(), settings: settings)
        // A watchdog: a run that outlives 120 s is stopped (and then fails on its counts).
        let watchdog = DispatchWorkItem { pipeline.stop() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        defer { watchdog.cancel() }
        var outcome = Outcome(stats: PipelineStats(), expected: expected)
        try pipeline.run { outcome.frames.append($0.frame) }
        outcome.stats = pipeline.stats
        return outcome
    }

    @Test("pipeline faster than the stream: every frame of every burst analyzed, none dropped")
    func burstsAnalyzedInFull() throws {
        let run = try Self.runBurstSource(delay: 0.02, maxLag: 4)   // ≤ 50 frames/s against 24
        let live = try #require(run.stats.live)
        #expect(run.stats.framesRead == run.expected, "ffprobe counts \(run.expected) frames")
        #expect(run.frames.count == run.expected)
        #expect(run.frames.map(\.frame) == Array(0 ..< run.frames.count))
        #expect(live.framesDropped == 0 && run.stats.framesDropped == 0)
        #expect(run.frames.allSatisfy { $0.faces.map(\.faceID) == [0] })
        // The bursts really were bursts: frames spanning over half a second waited at once (a
        // steady source gives a frame or two).
        #expect(live.lagPeak >= 0.5 && live.bufferedPeak >= 12, "largest backlog \(live.bufferedPeak) frames, \(live.lagPeak) s")
        #expect(live.latency.count == run.frames.count)
        #expect(live.latency.max! <= 4 + 2, "latency \(live.latency.max!) s")
    }

    @Test("pipeline slower than the stream: drops spread evenly, lag and latency within --max-lag")
    func slowPipelineThinsEvenly() throws {
        let maxLag = 3.0
        let run = try Self.runBurstSource(delay: 0.1, maxLag: maxLag)   // ≤ 10 frames/s against 24
        let live = try #require(run.stats.live)
        #expect(run.stats.framesRead == run.expected)
        #expect(run.frames.count + live.framesDropped == run.stats.framesRead)
        #expect(live.droppedThinned > 0)
        #expect(run.frames.count < run.expected)
        #expect(run.frames.allSatisfy { $0.faces.count == 1 })
        #expect(live.lagPeak <= maxLag + 1e-9)
        // Latency: the wait is bounded by --max-lag; the analysis itself adds a sleep, a batch
        // wait and the consumer (generous slack for a loaded machine).
        #expect(live.latency.max! <= maxLag + 1.5, "latency max \(live.latency.max!) s")
        // Evenly by timestamp: after the first 4 s, no gap between analyzed frames is more than
        // 3x the median gap ("drop oldest" kept the newest 8 of every burst: gaps of 1.7 s).
        let t = run.frames.map(\.timestamp).filter { $0 > 4 }
        let gaps = zip(t, t.dropFirst()).map { $1 - $0 }.sorted()
        let median = gaps[gaps.count / 2]
        #expect(gaps.last! <= 3 * median, "largest gap \(gaps.last!) s, median \(median) s")
        #expect(live.sustainedRate.map { $0 > 2 && $0 < 24 } ?? false, "sustained \(live.sustainedRate ?? -1)")
    }
}
