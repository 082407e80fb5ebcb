/// What the tracker reports for one frame.
public struct FaceTrackerUpdate: Sendable, Equatable {
    /// Faces visible in this frame, in track-id order.
    public var faces: [TrackedFace]
    /// Tracks that ended at this frame (missed for longer than the miss time).
    public var ended: [Int]

    public init(faces: [TrackedFace], ended: [Int] = []) {
        self.faces = faces
        self.ended = ended
    }
}

/// An IoU tracker: keeps a stable id per face across frames, from detections that arrive every
/// frame or every few frames.
///
/// On a detection frame, detections are matched to live tracks greedily by descending IoU
/// (pairs under ``iouThreshold`` never match); a matched track takes the new box, an unmatched
/// detection opens a track with a fresh id (ids count up from 0 and are never reused), and an
/// unmatched track is hidden but kept alive so that the same face, found again within
/// ``maxMissDuration`` seconds, gets its id back. Between detection frames (``coast(time:)``)
/// visible tracks keep their last box.
public final class FaceTracker {
    /// Minimum IoU between a track's last box and a detection to be the same face.
    public let iouThreshold: Double
    /// Seconds a track may go undetected before it ends.
    public let maxMissDuration: Double

    struct Track {
        let id: Int
        var face: TrackedFace
        var lastSeen: Double
        var visible: Bool
    }
    private var tracks: [Track] = []
    private var nextID = 0

    /// 0.3 IoU and 1 s: at the default detection interval (docs/faces.md) a face moving at
    /// normal speed keeps far more than 0.3 IoU between detections, and 1 s bridges a few
    /// missed detections (a turned head, a blink of occlusion) without merging people who pass.
    public init(iouThreshold: Double = 0.3, maxMissDuration: Double = 1.0) {
        precondition(iouThreshold > 0 && iouThreshold <= 1 && maxMissDuration >= 0, "FaceTracker: bad parameters")
        self.iouThreshold = iouThreshold
        self.maxMissDuration = maxMissDuration
    }

    /// Number of ids handed out so far.
    public var tracksCreated: Int { nextID }

    /// A frame where the detector ran; `time` in seconds, non-decreasing.
    public func update(detections: [FaceDetection], time: Double) -> FaceTrackerUpdate {
        var pairs: [(iou: Double, track: Int, detection: Int)] = []
        for (t, track) in tracks.enumerated() {
            for (d, det) in detections.enumerated() {
                let v = track.face.rect.iou(det.rect)
                if v >= iouThreshold { pairs.append((v, t, d)) }
            }
        }
        pairs.sort { $0.iou != $1.iou ? $0.iou > $1.iou : ($0.track, $0.detection) < ($1.track, $1.detection) }
        var trackUsed = [Bool](repeating: false, count: tracks.count)
        var detUsed = [Bool](repeating: false, count: detections.count)
        for p in pairs where !trackUsed[p.track] && !detUsed[p.detection] {
            trackUsed[p.track] = true
            detUsed[p.detection] = true
            let det = detections[p.detection]
            tracks[p.track].face = TrackedFace(id: tracks[p.track].id, rect: det.rect, score: det.score, landmarks: det.landmarks)
            tracks[p.track].lastSeen = time
            tracks[p.track].visible = true
        }
        for t in tracks.indices where !trackUsed[t] { tracks[t].visible = false }
        for (d, det) in detections.enumerated() where !detUsed[d] {
            let id = nextID
            nextID += 1
            tracks.append(Track(id: id, face: TrackedFace(id: id, rect: det.rect, score: det.score, landmarks: det.landmarks),
                                lastSeen: time, visible: true))
        }
        return report(time: time)
    }

    /// A frame where the detector did not run: visible tracks keep their last box.
    public func coast(time: Double) -> FaceTrackerUpdate {
        report(time: time)
    }

    /// End of input: the ids of every track still open (then forgotten).
    public func finish() -> [Int] {
        defer { tracks.removeAll() }
        return tracks.map(\.id)
    }

    private func report(time: Double) -> FaceTrackerUpdate {
        var ended: [Int] = []
        tracks.removeAll { t in
            let expired = time - t.lastSeen > maxMissDuration
            if expired { ended.append(t.id) }
            return expired
        }
        let faces = tracks.filter(\.visible).map(\.face).sorted { $0.id < $1.id }
        return FaceTrackerUpdate(faces: faces, ended: ended)
    }
}

/// MTCNN every `detectEvery` frames plus the IoU tracker in between: the `--faces detect` stage.
public final class DetectingFaceTracker {
    public let detector: MTCNNDetector
    public let tracker: FaceTracker
    /// Run the detector on every N-th frame offered (the first one included).
    public let detectEvery: Int
    /// The default N (docs/faces.md: measured on the 640×360 sample).
    public static let defaultDetectEvery = 5
    private var frames = 0

    public init(detector: MTCNNDetector, tracker: FaceTracker = FaceTracker(), detectEvery: Int = defaultDetectEvery) {
        precondition(detectEvery >= 1, "DetectingFaceTracker: detectEvery must be ≥ 1")
        self.detector = detector
        self.tracker = tracker
        self.detectEvery = detectEvery
    }

    /// Faces of the next frame at `time` seconds. `image` is called only on detection frames.
    public func process(time: Double, image: () throws -> RGBImage) rethrows -> FaceTrackerUpdate {
        defer { frames += 1 }
        if frames % detectEvery == 0 {
            return tracker.update(detections: detector.detect(try image()), time: time)
        }
        return tracker.coast(time: time)
    }

    /// End of input: the ids of tracks still open.
    public func finish() -> [Int] { tracker.finish() }
}
