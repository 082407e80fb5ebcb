// Plain value types of the face stage. The Faces module never sees FFmpeg: it works on packed
// RGB buffers, which the Analysis module fills from decoded video frames. Rectangles
// (`FaceRect`, `PixelRect`) are the `Geometry` module's.
@_exported import Geometry

/// A packed 8-bit RGB image: `height` rows of `width × 3` bytes, no padding.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// R, G, B per pixel, row-major; `width × height × 3` bytes.
    public var pixels: [UInt8]
    /// The size of the frame this image was scaled from (its own size unless it is a scaled-down
    /// copy): a detector reports boxes in these coordinates.
    public let sourceWidth: Int
    public let sourceHeight: Int

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.init(width: width, height: height, pixels: pixels, sourceWidth: width, sourceHeight: height)
    }

    /// A scaled copy of a `sourceWidth × sourceHeight` frame (e.g. the detector's bounded-size
    /// frame, `MTCNNDetector.detectionSize`).
    public init(width: Int, height: Int, pixels: [UInt8], sourceWidth: Int, sourceHeight: Int) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)×\(height)×3")
        precondition(sourceWidth > 0 && sourceHeight > 0, "RGBImage: source size \(sourceWidth)×\(sourceHeight)")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
    }
}

/// A point in image pixels.
public struct FacePoint: Sendable, Equatable, Hashable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// One face found by a detector in one image.
public struct FaceDetection: Sendable, Equatable {
    public var rect: FaceRect
    /// Detector confidence, 0…1.
    public var score: Double
    /// Five landmarks (MTCNN: left eye, right eye, nose, left and right mouth corner); may be empty.
    public var landmarks: [FacePoint]

    public init(rect: FaceRect, score: Double, landmarks: [FacePoint] = []) {
        self.rect = rect
        self.score = score
        self.landmarks = landmarks
    }
}

/// How a face box of one frame was obtained (the timeline's `box` column).
public enum BoxSource: String, Sendable, Equatable, CaseIterable {
    /// The detector found it in this frame.
    case detected
    /// Carried from the previous frame and verified in this one (O-Net's score and refined box).
    case tracked
    /// From a boxes file (`--faces boxes:FILE`).
    case given
    /// The centred square (`--faces center`).
    case center
}

/// A face with its track id, as the face stage reports it for one frame.
public struct TrackedFace: Sendable, Equatable {
    /// Stable per person while the face stays in view; never reused within a run.
    public var id: Int
    public var rect: FaceRect
    /// The box's face score in this frame: the detector's on a detection, O-Net's verification
    /// score on a tracked frame, 1 for a centre crop or a boxes file.
    public var score: Double
    /// Five points (left eye, right eye, nose, left and right mouth corner, as seen in the image);
    /// empty when the source gives none.
    public var landmarks: [FacePoint]
    public var source: BoxSource

    public init(id: Int, rect: FaceRect, score: Double, landmarks: [FacePoint] = [], source: BoxSource = .detected) {
        self.id = id
        self.rect = rect
        self.score = score
        self.landmarks = landmarks
        self.source = source
    }
}
