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

    public init(faces: [TrackedFace], endedTracks: [Int] = [], detectorRan: Bool = false) {
        self.faces = faces
        self.endedTracks = endedTracks
        self.detectorRan = detectorRan
    }
}

/// Finds the faces of each frame, in frame order. Runs on one thread (it may keep tracker state).
public protocol FaceStage: AnyObject {
    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput
    /// End of input: tracks still open.
    func finish() -> [Int]
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
