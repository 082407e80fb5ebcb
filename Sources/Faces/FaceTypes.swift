// Plain value types of the face stage. The Faces module never sees FFmpeg: it works on packed
// RGB buffers, which the Analysis module fills from decoded video frames.

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

/// An axis-aligned rectangle in image pixels (x, y = top-left corner).
public struct FaceRect: Sendable, Equatable, Hashable {
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

    /// From corners (x1, y1) top-left and (x2, y2) bottom-right.
    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.init(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
    }

    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
    public var area: Double { max(width, 0) * max(height, 0) }
    public var centerX: Double { x + width / 2 }
    public var centerY: Double { y + height / 2 }

    /// Intersection over union (0 when either is empty).
    public func iou(_ o: FaceRect) -> Double {
        let iw = min(maxX, o.maxX) - max(x, o.x), ih = min(maxY, o.maxY) - max(y, o.y)
        guard iw > 0, ih > 0 else { return 0 }
        let inter = iw * ih
        let union = area + o.area - inter
        return union > 0 ? inter / union : 0
    }

    /// Integer (x, y, width, height), each rounded to the nearest pixel: the integer box that
    /// crop geometries (e.g. fer's) start from.
    public var integral: PixelRect {
        PixelRect(x: Int(x.rounded()), y: Int(y.rounded()), width: Int(width.rounded()), height: Int(height.rounded()))
    }
}

/// An integer rectangle in image pixels.
public struct PixelRect: Sendable, Equatable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
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
