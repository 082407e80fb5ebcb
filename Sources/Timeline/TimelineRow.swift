import Foundation

/// A face box in source-frame pixels (top-left corner and size).
public struct FaceBox: Sendable, Equatable, Codable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// One face's classifier result in one frame: what the pipeline hands to ``TimelineSmoother``.
public struct FaceObservation: Sendable, Equatable {
    /// Stable track id from the face stage (`face_id`).
    public var faceID: Int
    /// Detector confidence in `0...1` (1 for a centre crop).
    public var confidence: Double
    public var box: FaceBox
    /// Classifier probabilities in ``EmotionClass`` order (see ``ClassMapping``).
    public var probabilities: [Double]

    public init(faceID: Int, confidence: Double, box: FaceBox, probabilities: [Double]) {
        self.faceID = faceID
        self.confidence = confidence
        self.box = box
        self.probabilities = probabilities
    }
}

/// One analyzed frame and its faces (none when no face was found).
public struct AnalyzedFrame: Sendable, Equatable {
    /// 0-based index of the decoded frame.
    public var frame: Int
    /// Seconds, from the frame's pts.
    public var timestamp: Double
    /// UTC wall-clock time the frame was received (live sources), else nil.
    public var wallclock: Date?
    public var faces: [FaceObservation]

    public init(frame: Int, timestamp: Double, wallclock: Date? = nil, faces: [FaceObservation]) {
        self.frame = frame
        self.timestamp = timestamp
        self.wallclock = wallclock
        self.faces = faces
    }
}

/// The emotion columns of one face row.
public struct FaceEmotion: Sendable, Equatable {
    public var faceID: Int
    public var confidence: Double
    public var box: FaceBox
    /// Smoothed probabilities in ``EmotionClass`` order, summing to 1.
    public var probabilities: [Double]
    /// Unsmoothed probabilities (the `raw_<class>` columns), when kept.
    public var rawProbabilities: [Double]?

    public init(faceID: Int, confidence: Double, box: FaceBox, probabilities: [Double], rawProbabilities: [Double]? = nil) {
        self.faceID = faceID
        self.confidence = confidence
        self.box = box
        self.probabilities = probabilities
        self.rawProbabilities = rawProbabilities
    }

    /// The smoothed label: the class with the largest smoothed probability (first on ties).
    public var label: EmotionClass { EmotionClass.allCases[EmotionClass.argmax(probabilities)] }
    /// The smoothed probability of ``label``.
    public var labelProbability: Double { probabilities[EmotionClass.argmax(probabilities)] }
}

/// One row of the timeline (CSV schema version 1): a (frame, face) pair, or a frame with no face.
public struct TimelineRow: Sendable, Equatable {
    /// 0-based index of the decoded frame.
    public var frame: Int
    /// Seconds, from the frame's pts.
    public var timestamp: Double
    /// UTC wall-clock time (live sources).
    public var wallclock: Date?
    /// The face, or nil for a frame with no face (`success=0`, empty face fields).
    public var face: FaceEmotion?
    /// Seconds from the frame's arrival to this row being written (live sources, `latency`
    /// column); set by the writer's caller just before writing.
    public var latency: Double?

    public init(frame: Int, timestamp: Double, wallclock: Date? = nil, face: FaceEmotion?) {
        self.frame = frame
        self.timestamp = timestamp
        self.wallclock = wallclock
        self.face = face
    }
}
