import Faces
import Foundation
import Testing
import TestSupport
import Video
@testable import Analysis

/// The detecting face stage with its look-ahead, as the pipeline runs them (the look-ahead a few
/// frames ahead, its detection frames' buffers handed back (by the stage, or at 640×360 with the
/// crops, here at once) and reused), against the
/// same stage without look-ahead on its own (the naive twin: a fresh conversion per frame).
@Suite struct DetectionBufferTests {
    @Test func lookaheadWithReusedBuffersMatchesPlainStage() throws {
        guard let path = Samples.path("WolfgangLanger_Pexels.mp4") else { return }
        guard (try? ModelLocator.resolve(ModelLocator.detectorModel)) != nil else {
            Issue.record("the MTCNN model is missing: run `make models`")
            return
        }
        let plain = try FaceStageFactory.make(mode: .detect, select: .all)
        let staged = try FaceStageFactory.make(mode: .detect, select: .all)
        let stage = try #require(staged as? DetectingFaceStage)
        let ahead = try #require(stage.makeLookahead())
        let source = try VideoSource(url: path)
        let scaler = FrameScaler(), aheadScaler = FrameScaler(), plainScaler = FrameScaler()
        var frames: [DecodedFrame] = [], prepared: [PreparedFaceFrame] = []
        var processed = 0, detected = 0, reused = 0, offered = 0
        let lag = 5
        func base(_ bytes: [UInt8]) -> UnsafeRawPointer { bytes.withUnsafeBytes { $0.baseAddress! } }
        while processed < 60 {
            // The buffer the look-ahead should take next (the one last handed back), if any.
            let next = stage.detectionBuffers.take().map { bytes in
                defer { stage.detectionBuffers.give(bytes) }
                return base(bytes)
            }
            let decoded = try source.nextFrame()
            if let frame = decoded {
                frames.append(frame)
                let p = try ahead.prepare(frame, scaler: aheadScaler)
                let image = try #require((p as? DetectingFaceStage.Prepared)?.image)
                if let next {
                    offered += 1
                    if base(image.pixels) == next { reused += 1 }
                }
                prepared.append(p)
            }
            guard frames.count > lag || (decoded == nil && !frames.isEmpty) else { continue }
            let frame = frames.removeFirst(), p = prepared.removeFirst()
            let got = try stage.process(frame, prepared: p, scaler: scaler)
            // The sample is 640×360, the detection frame the whole frame: the stage hands it on
            // with the faces, and whoever cuts the crops from it (the pipeline's classifier
            // thread) hands its buffer back.
            #expect(got.frameRGB.map { $0.image.width == frame.width && $0.image.height == frame.height } == true)
            got.frameRGB?.release()
            let expected = try plain.process(frame, scaler: plainScaler)
            #expect(got.faces == expected.faces && got.endedTracks == expected.endedTracks
                    && got.detectorRan == expected.detectorRan, "frame \(frame.index)")
            if got.detectorRan { detected += 1 }
            processed += 1
        }
        #expect(detected >= 2)
        // Buffers went back, and each conversion after the first `lag` wrote into the one handed
        // back last (a buffer still held when taken would be copied, never shared).
        #expect(offered >= 60 - lag - 1 && reused == offered, "\(reused) of \(offered) buffers reused")
    }
}
