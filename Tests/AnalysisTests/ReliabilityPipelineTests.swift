import Faces
import Foundation
import Testing
import TestSupport
import Timeline
import Video
@testable import Analysis

/// Boxes that are no face: wholly outside the frame, clamping to less than a pixel, absurdly
/// large coordinates; and one real box.
final class OddBoxes: FaceStage {
    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        FaceStageOutput(faces: [
            TrackedFace(id: 1, rect: FaceRect(x: -500, y: -500, width: 10, height: 10), score: 1),
            TrackedFace(id: 2, rect: FaceRect(x: 100, y: 100, width: 1e-300, height: 1e-300), score: 1),
            TrackedFace(id: 3, rect: FaceRect(x: 1e308, y: 1e308, width: 1e308, height: 1e308), score: 1),
            TrackedFace(id: 4, rect: FaceRect(x: Double(frame.width) - 1, y: 0, width: 100, height: 100), score: 1),
            TrackedFace(id: 5, rect: FaceRect(x: 10, y: 10, width: 100, height: 100), score: 1),
        ])
    }
    func finish() -> [Int] { [1, 2, 3, 4, 5] }
}

/// A classifier whose every output is NaN (as a model with NaN weights computes).
final class NaNClassifier: FrameClassifier, @unchecked Sendable {
    let labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    let input = ClassifierInput(width: 8, height: 8, layout: .gray8, mean: [0.5], std: [0.5], crop: .squarePlusPixels(10))
    func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]] {
        (0 ..< count).map { _ in [Float](repeating: .nan, count: 7) }
    }
}

@Suite struct NoFabricatedRowsTests {
    @Test("boxes outside the frame, tiny or absurd are no face; the real box is classified")
    func oddBoxesAreNoFace() throws {
        let source = try VideoSource(url: #require(samplePath("single_face.mp4")))
        let pipeline = AnalysisPipeline(source: source, faceStage: OddBoxes(), classifier: RecordingClassifier(),
                                        settings: PipelineSettings())
        var frames: [AnalyzedFrame] = []
        try pipeline.run { frames.append($0.frame) }
        #expect(frames.count == 72)
        #expect(frames.allSatisfy { $0.faces.map(\.faceID) == [5] }, "\(frames.first?.faces.map(\.faceID) ?? [])")
    }

    @Test("a classifier output that is not finite is never a face row")
    func nanOutputIsNoFace() throws {
        let source = try VideoSource(url: #require(samplePath("single_face.mp4")))
        let pipeline = AnalysisPipeline(source: source, faceStage: TwoFaces(), classifier: NaNClassifier(),
                                        settings: PipelineSettings())
        var frames: [AnalyzedFrame] = []
        try pipeline.run { frames.append($0.frame) }
        #expect(frames.count == 72)
        #expect(frames.allSatisfy { $0.faces.isEmpty })
        #expect(pipeline.stats.nonFiniteOutputs == 2 * 72)
    }
}

@Suite struct RunOutcomeTests {
    @Test("how a run ended → status, reason")
    func outcomes() {
        var clean = DecodeStats()
        clean.framesDecoded = 10
        #expect(RunOutcome.of(endReason: .endOfInput, decode: clean, stopped: nil, maxDecodeErrors: 0) == .complete)
        #expect(RunOutcome.of(endReason: nil, decode: clean, stopped: nil, maxDecodeErrors: 0) == .complete)
        let truncated = RunOutcome.of(endReason: .readError(.truncated(present: 3, indexed: 9)), decode: clean, stopped: nil,
                                      maxDecodeErrors: 0)
        #expect(truncated.status == .partial && truncated.reason == .truncated)
        #expect(truncated.detail?.contains("3 of the 9") == true, "\(truncated.detail ?? "")")
        let readError = RunOutcome.of(endReason: .readError(.timedOut(call: "av_read_frame", seconds: 2)), decode: clean,
                                      stopped: nil, maxDecodeErrors: 0)
        #expect(readError.status == .partial && readError.reason == .readError)
        // A live stream's end is its going away: complete, how it ended in the detail.
        let ended = RunOutcome.of(endReason: .disconnected, decode: clean, stopped: nil, maxDecodeErrors: 0)
        #expect(ended.status == .complete && ended.reason == nil && ended.detail?.contains("live stream ended") == true)
        #expect(RunOutcome.of(endReason: .interrupted, decode: clean, stopped: nil, maxDecodeErrors: 0).reason == .interrupted)
        let stopped = RunOutcome.of(endReason: .endOfInput, decode: clean, stopped: "stopped by SIGTERM", maxDecodeErrors: 0)
        #expect(stopped == RunOutcome(status: .partial, reason: .interrupted, detail: "stopped by SIGTERM"))
        var damaged = clean
        damaged.corruptPackets = 2
        damaged.corruptFrames = 1
        let decodeErrors = RunOutcome.of(endReason: .endOfInput, decode: damaged, stopped: nil, maxDecodeErrors: 0)
        #expect(decodeErrors.status == .partial && decodeErrors.reason == .decodeErrors)
        #expect(RunOutcome.of(endReason: .endOfInput, decode: damaged, stopped: nil, maxDecodeErrors: 3) == .complete)
    }
}
