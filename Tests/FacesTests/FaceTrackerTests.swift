import Faces
import Foundation
import Testing

func det(_ x: Double, _ y: Double, _ s: Double = 100, score: Double = 0.99) -> FaceDetection {
    FaceDetection(rect: FaceRect(x: x, y: y, width: s, height: s), score: score)
}

@Suite struct FaceTrackerUnitTests {
    @Test func keepsIDsWhileFacesMoveAndNeverReusesThem() {
        let t = FaceTracker(iouThreshold: 0.3, maxMissDuration: 1.0)
        var u = t.update(detections: [det(0, 0), det(300, 0)], time: 0)
        #expect(u.faces.map(\.id) == [0, 1])
        u = t.update(detections: [det(310, 5), det(10, 5)], time: 0.2)    // order swapped, moved
        #expect(u.faces.map(\.id) == [0, 1])
        #expect(u.faces[0].rect.x == 10 && u.faces[1].rect.x == 310)
        u = t.coast(time: 0.3)
        #expect(u.faces.map(\.id) == [0, 1] && u.ended.isEmpty)
        // Face 1 missed: hidden, not ended, and comes back with its id within the miss time.
        u = t.update(detections: [det(12, 5)], time: 0.4)
        #expect(u.faces.map(\.id) == [0])
        u = t.update(detections: [det(14, 5), det(312, 5)], time: 1.2)
        #expect(u.faces.map(\.id) == [0, 1])
        // Face 1 gone for more than 1 s: ended; a face there later is a new person.
        u = t.update(detections: [det(14, 5)], time: 2.0)
        #expect(u.ended.isEmpty)
        u = t.update(detections: [det(14, 5)], time: 2.3)
        #expect(u.ended == [1])
        u = t.update(detections: [det(14, 5), det(312, 5)], time: 2.5)
        #expect(u.faces.map(\.id) == [0, 2])
        #expect(t.tracksCreated == 3)
        #expect(t.finish().sorted() == [0, 2])
    }

    @Test func aJumpBeyondTheIoUThresholdIsANewTrack() {
        let t = FaceTracker()
        _ = t.update(detections: [det(0, 0)], time: 0)
        let u = t.update(detections: [det(80, 0)], time: 0.1)   // IoU 20·100 / 18000 ≈ 0.11
        #expect(u.faces.map(\.id) == [1])
    }

    @Test func selectionPolicies() {
        let faces = [TrackedFace(id: 0, rect: FaceRect(x: 0, y: 0, width: 50, height: 50), score: 1),
                     TrackedFace(id: 1, rect: FaceRect(x: 280, y: 140, width: 80, height: 80), score: 1),
                     TrackedFace(id: 2, rect: FaceRect(x: 500, y: 200, width: 120, height: 120), score: 1)]
        #expect(FaceSelection.all.select(faces, imageWidth: 640, imageHeight: 360).map(\.id) == [0, 1, 2])
        #expect(FaceSelection.largest.select(faces, imageWidth: 640, imageHeight: 360).map(\.id) == [2])
        #expect(FaceSelection.central.select(faces, imageWidth: 640, imageHeight: 360).map(\.id) == [1])
        #expect(FaceSelection.largest.select([], imageWidth: 640, imageHeight: 360).isEmpty)
    }

    @Test func centerCropIsTheLargestCentredSquare() {
        #expect(CenterCrop.rect(imageWidth: 640, imageHeight: 360) == PixelRect(x: 140, y: 0, width: 360, height: 360))
        #expect(CenterCrop.rect(imageWidth: 101, imageHeight: 200) == PixelRect(x: 0, y: 49, width: 101, height: 101))
        #expect(CenterCrop.face(imageWidth: 64, imageHeight: 64).rect == FaceRect(x: 0, y: 0, width: 64, height: 64))
    }
}

/// End to end on the samples with the shipped detector at the default interval.
@Suite(.serialized) struct FaceTrackerSampleTests {
    /// One person in each: exactly one track through the whole video, face reported nearly always.
    @Test(arguments: [("WolfgangLanger_Pexels.mp4", 472, 23.976), ("single_face.mp4", 72, 30.0)])
    func oneIDThroughAOnePersonVideo(sample: String, frameCount: Int, fps: Double) throws {
        let stage = DetectingFaceTracker(detector: try MTCNNDetector(modelPath: modelPath("mtcnn")))
        var frames = 0, withFace = 0
        var ids = Set<Int>()
        try decodeFrames(sample, width: 640, height: 360) { i, image in
            let u = stage.process(time: Double(i) / fps) { image }
            frames += 1
            if !u.faces.isEmpty { withFace += 1 }
            ids.formUnion(u.faces.map(\.id))
        }
        #expect(frames == frameCount)
        #expect(stage.tracker.tracksCreated == 1, "\(sample): one person, \(stage.tracker.tracksCreated) tracks")
        #expect(ids == [0])
        #expect(withFace >= frames * 95 / 100, "\(sample): face reported in \(withFace) of \(frames) frames")
    }

    @Test func noTrackOnNoFace() throws {
        let stage = DetectingFaceTracker(detector: try MTCNNDetector(modelPath: modelPath("mtcnn")))
        var frames = 0
        try decodeFrames("no_face.mp4", width: 960, height: 540) { i, image in
            let u = stage.process(time: Double(i) / 30) { image }
            #expect(u.faces.isEmpty)
            frames += 1
        }
        #expect(frames == 95)
        #expect(stage.tracker.tracksCreated == 0)
    }
}
