import Faces
import Foundation
import Testing
import TestSupport
import Video
@testable import Analysis

/// One `CropPreparation` cutting crops of changing sizes (its region buffer reused, grown and
/// shrunk) gives the bytes a fresh one gives for each crop: the naive twin, which allocates.
@Suite struct CropReuseTests {
    @Test func reusedRegionBufferMatchesFreshPreparation() throws {
        let source = try VideoSource(url: #require(samplePath("WolfgangLanger_Pexels.mp4")))
        let input = ClassifierInput(width: 64, height: 64, layout: .gray8, mean: [0.5], std: [0.5],
                                    crop: .squarePlusPixels(10), resize: .ferGreyBilinear)
        let reused = CropPreparation(input, scaler: FrameScaler(algorithm: .bilinear))
        // Growing, shrinking, equal, odd positions, at the frame's edges.
        let boxes: [(Double, Double, Double, Double)] = [
            (323.04, 51.04, 216.04, 292.76), (101, 33, 57, 61), (100, 30, 260, 300), (0.4, 290, 90, 80),
            (101, 33, 57, 61), (560, 0, 80, 120), (323.5, 51.5, 216, 292), (20, 20, 30, 31),
        ]
        var frames = 0
        while let frame = try source.nextFrame(), frames < boxes.count {
            let (x, y, w, h) = boxes[frames]
            frames += 1
            let face = FaceRect(x: x, y: y, width: w, height: h)
            var got = [Float](repeating: .nan, count: reused.floatsPerCrop)
            var expected = [Float](repeating: .nan, count: reused.floatsPerCrop)
            try got.withUnsafeMutableBufferPointer { try reused.prepare(frame, box: face, into: $0.baseAddress!) }
            let fresh = CropPreparation(input, scaler: FrameScaler(algorithm: .bilinear))
            try expected.withUnsafeMutableBufferPointer { try fresh.prepare(frame, box: face, into: $0.baseAddress!) }
            #expect(got == expected, "frame \(frame.index), box \(face)")
        }
        #expect(frames == boxes.count)
    }
}
