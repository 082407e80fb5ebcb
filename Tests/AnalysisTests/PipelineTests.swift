import Faces
import Models
import Foundation
import Synchronization
import Testing
import TestSupport
import Timeline
import Video
@testable import Analysis

/// Two fixed faces per frame, ids 1 and 2.
final class TwoFaces: FaceStage {
    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        FaceStageOutput(faces: [
            TrackedFace(id: 1, rect: FaceRect(x: 10, y: 10, width: 100, height: 100), score: 1),
            TrackedFace(id: 2, rect: FaceRect(x: 300, y: 100, width: 80, height: 120), score: 0.5),
        ])
    }
    func finish() -> [Int] { [1, 2] }
}

/// Records batch sizes; the "probability" of class k is the mean input value's share, so that
/// results depend on the crop (a mix-up of crops between faces would show).
final class RecordingClassifier: FrameClassifier, @unchecked Sendable {
    let labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    let input = ClassifierInput(width: 8, height: 8, layout: .gray8, mean: [0.5], std: [0.5], crop: .squarePlusPixels(0))
    var batches: [Int] = []
    func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]] {
        batches.append(count)
        return (0 ..< count).map { n in
            var mean: Float = 0
            for i in 0 ..< 64 { mean += batch[n * 64 + i] }
            mean /= 64
            let v = (mean + 1) / 2  // back to 0...1
            return [v, 1 - v, 0, 0, 0, 0, 0]
        }
    }
}

@Suite struct PipelineTests {
    @Test func resultsComeInFrameOrderWithBatchesAcrossFrames() throws {
        let source = try VideoSource(url: #require(samplePath("single_face.mp4")))
        var settings = PipelineSettings()
        settings.batchSize = 5
        let classifier = RecordingClassifier()
        let pipeline = AnalysisPipeline(source: source, faceStage: TwoFaces(), classifier: classifier, settings: settings)
        var frames: [AnalyzedFrame] = []
        try pipeline.run { frames.append($0.frame) }
        #expect(frames.count == 72)  // ffprobe: 72 frames
        #expect(frames.map(\.frame) == Array(0 ..< frames.count))
        #expect(frames.allSatisfy { $0.faces.map(\.faceID) == [1, 2] })
        // Batches of 5 crops span frames (2 faces each); every crop classified once.
        #expect(classifier.batches.reduce(0, +) == 2 * frames.count)
        #expect(classifier.batches.contains(5))
        #expect(classifier.batches.allSatisfy { $0 <= 5 })
        // Crops of the two faces differ, so their outputs do (a swap would still pass, but a
        // shared crop would not).
        #expect(frames.contains { $0.faces[0].probabilities != $0.faces[1].probabilities })
        // Timestamps strictly increase.
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.timestamp < $1.timestamp })
        let stats = pipeline.stats
        #expect(stats.framesRead == 72 && stats.framesAnalyzed == 72 && stats.framesDropped == 0)
    }

    @Test func stopEndsTheRunEarlyAndCleanly() throws {
        let source = try VideoSource(url: #require(samplePath("WolfgangLanger_Pexels.mp4")))
        let pipeline = AnalysisPipeline(source: source, faceStage: TwoFaces(), classifier: RecordingClassifier(), settings: PipelineSettings())
        var count = 0
        try pipeline.run { _ in
            count += 1
            if count == 20 { pipeline.stop() }
        }
        #expect(count >= 20)
        #expect(count < 472)
    }
}

@Suite struct FerCropTests {
    /// The pipeline's region crop (converted at the region's own resolution) equals fer's crop
    /// of the whole converted frame (`Faces.ferFaceCrop`, byte-identical to the Python
    /// reference), for boxes at odd and even positions.
    @Test(arguments: [(323.04, 51.04, 216.04, 292.76), (101.0, 33.0, 57.0, 61.0), (0.4, 290.0, 90.0, 80.0)])
    func regionCropEqualsFerCropOfTheWholeFrame(_ box: (Double, Double, Double, Double)) throws {
        let source = try VideoSource(url: #require(samplePath("WolfgangLanger_Pexels.mp4")))
        let frame = try #require(try source.nextFrame())
        let scaler = FrameScaler(algorithm: .bilinear)
        let whole = try scaler.convert(frame, to: .rgb24, width: frame.width, height: frame.height)
        let face = FaceRect(x: box.0, y: box.1, width: box.2, height: box.3)
        let expected = try #require(ferFaceCrop(RGBImage(width: whole.width, height: whole.height, pixels: whole.bytes), face: face))
        let crops = CropPreparation(ClassifierInput(width: 64, height: 64, layout: .gray8, mean: [0], std: [1],
                                                    crop: .squarePlusPixels(10), resize: .ferGreyBilinear), scaler: scaler)
        let rect = CropGeometry.squarePlusPixels(10).rect(for: face, imageWidth: frame.width, imageHeight: frame.height)
        let got = try crops.ferGreyCrop(frame, rect: rect, width: 64, height: 64)
        let differing = zip(got, expected).filter { $0 != $1 }.count
        #expect(got.count == expected.count && differing == 0, "\(differing) of \(expected.count) bytes differ")
        // Given the whole frame in RGB (the face stage's conversion), the prepared input is the
        // same floats, cut from it without converting the region again.
        let spec = crops.input
        var fromRegion = [Float](repeating: .nan, count: crops.floatsPerCrop), fromWhole = fromRegion
        try fromRegion.withUnsafeMutableBufferPointer { try crops.prepare(frame, box: face, into: $0.baseAddress!) }
        let rgb = RGBImage(width: whole.width, height: whole.height, pixels: whole.bytes)
        try fromWhole.withUnsafeMutableBufferPointer { try crops.prepare(frame, box: face, into: $0.baseAddress!, rgb: rgb) }
        #expect(fromWhole == fromRegion)
        #expect(fromWhole == expected.map { (Float($0) * (1 / (255 * spec.std[0])) + (-spec.mean[0] / spec.std[0])) })
    }
}
