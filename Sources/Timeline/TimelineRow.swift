import Foundation
@_exported import Geometry

/// How a face box of one row was obtained (the `box` column).
public enum FaceBoxSource: String, Sendable, Equatable, CaseIterable, Codable {
    /// The face detector found it in this frame.
    case detected
    /// Carried from the previous frame and verified in this one.
    case tracked
    /// From a boxes file (`--faces boxes:FILE`).
    case given
    /// The centred square (`--faces center`).
    case center
}

/// A facial landmark in source-frame pixels (display orientation).
public struct Landmark: Sendable, Equatable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// One face's classifier result in one frame: what the pipeline hands to ``TimelineSmoother``.
public struct FaceObservation: Sendable, Equatable {
    /// Stable track id from the face stage (`face_id`).
    public var faceID: Int
    /// The box's face score in this frame, `0...1` (1 for a centre crop or a boxes file).
    public var confidence: Double
    public var box: FaceRect
    /// Classifier probabilities in ``EmotionClass`` order (see ``ClassMapping``).
    public var probabilities: [Double]
    public var boxSource: FaceBoxSource
    /// Five points (left eye, right eye, nose, left and right mouth corner), or none.
    public var landmarks: [Landmark]

    public init(faceID: Int, confidence: Double, box: FaceRect, probabilities: [Double],
                boxSource: FaceBoxSource = .detected, landmarks: [Landmark] = []) {
        self.faceID = faceID
        self.confidence = confidence
        self.box = box
        self.probabilities = probabilities
        self.boxSource = boxSource
        self.landmarks = landmarks
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
    public var box: FaceRect
    /// Smoothed probabilities in ``EmotionClass`` order, summing to 1.
    public var probabilities: [Double]
    /// Unsmoothed probabilities (the `raw_<class>` columns), when kept.
    public var rawProbabilities: [Double]?
    /// How the box was obtained (`box` column).
    public var boxSource: FaceBoxSource
    /// Five landmarks (`x_0…x_4, y_0…y_4`), or none.
    public var landmarks: [Landmark]

    public init(faceID: Int, confidence: Double, box: FaceRect, probabilities: [Double], rawProbabilities: [Double]? = nil,
                boxSource: FaceBoxSource = .detected, landmarks: [Landmark] = []) {
        self.faceID = faceID
        self.confidence = confidence
        self.box = box
        self.probabilities = probabilities
        self.rawProbabilities = rawProbabilities
        self.boxSource = boxSource
        self.landmarks = landmarks
    }

    /// The smoothed label: the class with the largest smoothed probability (first on ties).
    public var label: EmotionClass { EmotionClass.allCases[EmotionClass.argmax(probabilities)] }
    /// The smoothed probability of ``label``.
    public var labelProbability: Double { probabilities[EmotionClass.argmax(probabilities)] }
}

/// One row of the timeline (CSV schema version 2): a (frame, face) pair, or a frame with no face.
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
