import CNN
import Foundation
import Synchronization

/// What the tracker reports for one frame.
public struct FaceTrackerUpdate: Sendable, Equatable {
    /// Faces visible in this frame, in track-id order.
    public var faces: [TrackedFace]
    /// Tracks that ended at this frame (missed for longer than the miss time).
    public var ended: [Int]
    /// The detector ran on this frame.
    public var detected: Bool

    public init(faces: [TrackedFace], ended: [Int] = [], detected: Bool = false) {
        self.faces = faces
        self.ended = ended
        self.detected = detected
    }
}

/// An IoU tracker: keeps a stable id per face across frames, from detections that arrive every
/// frame or every few frames, and from per-frame verification of the boxes it carries.
///
/// On a detection frame, detections are matched to live tracks greedily by descending IoU
/// (pairs under ``iouThreshold`` never match); a matched track takes the new box, an unmatched
/// detection opens a track with a fresh id (ids count up from 0 and are never reused), and an
/// unmatched track that was not verified in this frame is hidden but kept alive, so that the
/// same face, found again, gets its id back. Between detection frames a visible track keeps its
/// box (``coast(time:)``) or takes the refined box of a passed verification
/// (``verify(_:threshold:time:)``); a failed verification hides it.
///
/// Expiry follows the detection schedule, not the frame rate: a hidden track ends once
/// ``missesToEnd`` detection passes in a row have missed it *and* more than ``maxMissDuration``
/// seconds have passed since it was last seen. At sparse sampling (one frame a second, the
/// detector on every frame) a face missed once is not forgotten; at full rate a face gone for
/// a second is.
public final class FaceTracker {
    /// Minimum IoU between a track's last box and a detection to be the same face.
    public let iouThreshold: Double
    /// Seconds a hidden track is kept at least.
    public let maxMissDuration: Double
    /// Detection passes in a row that must miss a hidden track before it ends.
    public let missesToEnd: Int

    struct Track {
        let id: Int
        var face: TrackedFace
        var lastSeen: Double
        var visible: Bool
        /// Detection passes in a row that missed it.
        var misses = 0
    }
    private var tracks: [Track] = []
    private var nextID = 0

    /// 0.3 IoU, 1 s and 2 passes: a face moving at normal speed keeps far more than 0.3 IoU
    /// between frames (verified boxes follow it), 1 s bridges a turned head or a blink of
    /// occlusion without merging people who pass, and two passes keep a face that the detector
    /// misses once at a sparse schedule.
    public init(iouThreshold: Double = 0.3, maxMissDuration: Double = 1.0, missesToEnd: Int = 2) {
        precondition(iouThreshold > 0 && iouThreshold <= 1 && maxMissDuration >= 0 && missesToEnd >= 1,
                     "FaceTracker: bad parameters")
        self.iouThreshold = iouThreshold
        self.maxMissDuration = maxMissDuration
        self.missesToEnd = missesToEnd
    }

    /// Number of ids handed out so far.
    public var tracksCreated: Int { nextID }

    /// The faces currently visible (their last boxes), in track-id order.
    public var visibleFaces: [TrackedFace] {
        tracks.filter(\.visible).map(\.face).sorted { $0.id < $1.id }
    }

    /// Verification of visible tracks in a new frame at `time`: `results` maps a track id to
    /// the verifier's answer for its box (``MTCNNDetector/verify(_:boxes:)``). A score at or
    /// above `threshold` moves the track to the refined box (source `tracked`); a lower one hides
    /// the track. Of two verified boxes that now overlap by more than half (both followed the
    /// same face), the younger track is hidden. Returns the ids that failed.
    @discardableResult
    public func verify(_ results: [Int: FaceDetection], threshold: Double, time: Double) -> [Int] {
        var failed: [Int] = []
        for t in tracks.indices where tracks[t].visible {
            guard let r = results[tracks[t].id] else { continue }
            if r.score >= threshold {
                tracks[t].face = TrackedFace(id: tracks[t].id, rect: r.rect, score: r.score, landmarks: r.landmarks,
                                             source: .tracked)
                tracks[t].lastSeen = time
                tracks[t].misses = 0
            } else {
                tracks[t].visible = false
                failed.append(tracks[t].id)
            }
        }
        let order = tracks.indices.filter { tracks[$0].visible }.sorted { tracks[$0].id < tracks[$1].id }
        for (k, i) in order.enumerated() where tracks[i].visible {
            for j in order[(k + 1)...] where tracks[j].visible && tracks[i].face.rect.iou(tracks[j].face.rect) > 0.5 {
                tracks[j].visible = false
            }
        }
        return failed
    }

    /// A frame where the detector ran; `time` in seconds, non-decreasing.
    public func update(detections: [FaceDetection], time: Double) -> FaceTrackerUpdate {
        var pairs: [(iou: Double, track: Int, detection: Int)] = []
        for (t, track) in tracks.enumerated() {
            for (d, det) in detections.enumerated() {
                let v = track.face.rect.iou(det.rect)
                if v >= iouThreshold { pairs.append((v, t, d)) }
            }
        }
        // Visible tracks first (their boxes are this frame's), then by IoU.
        pairs.sort { a, b in
            let va = tracks[a.track].visible, vb = tracks[b.track].visible
            if va != vb { return va }
            return a.iou != b.iou ? a.iou > b.iou : (a.track, a.detection) < (b.track, b.detection)
        }
        var trackUsed = [Bool](repeating: false, count: tracks.count)
        var detUsed = [Bool](repeating: false, count: detections.count)
        for p in pairs where !trackUsed[p.track] && !detUsed[p.detection] {
            trackUsed[p.track] = true
            detUsed[p.detection] = true
            let det = detections[p.detection]
            tracks[p.track].face = TrackedFace(id: tracks[p.track].id, rect: det.rect, score: det.score,
                                               landmarks: det.landmarks, source: .detected)
            tracks[p.track].lastSeen = time
            tracks[p.track].visible = true
            tracks[p.track].misses = 0
        }
        for t in tracks.indices where !trackUsed[t] {
            // Verified in this very frame: still there even though the detector missed it.
            if tracks[t].visible && tracks[t].lastSeen == time && tracks[t].face.source == .tracked { continue }
            tracks[t].visible = false
            tracks[t].misses += 1
        }
        for (d, det) in detections.enumerated() where !detUsed[d] {
            let id = nextID
            nextID += 1
            tracks.append(Track(id: id, face: TrackedFace(id: id, rect: det.rect, score: det.score,
                                                          landmarks: det.landmarks, source: .detected),
                                lastSeen: time, visible: true))
        }
        var u = report(time: time)
        u.detected = true
        return u
    }

    /// A frame where the detector did not run: visible tracks keep their box (or the one
    /// ``verify(_:threshold:time:)`` gave them in this frame).
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
            let expired = !t.visible && t.misses >= missesToEnd && time - t.lastSeen > maxMissDuration
            if expired { ended.append(t.id) }
            return expired
        }
        return FaceTrackerUpdate(faces: visibleFaces, ended: ended)
    }
}

/// The `--faces detect` stage: MTCNN on a schedule in stream time, O-Net verification of the
/// carried boxes on every frame, and the IoU tracker.
///
/// Per frame: (1) every visible track's box is verified with O-Net (``MTCNNDetector/verify(_:boxes:)``):
/// a face score and a refined box in this frame, or the track is hidden; (2) the full detector
/// runs when it is due (``detectInterval`` seconds of stream time since its last run; so on
/// every frame when frames are sparser than that), when a verification failed, or when the
/// frame differs abruptly from the previous one (``SceneChangeDetector``, a cut); (3) the
/// tracker matches the detections.
public final class DetectingFaceTracker {
    public let detector: MTCNNDetector
    public let tracker: FaceTracker
    /// Seconds of stream time between scheduled detections.
    public let detectInterval: Double
    /// O-Net score a carried box needs to stay a face.
    public let verifyThreshold: Double
    /// Cut detector (nil: never forces a detection).
    public let sceneChange: SceneChangeDetector?
    /// The default interval (docs/faces.md: measured on the samples).
    public static let defaultDetectInterval = 0.5
    /// The default verification threshold: O-Net's own threshold in the detector (docs/faces.md).
    public static let defaultVerifyThreshold = 0.7

    /// Counters: frames processed, detector runs, and why it ran off schedule.
    public private(set) var frames = 0
    public private(set) var detections = 0
    public private(set) var verifications = 0
    public private(set) var detectionsAfterFailedVerification = 0
    public private(set) var detectionsAfterCut = 0
    private var lastDetection: Double?

    public init(detector: MTCNNDetector, tracker: FaceTracker = FaceTracker(),
                detectInterval: Double = defaultDetectInterval, verifyThreshold: Double = defaultVerifyThreshold,
                sceneChange: SceneChangeDetector? = SceneChangeDetector()) {
        precondition(detectInterval >= 0 && detectInterval.isFinite, "DetectingFaceTracker: detectInterval must be ≥ 0 seconds")
        self.detector = detector
        self.tracker = tracker
        self.detectInterval = detectInterval
        self.verifyThreshold = verifyThreshold
        self.sceneChange = sceneChange
    }

    /// Faces of the next frame, at `time` seconds of stream time (non-decreasing).
    public func process(time: Double, image: RGBImage) -> FaceTrackerUpdate {
        process(time: time, image: image, look: nil)
    }

    /// ``process(time:image:)`` with the frame's look-ahead (``DetectionLookahead/look(time:image:)``,
    /// which saw every frame before this one): its cut test replaces this tracker's, and its
    /// detections, when it ran the detector on this frame, replace a detection here. The detector
    /// is a pure function of the image, so the update is the same as without the look-ahead; only
    /// where the detection ran differs.
    public func process(time: Double, image: RGBImage, look: DetectionLookahead.Look?) -> FaceTrackerUpdate {
        frames += 1
        let cut = look?.cut ?? (sceneChange?.isCut(image) ?? false)
        let visible = tracker.visibleFaces
        var failed = false
        if !visible.isEmpty {
            let results = detector.verify(image, boxes: visible.map(\.rect))
            verifications += visible.count
            var byID: [Int: FaceDetection] = [:]
            for (face, r) in zip(visible, results) { byID[face.id] = r }
            failed = !tracker.verify(byID, threshold: verifyThreshold, time: time).isEmpty
        }
        // A tiny slack keeps a frame exactly one interval later on schedule despite rounding.
        let due = lastDetection.map { time - $0 >= detectInterval - 1e-6 } ?? true
        guard due || failed || cut else { return tracker.coast(time: time) }
        if !due { if failed { detectionsAfterFailedVerification += 1 } else { detectionsAfterCut += 1 } }
        detections += 1
        lastDetection = time
        lookahead?.published.store(time.bitPattern, ordering: .relaxed)
        let found: [FaceDetection]
        if let ready = look?.detections {
            found = ready
            detectionsAhead += 1
        } else if let lookahead {
            found = lookahead.detect(image)  // its detector and buffers: one set of P-Net activations
        } else {
            found = detector.detect(image)
        }
        return tracker.update(detections: found, time: time)
    }

    /// Detections whose detector pass ran ahead, on the look-ahead's thread.
    public private(set) var detectionsAhead = 0
    private var lookahead: DetectionLookahead?

    /// A look-ahead for this tracker, to run on another thread over the same frames in the same
    /// order, each before this tracker's ``process(time:image:look:)`` of it. It has its own
    /// detector (sharing the loaded networks) and its own cut detector; this tracker tells it
    /// when it detected, so that its schedule follows this one's.
    public func makeLookahead() -> DetectionLookahead {
        let made = DetectionLookahead(detector: MTCNNDetector(sharing: detector), detectInterval: detectInterval,
                                      sceneChange: sceneChange.map { SceneChangeDetector(threshold: $0.threshold) })
        lookahead = made
        return made
    }

    /// End of input: the ids of tracks still open.
    public func finish() -> [Int] { tracker.finish() }
}

/// The tracker-independent part of ``DetectingFaceTracker/process(time:image:)``, run ahead on
/// another thread: the cut test (every frame, in order) and the full detector on the frames where
/// the tracker's schedule will want it, so that a detection no longer stalls the per-frame
/// verification. It replays the tracker's schedule (a detection when ``detectInterval`` has
/// passed since the last one, or at a cut) from the tracker's latest detection, which the tracker
/// tells it through ``published``: a detection the tracker made off schedule (after a failed
/// verification) re-anchors the replay over the frames looked at since. A guess that misses
/// costs time only: the tracker detects itself on a frame that has no detections ready and
/// ignores those it does not need.
///
/// One thread calls ``look(time:image:)``; the tracker writes ``published``.
public final class DetectionLookahead: @unchecked Sendable {
    /// One frame's look: its cut test, and the detector's answer when it ran.
    public struct Look: Sendable {
        public let cut: Bool
        public let detections: [FaceDetection]?
    }

    public let detector: MTCNNDetector
    let detectInterval: Double
    let sceneChange: SceneChangeDetector?
    /// The time of the tracker's latest detection (a `Double` bit pattern; NaN: none yet).
    let published = Atomic<UInt64>(Double.nan.bitPattern)
    /// The latest `published` value acted on.
    private var told = Double.nan.bitPattern
    /// The replayed schedule's last detection, as of the last frame looked at.
    private var last: Double?
    /// Frames looked at since the tracker's latest known detection: (time, cut).
    private var history: [(time: Double, cut: Bool)] = []
    /// The detector's activations, shared by the two threads that detect (this one ahead, the
    /// tracker's when a guess missed) under `lock`: one set of pyramid-sized buffers, not two.
    private let workspace = Workspace()
    private let lock = NSLock()

    init(detector: MTCNNDetector, detectInterval: Double, sceneChange: SceneChangeDetector?) {
        self.detector = detector
        self.detectInterval = detectInterval
        self.sceneChange = sceneChange
    }

    /// The tracker's rule: due when `detectInterval` has passed since `last` (a tiny slack keeps
    /// a frame exactly one interval later on schedule despite rounding).
    private func due(_ time: Double, after last: Double?) -> Bool {
        last.map { time - $0 >= detectInterval - 1e-6 } ?? true
    }

    /// The look at the next frame (at `time`, non-decreasing).
    public func look(time: Double, image: RGBImage) -> Look {
        let cut = sceneChange?.isCut(image) ?? false
        let bits = published.load(ordering: .relaxed)
        if bits != told {
            told = bits
            let anchor = Double(bitPattern: bits)
            // Replay the schedule from the tracker's latest detection over the frames since.
            history.removeAll { $0.time <= anchor }
            last = anchor
            for frame in history where frame.cut || due(frame.time, after: last) { last = frame.time }
        }
        history.append((time, cut))
        guard cut || due(time, after: last) else { return Look(cut: cut, detections: nil) }
        last = time
        return Look(cut: cut, detections: detect(image))
    }

    /// The detector on `image`, from either thread (one at a time), in the shared workspace.
    public func detect(_ image: RGBImage) -> [FaceDetection] {
        lock.withLock { Workspace.with(workspace) { detector.detect(image) } }
    }
}
