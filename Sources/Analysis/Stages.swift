import Foundation
import Faces
import Models
import Timeline
import Video

/// What the face stage reports for one frame.
public struct FaceStageOutput: Sendable {
    public var faces: [TrackedFace]
    /// Tracks that ended at this frame (their smoothers reset).
    public var endedTracks: [Int]
    /// The face detector ran on this frame (`--faces detect`).
    public var detectorRan: Bool
    /// ... and its pass had run ahead, on the look-ahead's thread.
    public var detectorRanAhead = false
    /// The whole frame as RGB bytes at its own size, when the stage converted it anyway (the
    /// detection frame of a frame no larger than the detector's bound): the classifier's crops
    /// may be cut from it instead of converting their regions again.
    public var frameRGB: FrameRGB?

    public init(faces: [TrackedFace], endedTracks: [Int] = [], detectorRan: Bool = false) {
        self.faces = faces
        self.endedTracks = endedTracks
        self.detectorRan = detectorRan
    }
}

/// A frame's RGB conversion handed from the face stage to the crops: `release()` once no longer
/// read gives its bytes back to the pool they came from (nil: none, they are simply freed).
public struct FrameRGB: Sendable {
    public let image: RGBImage
    let pool: PixelBufferPool?

    public init(image: RGBImage, pool: PixelBufferPool?) {
        self.image = image
        self.pool = pool
    }

    /// Hands the bytes back (call when done with `image`).
    public func release() { pool?.give(image.pixels) }
}

/// Finds the faces of each frame, in frame order. Runs on one thread (it may keep tracker state).
public protocol FaceStage: AnyObject {
    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput
    /// End of input: tracks still open.
    func finish() -> [Int]
    /// The part of the stage's work that needs no earlier frame's result, to run one stage
    /// earlier on its own thread (every frame, in order); nil (the default): none.
    func makeLookahead() -> FaceLookahead?
    /// ``process(_:scaler:)`` given what the look-ahead prepared for this frame.
    func process(_ frame: DecodedFrame, prepared: PreparedFaceFrame, scaler: FrameScaler) throws -> FaceStageOutput
}

/// What a ``FaceLookahead`` hands on with a frame (opaque to the pipeline).
public protocol PreparedFaceFrame: Sendable {}

/// Runs a face stage's tracker-independent work ahead of it, on another thread, frame by frame.
public protocol FaceLookahead: AnyObject {
    func prepare(_ frame: DecodedFrame, scaler: FrameScaler) throws -> PreparedFaceFrame
}

extension FaceStage {
    public func makeLookahead() -> FaceLookahead? { nil }
    public func process(_ frame: DecodedFrame, prepared: PreparedFaceFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        try process(frame, scaler: scaler)
    }
}

/// How a classifier wants its input: the model's preprocessing (size, colour, normalisation,
/// crop geometry), as the model registry gives it.
public typealias ClassifierInput = Preprocessing

extension Preprocessing {
    /// The pixel layout crops are converted to.
    public var layout: PixelLayout { colour == .grey ? .gray8 : .rgb24 }

    public init(width: Int, height: Int, layout: PixelLayout, mean: [Float], std: [Float], crop: CropGeometry,
                resize: CropResize = .swscale) {
        self.init(width: width, height: height, colour: layout == .gray8 ? .grey : .rgb, mean: mean, std: std,
                  crop: crop, resize: resize)
    }
}

/// Classifies a batch of preprocessed crops. Called from one thread.
public protocol FrameClassifier: AnyObject {
    /// Labels in output order.
    var labels: [String] { get }
    var input: ClassifierInput { get }
    /// `batch` holds `count` inputs of `C × H × W` floats (NCHW); returns probabilities per input,
    /// in label order.
    func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]]
}
