import Foundation

/// Smooths every face track of a stream and hands back rows in input order.
///
/// The pipeline pushes each analyzed frame (in frame order) and writes whatever comes back.
/// Each track gets its own ``EmotionSmoother`` from the ``SmoothingSpec``; rows of a track whose
/// smoother holds samples back (window, HMM fixed-lag) wait, and so do all rows after them, so
/// output is always in input order, delayed by at most the smoother's lookahead in stream time.
///
/// A track's smoother resets when the track ends: when the pipeline calls ``endTrack(_:)``, or
/// when the track has not been seen for ``trackIdleTimeout`` seconds of stream time (so state
/// stays bounded on endless streams even when the face stage never reports track ends).
/// ```swift
/// var smoother = try TimelineSmoother(spec: .ema(tau: 0.5), live: false)
/// for frame in frames { try writer.write(smoother.push(frame)) }
/// try writer.write(smoother.finish())
/// ```
public struct TimelineSmoother: Sendable {
    public let spec: SmoothingSpec
    public let live: Bool
    /// Stream seconds without a sample after which a track is ended.
    public let trackIdleTimeout: Double
    /// Most stream time by which a row can be held back (the smoother's lookahead), seconds.
    public let lookahead: Double

    private struct Track: Sendable {
        var smoother: any EmotionSmoother
        /// Sequence numbers of this track's rows still waiting for a smoothed value, oldest first.
        var waiting: [Int] = []
        var lastSeen: Double
    }

    private var tracks: [Int: Track] = [:]
    /// Rows not yet returned; `pending[i]` has sequence number `base + i`.
    private var pending: [(row: TimelineRow, ready: Bool)] = []
    private var base = 0

    /// - Throws: ``TimelineError/smoothingNeedsLookahead(_:)`` for `window` on a live source.
    public init(spec: SmoothingSpec, live: Bool, trackIdleTimeout: Double = 10) throws(TimelineError) {
        lookahead = try spec.makeSmoother(live: live).lookahead  // validates once, before any frame
        self.spec = spec
        self.live = live
        self.trackIdleTimeout = trackIdleTimeout
    }

    /// Adds one analyzed frame; returns the rows that are final, in input order.
    public mutating func push(_ frame: AnalyzedFrame) -> [TimelineRow] {
        let t = frame.timestamp
        if frame.faces.isEmpty {
            append(TimelineRow(frame: frame.frame, timestamp: t, wallclock: frame.wallclock, face: nil), ready: true)
        }
        var seen = Set<Int>()
        for face in frame.faces {
            seen.insert(face.faceID)
            let seq = append(TimelineRow(frame: frame.frame, timestamp: t, wallclock: frame.wallclock,
                                         face: FaceEmotion(faceID: face.faceID, confidence: face.confidence, box: face.box,
                                                           probabilities: face.probabilities,
                                                           rawProbabilities: face.probabilities,
                                                           boxSource: face.boxSource, landmarks: face.landmarks)),
                             ready: false)
            if tracks[face.faceID] == nil {
                // Validated in init, so this cannot throw.
                tracks[face.faceID] = Track(smoother: try! spec.makeSmoother(live: live), lastSeen: t)
            }
            tracks[face.faceID]!.waiting.append(seq)
            tracks[face.faceID]!.lastSeen = t
            let done = tracks[face.faceID]!.smoother.push(time: t, probabilities: face.probabilities)
            fill(face.faceID, with: done)
        }
        let timeout = max(trackIdleTimeout, lookahead)
        for id in Array(tracks.keys) where !seen.contains(id) {
            if t - tracks[id]!.lastSeen > timeout {
                endTrackState(id)
            } else {
                let done = tracks[id]!.smoother.advance(to: t)
                fill(id, with: done)
            }
        }
        return popReady()
    }

    /// The face stage ended a track: flush its held rows and reset its smoother.
    public mutating func endTrack(_ faceID: Int) -> [TimelineRow] {
        endTrackState(faceID)
        return popReady()
    }

    /// End of stream: every held row, in order; the smoother is empty afterwards.
    public mutating func finish() -> [TimelineRow] {
        for id in tracks.keys.sorted() { endTrackState(id) }
        return popReady()
    }

    /// Number of rows held back now.
    public var heldRows: Int { pending.count }

    private mutating func endTrackState(_ id: Int) {
        guard var track = tracks.removeValue(forKey: id) else { return }
        let done = track.smoother.finish()
        tracks[id] = track
        fill(id, with: done)
        tracks[id] = nil
    }

    @discardableResult
    private mutating func append(_ row: TimelineRow, ready: Bool) -> Int {
        pending.append((row, ready))
        return base + pending.count - 1
    }

    private mutating func fill(_ id: Int, with samples: [SmoothedSample]) {
        guard !samples.isEmpty else { return }
        precondition(samples.count <= tracks[id]!.waiting.count, "smoother returned more samples than it was given")
        for sample in samples {
            let seq = tracks[id]!.waiting.removeFirst()
            pending[seq - base].row.face!.probabilities = sample.probabilities
            pending[seq - base].ready = true
        }
    }

    private mutating func popReady() -> [TimelineRow] {
        var n = 0
        while n < pending.count, pending[n].ready { n += 1 }
        guard n > 0 else { return [] }
        let out = pending[0..<n].map(\.row)
        pending.removeFirst(n)
        base += n
        return out
    }
}
