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

    /// At one frame a second the detector runs on every frame; a single miss must not end the
    /// track (the old fixed 1 s expiry did, giving the person a new id), two misses do.
    @Test func expiryFollowsTheDetectionScheduleNotTheClock() {
        let t = FaceTracker(iouThreshold: 0.3, maxMissDuration: 1.0, missesToEnd: 2)
        #expect(t.update(detections: [det(0, 0)], time: 0).faces.map(\.id) == [0])
        var u = t.update(detections: [], time: 1)          // missed once, 1 s later
        #expect(u.faces.isEmpty && u.ended.isEmpty)
        u = t.update(detections: [det(5, 0)], time: 2)     // 2 s since last seen: same person
        #expect(u.faces.map(\.id) == [0] && u.ended.isEmpty)
        u = t.update(detections: [], time: 3)
        #expect(u.ended.isEmpty)
        u = t.update(detections: [], time: 4)              // second miss in a row, > 1 s: ends
        #expect(u.ended == [0])
        #expect(t.update(detections: [det(5, 0)], time: 5).faces.map(\.id) == [1])
        // At full rate two quick misses within the miss time do not end it either.
        let r = FaceTracker()
        _ = r.update(detections: [det(0, 0)], time: 0)
        #expect(r.update(detections: [], time: 0.04).ended.isEmpty)
        #expect(r.update(detections: [], time: 0.08).ended.isEmpty)
        #expect(r.coast(time: 0.9).ended.isEmpty)
        #expect(r.update(detections: [], time: 1.1).ended == [0])
    }

    @Test func verificationMovesPassedBoxesAndHidesFailedOnes() {
        let t = FaceTracker()
        _ = t.update(detections: [det(0, 0), det(300, 0)], time: 0)
        let failed = t.verify([0: det(4, 2, score: 0.95), 1: det(300, 0, score: 0.2)], threshold: 0.7, time: 0.04)
        #expect(failed == [1])
        let u = t.coast(time: 0.04)
        #expect(u.faces.count == 1)
        #expect(u.faces[0] == TrackedFace(id: 0, rect: FaceRect(x: 4, y: 2, width: 100, height: 100), score: 0.95,
                                          source: .tracked))
        // A detection pass that misses a face verified in the same frame keeps it (tracked);
        // the failed one is matched again and gets its id back.
        let v = t.update(detections: [det(302, 0)], time: 0.04)
        #expect(v.faces.map(\.id) == [0, 1])
        #expect(v.faces.map(\.source) == [.tracked, .detected])
        #expect(v.detected)
        // Two verified boxes that converged on one face: the younger track is hidden.
        t.verify([0: det(100, 0, score: 0.9), 1: det(110, 0, score: 0.9)], threshold: 0.7, time: 0.08)
        #expect(t.visibleFaces.map(\.id) == [0])
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
            let u = stage.process(time: Double(i) / fps, image: image)
            frames += 1
            if !u.faces.isEmpty { withFace += 1 }
            ids.formUnion(u.faces.map(\.id))
        }
        #expect(frames == frameCount)
        #expect(stage.tracker.tracksCreated == 1, "\(sample): one person, \(stage.tracker.tracksCreated) tracks")
        #expect(ids == [0])
        #expect(withFace >= frames * 95 / 100, "\(sample): face reported in \(withFace) of \(frames) frames")
    }

    /// The look-ahead (cut test and scheduled detections run ahead, here 6 frames ahead of the
    /// tracker, as the pipeline's queue lets it) changes no update: same faces, boxes, scores,
    /// ended tracks and detection frames as the tracker alone, including after a verification
    /// that fails (the face masked for a few frames: an off-schedule detection the look-ahead
    /// did not foresee, which moves its schedule).
    @Test func lookaheadChangesNoUpdate() throws {
        var frames: [RGBImage] = []
        try decodeFrames("single_face.mp4", width: 640, height: 360) { _, image in frames.append(image) }
        // Mask the face (where a first pass finds it at frame 32) in frames 33…43 (detections are
        // due at frames 0, 15, 30, …: 33 is off schedule).
        let probe = DetectingFaceTracker(detector: try MTCNNDetector(modelPath: modelPath("mtcnn")))
        var box = FaceRect(x: 0, y: 0, width: 1, height: 1)
        for i in 0..<33 { if let f = probe.process(time: Double(i) / 30, image: frames[i]).faces.first { box = f.rect } }
        for i in 33...43 {
            var px = frames[i].pixels
            for y in max(0, Int(box.y) - 10)..<min(360, Int(box.maxY) + 10) {
                for x in max(0, Int(box.x) - 10)..<min(640, Int(box.maxX) + 10) {
                    for c in 0..<3 { px[(y * 640 + x) * 3 + c] = 128 }
                }
            }
            frames[i] = RGBImage(width: 640, height: 360, pixels: px)
        }
        let alone = DetectingFaceTracker(detector: try MTCNNDetector(modelPath: modelPath("mtcnn")))
        let expected = frames.enumerated().map { alone.process(time: Double($0) / 30, image: $1) }
        #expect(alone.detectionsAfterFailedVerification > 0,
                "the masked frames must fail a verification (box \(box), cuts \(alone.detectionsAfterCut), detections \(alone.detections))")

        let tracker = DetectingFaceTracker(detector: try MTCNNDetector(modelPath: modelPath("mtcnn")))
        let ahead = tracker.makeLookahead()
        var looks: [DetectionLookahead.Look] = []
        var got: [FaceTrackerUpdate] = []
        let lag = 6
        for i in 0..<(frames.count + lag) {
            if i < frames.count { looks.append(ahead.look(time: Double(i) / 30, image: frames[i])) }
            let t = i - lag
            if t >= 0 { got.append(tracker.process(time: Double(t) / 30, image: frames[t], look: looks[t])) }
        }
        #expect(got == expected)
        #expect(tracker.detections == alone.detections)
        #expect(tracker.detectionsAhead > 0 && tracker.detectionsAhead < tracker.detections,
                "\(tracker.detectionsAhead) of \(tracker.detections) detections ran ahead")
    }

    @Test func noTrackOnNoFace() throws {
        let stage = DetectingFaceTracker(detector: try MTCNNDetector(modelPath: modelPath("mtcnn")))
        var frames = 0
        try decodeFrames("no_face.mp4", width: 960, height: 540) { i, image in
            let u = stage.process(time: Double(i) / 30, image: image)
            #expect(u.faces.isEmpty)
            frames += 1
        }
        #expect(frames == 95)
        #expect(stage.tracker.tracksCreated == 0)
    }
}

@Suite struct SceneChangeTests {
    func image(_ w: Int, _ h: Int, _ pixel: (Int, Int) -> (UInt8, UInt8, UInt8)) -> RGBImage {
        var p: [UInt8] = []
        for y in 0..<h { for x in 0..<w { let (r, g, b) = pixel(x, y); p += [r, g, b] } }
        return RGBImage(width: w, height: h, pixels: p)
    }

    @Test func histogramChangeByConstruction() {
        let black = image(128, 72) { _, _ in (0, 0, 0) }
        let white = image(128, 72) { _, _ in (255, 255, 255) }
        // Left half black, right half white; then the same picture moved by 8 pixels.
        let split = image(128, 72) { x, _ in x < 64 ? (0, 0, 0) : (255, 255, 255) }
        let moved = image(128, 72) { x, _ in x < 72 ? (0, 0, 0) : (255, 255, 255) }
        #expect(SceneChangeDetector.change(SceneChangeDetector.signature(black), SceneChangeDetector.signature(white)) == 1)
        #expect(SceneChangeDetector.change(SceneChangeDetector.signature(black), SceneChangeDetector.signature(split)) == 0.5)
        // 8 of 128 columns changed colour: 1/16 of the samples move between two bins.
        #expect(abs(SceneChangeDetector.change(SceneChangeDetector.signature(split), SceneChangeDetector.signature(moved)) - 0.0625) < 1e-9)
        let d = SceneChangeDetector(threshold: 0.35)
        #expect(!d.isCut(split))        // first frame: nothing to compare with
        #expect(!d.isCut(moved))
        #expect(d.isCut(white))         // 1/2 + 1/16 of the samples changed
        #expect(!d.isCut(white))
    }
}
