import Foundation

/// A stretch of one track's timeline with one smoothed label.
public struct TimelineSegment: Codable, Sendable, Equatable {
    /// Seconds (timestamp of the segment's first frame).
    public var start: Double
    /// Seconds (start of the next segment, or the end of the track's last frame).
    public var end: Double
    /// The smoothed label, or nil where the track is absent (the face was not found).
    public var label: EmotionClass?

    public init(start: Double, end: Double, label: EmotionClass?) {
        self.start = start
        self.end = end
        self.label = label
    }
}

/// One face track's summary.
public struct TrackSummary: Codable, Sendable, Equatable {
    public var faceID: Int
    /// Frames with this face.
    public var frames: Int
    /// Start of the track's first frame, seconds.
    public var start: Double
    /// End of the track's last frame, seconds.
    public var end: Double
    /// Per class, the share of the track's frames whose smoothed label is that class (sums to 1).
    public var shares: [EmotionClass: Double]
    /// Per class, the mean smoothed probability over the track's frames.
    public var meanProbabilities: [EmotionClass: Double]
    /// The class with the largest share (first in column order on ties).
    public var dominant: EmotionClass
    /// Segments of the smoothed label; together they cover `start..<end` without gaps or overlaps.
    public var segments: [TimelineSegment]
    /// Times the smoothed label differs from the one of the track's previous row.
    public var labelChanges: Int
    /// The same for the raw (unsmoothed) label; nil unless every row carried raw probabilities.
    public var rawLabelChanges: Int?

    /// ``labelChanges`` per minute of the track's timeline (0 for an instant track).
    public var labelChangesPerMinute: Double { Self.perMinute(labelChanges, end - start) }
    /// ``rawLabelChanges`` per minute of the track's timeline.
    public var rawLabelChangesPerMinute: Double? { rawLabelChanges.map { Self.perMinute($0, end - start) } }

    private static func perMinute(_ n: Int, _ seconds: Double) -> Double { seconds > 0 ? Double(n) / seconds * 60 : 0 }

    enum CodingKeys: String, CodingKey {
        case faceID = "face_id", frames, start, end, shares, meanProbabilities = "mean_probabilities", dominant, segments
        case labelChanges = "label_changes", rawLabelChanges = "raw_label_changes"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        faceID = try c.decode(Int.self, forKey: .faceID)
        frames = try c.decode(Int.self, forKey: .frames)
        start = try c.decode(Double.self, forKey: .start)
        end = try c.decode(Double.self, forKey: .end)
        shares = try Self.classMap(c.decode([String: Double].self, forKey: .shares))
        meanProbabilities = try Self.classMap(c.decode([String: Double].self, forKey: .meanProbabilities))
        dominant = try c.decode(EmotionClass.self, forKey: .dominant)
        segments = try c.decode([TimelineSegment].self, forKey: .segments)
        labelChanges = try c.decode(Int.self, forKey: .labelChanges)
        rawLabelChanges = try c.decodeIfPresent(Int.self, forKey: .rawLabelChanges)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(faceID, forKey: .faceID)
        try c.encode(frames, forKey: .frames)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
        try c.encode(Dictionary(uniqueKeysWithValues: shares.map { ($0.key.rawValue, $0.value) }), forKey: .shares)
        try c.encode(Dictionary(uniqueKeysWithValues: meanProbabilities.map { ($0.key.rawValue, $0.value) }),
                     forKey: .meanProbabilities)
        try c.encode(dominant, forKey: .dominant)
        try c.encode(segments, forKey: .segments)
        try c.encode(labelChanges, forKey: .labelChanges)
        try c.encodeIfPresent(rawLabelChanges, forKey: .rawLabelChanges)
    }

    private static func classMap(_ d: [String: Double]) throws -> [EmotionClass: Double] {
        var out: [EmotionClass: Double] = [:]
        for (k, v) in d {
            guard let c = EmotionClass(rawValue: k) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown class '\(k)'"))
            }
            out[c] = v
        }
        return out
    }

    init(faceID: Int, frames: Int, start: Double, end: Double, shares: [EmotionClass: Double],
         meanProbabilities: [EmotionClass: Double], dominant: EmotionClass, segments: [TimelineSegment],
         labelChanges: Int, rawLabelChanges: Int?) {
        self.faceID = faceID
        self.frames = frames
        self.start = start
        self.end = end
        self.shares = shares
        self.meanProbabilities = meanProbabilities
        self.dominant = dominant
        self.segments = segments
        self.labelChanges = labelChanges
        self.rawLabelChanges = rawLabelChanges
    }
}

/// What a run found: per track the share of each emotion, the dominant one and the segments of
/// the smoothed label, and the share of frames with no face. Build it with ``TimelineSummaryBuilder``.
public struct TimelineSummary: Codable, Sendable, Equatable {
    /// Analyzed frames.
    public var frames: Int
    /// Frames in which no face was found.
    public var framesWithoutFace: Int
    /// `framesWithoutFace / frames` (0 when there are no frames).
    public var noFaceShare: Double
    /// Timestamp of the first frame, seconds.
    public var start: Double
    /// End of the last frame (its timestamp plus the frame interval before it), seconds.
    public var end: Double
    /// Tracks by face id.
    public var tracks: [TrackSummary]
    /// `fervid_output: "summary"`, the marker by which fervid recognises a summary it wrote
    /// (``OutputSafety/foreignContent(at:kind:containerComment:)``); nil in summaries from before it.
    public var fervidOutput: String? = TimelineSummary.marker

    /// The value of the `fervid_output` key of every summary fervid writes.
    public static let marker = "summary"

    enum CodingKeys: String, CodingKey {
        case frames, framesWithoutFace = "frames_without_face", noFaceShare = "no_face_share", start, end, tracks
        case fervidOutput = "fervid_output"
    }

    /// Rows with a face (the sidecar's `faces`).
    public var faceRows: Int { tracks.reduce(0) { $0 + $1.frames } }

    /// Pretty-printed JSON with sorted keys (`--summary PATH`).
    public func jsonData() throws(TimelineError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { return try encoder.encode(self) + Data("\n".utf8) } catch {
            throw .io(path: "summary", reason: "cannot encode: \(error)")
        }
    }

    /// Writes ``jsonData()`` to `path` atomically.
    public func write(to path: String) throws(TimelineError) {
        try writeAtomically(jsonData(), to: path)
    }

    /// The printed summary: a few lines per track.
    public var text: String {
        func pct(_ v: Double) -> String { FixedPoint.format(v * 100, decimals: 1) + "%" }
        func time(_ t: Double) -> String { ClockText.format(t, decimals: 1) }
        var s = "\(frames) frames, \(time(start))–\(time(end)); no face in \(framesWithoutFace) (\(pct(noFaceShare)))\n"
        if tracks.isEmpty { s += "no face tracks\n" }
        for track in tracks {
            s += "face \(track.faceID): \(track.frames) frames, \(time(track.start))–\(time(track.end)), "
            s += "mostly \(track.dominant.rawValue) (\(pct(track.shares[track.dominant] ?? 0)))\n  "
            s += EmotionClass.allCases.map { "\($0.rawValue) \(pct(track.shares[$0] ?? 0))" }.joined(separator: "  ")
            s += "\n  label changes per minute: \(FixedPoint.format(track.labelChangesPerMinute, decimals: 1))"
            if let raw = track.rawLabelChangesPerMinute { s += " (raw \(FixedPoint.format(raw, decimals: 1)))" }
            let labelled = track.segments.filter { $0.label != nil }
            s += "\n  \(labelled.count) segments"
            let shown = labelled.prefix(12)
            if !shown.isEmpty {
                s += ": " + shown.map { "\(time($0.start))–\(time($0.end)) \($0.label!.rawValue)" }.joined(separator: ", ")
                if labelled.count > shown.count { s += ", …" }
            }
            s += "\n"
        }
        return s
    }
}

/// Accumulates rows (in frame order, as written) into a ``TimelineSummary``.
///
/// Memory is constant per track plus one entry per label change. A frame lasts from its
/// timestamp to the next analyzed frame's; the last frame lasts as long as the interval before it.
public struct TimelineSummaryBuilder: Sendable {
    private struct Run: Sendable {
        var label: EmotionClass?
        var start: Double
    }

    private struct Track: Sendable {
        var runs: [Run] = []
        var frames = 0
        var counts = [Int](repeating: 0, count: EmotionClass.count)
        var probabilitySums = [Double](repeating: 0, count: EmotionClass.count)
        /// Ordinal (among analyzed frames) of the last frame with this face.
        var lastOrdinal = -1
        /// End of the last frame with this face; nil while that frame is the current one.
        var lastEnd: Double?
        var lastLabel: EmotionClass?
        var lastRawLabel: Int?
        var labelChanges = 0
        var rawLabelChanges = 0
        var allRaw = true
    }

    private var tracks: [Int: Track] = [:]
    private var frames = 0
    private var framesWithoutFace = 0
    private var firstTime: Double?
    /// Current frame: index, timestamp, ordinal, and the tracks seen in it.
    private var current: (frame: Int, time: Double, ordinal: Int, sawFace: Bool, ids: [Int])?
    private var lastInterval = 0.0

    public init() {}

    /// Adds rows in the order written.
    public mutating func add(_ rows: [TimelineRow]) {
        for row in rows { add(row) }
    }

    /// Adds one row; rows of one frame are consecutive.
    public mutating func add(_ row: TimelineRow) {
        if current == nil || current!.frame != row.frame {
            if let c = current { close(c.ids, end: row.timestamp) }
            if let c = current { lastInterval = max(0, row.timestamp - c.time) }
            let ordinal = (current?.ordinal ?? -1) + 1
            current = (row.frame, row.timestamp, ordinal, false, [])
            frames += 1
            framesWithoutFace += 1  // until a face row of this frame arrives
            if firstTime == nil { firstTime = row.timestamp }
        }
        guard let face = row.face else { return }
        if !current!.sawFace {
            current!.sawFace = true
            framesWithoutFace -= 1
        }
        let t = current!.time, ordinal = current!.ordinal
        var track = tracks[face.faceID] ?? Track()
        if track.lastOrdinal == ordinal { return }  // a face id twice in one frame counts once
        if track.lastOrdinal >= 0, track.lastOrdinal < ordinal - 1, let end = track.lastEnd {
            track.runs.append(Run(label: nil, start: end))  // absent since its last frame
        }
        let label = face.label
        if let last = track.lastLabel, last != label { track.labelChanges += 1 }
        track.lastLabel = label
        if let raw = face.rawProbabilities {
            let rawLabel = EmotionClass.argmax(raw)
            if let last = track.lastRawLabel, last != rawLabel { track.rawLabelChanges += 1 }
            track.lastRawLabel = rawLabel
        } else {
            track.allRaw = false
        }
        if track.runs.last?.label != label || track.runs.isEmpty { track.runs.append(Run(label: label, start: t)) }
        track.frames += 1
        track.counts[label.index] += 1
        for i in 0..<EmotionClass.count { track.probabilitySums[i] += face.probabilities[i] }
        track.lastOrdinal = ordinal
        track.lastEnd = nil
        tracks[face.faceID] = track
        current!.ids.append(face.faceID)
    }

    private mutating func close(_ ids: [Int], end: Double) {
        for id in ids { tracks[id]?.lastEnd = end }
    }

    /// The summary of everything added so far.
    public func summary() -> TimelineSummary {
        var copy = self
        let end: Double
        if let c = current {
            end = c.time + lastInterval
            copy.close(c.ids, end: end)
        } else {
            end = 0
        }
        var out: [TrackSummary] = []
        for (id, track) in copy.tracks.sorted(by: { $0.key < $1.key }) {
            let trackEnd = track.lastEnd ?? end
            var segments: [TimelineSegment] = []
            for (i, run) in track.runs.enumerated() {
                let segEnd = i + 1 < track.runs.count ? track.runs[i + 1].start : trackEnd
                segments.append(TimelineSegment(start: run.start, end: segEnd, label: run.label))
            }
            let n = Double(max(track.frames, 1))
            var shares: [EmotionClass: Double] = [:], means: [EmotionClass: Double] = [:]
            for c in EmotionClass.allCases {
                shares[c] = Double(track.counts[c.index]) / n
                means[c] = track.probabilitySums[c.index] / n
            }
            let dominant = EmotionClass.allCases[EmotionClass.argmax(track.counts.map(Double.init))]
            out.append(TrackSummary(faceID: id, frames: track.frames, start: track.runs.first?.start ?? 0, end: trackEnd,
                                    shares: shares, meanProbabilities: means, dominant: dominant, segments: segments,
                                    labelChanges: track.labelChanges, rawLabelChanges: track.allRaw ? track.rawLabelChanges : nil))
        }
        return TimelineSummary(frames: frames, framesWithoutFace: framesWithoutFace,
                               noFaceShare: frames > 0 ? Double(framesWithoutFace) / Double(frames) : 0,
                               start: firstTime ?? 0, end: end, tracks: out)
    }
}
