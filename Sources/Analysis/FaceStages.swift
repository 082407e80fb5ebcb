import CNN
import Faces
import Foundation
import Models
import Timeline
import Video

/// `--faces`: where the face boxes come from.
public enum FaceMode: Sendable, Equatable, CustomStringConvertible {
    /// MTCNN on a schedule in stream time, O-Net verification of the carried boxes every frame,
    /// and the IoU tracker.
    case detect
    /// The largest centred square of each frame (videos that are already face crops).
    case center
    /// Boxes per frame from a CSV file (`frame,face_id,x,y,w,h`).
    case boxes(String)

    /// Parses `detect`, `center` or `boxes:FILE`.
    public init?(_ text: String) {
        switch text {
        case "detect": self = .detect
        case "center", "centre": self = .center
        default:
            guard text.hasPrefix("boxes:"), text.count > 6 else { return nil }
            self = .boxes(String(text.dropFirst(6)))
        }
    }

    public var description: String {
        switch self {
        case .detect: "detect"
        case .center: "center"
        case .boxes(let path): "boxes:\(path)"
        }
    }
}

/// Builds the face stage `fervid analyze` runs.
public enum FaceStageFactory {
    /// `--detect-interval` default in seconds of stream time (docs/faces.md: measured on the samples).
    public static let defaultDetectInterval = DetectingFaceTracker.defaultDetectInterval

    /// - Throws: when the detector's weights or the boxes file cannot be read (the error names it).
    /// `minFace`: the smallest face to detect, in source pixels (`MTCNNDetector.minSourceFace`;
    /// nil: 20 px of the detector's bounded 640-px frame).
    /// `detectorNets`: MTCNN networks already loaded (thread-safe once loaded) to share, as
    /// `fervid serve` shares one copy across its streams; nil loads the detector's own.
    /// `detectorBuffers`: a pool the detector runs in (``MTCNNDetector/buffers``), shared by the
    /// streams of `fervid serve`; nil: the stage's own buffers.
    public static func make(mode: FaceMode, select: FaceSelection,
                            detectInterval: Double = defaultDetectInterval, minFace: Int? = nil,
                            detectorNets: MTCNN? = nil, detectorBuffers: WorkspacePool? = nil) throws -> FaceStage {
        switch mode {
        case .detect:
            let detector: MTCNNDetector
            if let detectorNets {
                detector = MTCNNDetector(nets: detectorNets, minSourceFace: minFace)
            } else {
                let path = try ModelLocator.resolve(ModelLocator.detectorModel)
                detector = try MTCNNDetector(modelPath: path, minSourceFace: minFace)
            }
            detector.buffers = detectorBuffers
            // Own buffers (analyze): the pyramid on two threads where the engine has two, so a
            // detection on the look-ahead thread, which bounds the pipeline, takes less time.
            // Shared ones (serve, many streams): one thread each; the streams fill the cores.
            if detectorBuffers == nil { detector.pyramidThreads = min(2, Engine.threads) }
            return DetectingFaceStage(tracker: DetectingFaceTracker(detector: detector, detectInterval: detectInterval),
                                      select: select)
        case .center:
            return CenterFaceStage()
        case .boxes(let path):
            return BoxesFaceStage(file: try FaceBoxesFile(path: path), select: select)
        }
    }
}

/// MTCNN + verification + tracker. Every frame is converted to RGB (the verification and the cut
/// detector look at every frame).
final class DetectingFaceStage: FaceStage {
    let tracker: DetectingFaceTracker
    let select: FaceSelection
    /// The look-ahead's detection frames, handed back by this stage's thread once verified (or
    /// by the classifier's once cropped: up to two queues of frames in flight).
    let detectionBuffers = PixelBufferPool(limit: 24)

    init(tracker: DetectingFaceTracker, select: FaceSelection) {
        self.tracker = tracker
        self.select = select
    }

    /// The detector's bounded-size frame (long side ≤ 640 px), from the decoded picture: box-
    /// averaged by an integer factor when one fits (`FrameScaler.convertReduced`: 1080p → 640×360
    /// reads each source byte once), then libswscale; detections and verified boxes come back in
    /// the full frame's pixels, where the classifier's crops are taken.
    /// `buffers`: where a detection frame's buffer is taken from (``PixelBufferPool``).
    static func detectionImage(_ frame: DecodedFrame, detector: MTCNNDetector, scaler: FrameScaler,
                               buffers: PixelBufferPool? = nil) throws -> RGBImage {
        let size = detector.detectionSize(width: frame.width, height: frame.height)
        let rgb = try scaler.convertReduced(frame, to: .rgb24, width: size.width, height: size.height,
                                            reusing: buffers?.take())
        return RGBImage(width: rgb.width, height: rgb.height, pixels: rgb.bytes,
                        sourceWidth: frame.width, sourceHeight: frame.height)
    }

    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        let image = try Self.detectionImage(frame, detector: tracker.detector, scaler: scaler)
        return output(tracker.process(time: frame.pts, image: image), frame)
    }

    private func output(_ update: FaceTrackerUpdate, _ frame: DecodedFrame) -> FaceStageOutput {
        FaceStageOutput(faces: select.select(update.faces, imageWidth: frame.width, imageHeight: frame.height),
                        endedTracks: update.ended, detectorRan: update.detected)
    }

    func finish() -> [Int] { tracker.finish() }

    /// The detection frame, the cut test and the scheduled detections run ahead
    /// (``DetectionLookahead``): the stage's own thread is left the verification and the tracker.
    func makeLookahead() -> FaceLookahead? {
        Lookahead(tracker.makeLookahead(), buffers: detectionBuffers)
    }

    func process(_ frame: DecodedFrame, prepared: PreparedFaceFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        guard let p = prepared as? Prepared else { return try process(frame, scaler: scaler) }
        let before = tracker.detectionsAhead
        var out = output(tracker.process(time: frame.pts, image: p.image, look: p.look), frame)
        out.detectorRanAhead = tracker.detectionsAhead > before
        if p.image.width == frame.width && p.image.height == frame.height {
            // The detection frame is the whole frame in RGB: the crops are cut from it, and the
            // classifier's thread hands its buffer back to the look-ahead.
            out.frameRGB = FrameRGB(image: p.image, pool: detectionBuffers)
        } else {
            // Done with the detection frame: its buffer goes back to the look-ahead.
            detectionBuffers.give(p.image.pixels)
        }
        return out
    }

    struct Prepared: PreparedFaceFrame {
        let image: RGBImage
        let look: DetectionLookahead.Look
    }

    final class Lookahead: FaceLookahead {
        let ahead: DetectionLookahead
        let buffers: PixelBufferPool
        init(_ ahead: DetectionLookahead, buffers: PixelBufferPool) {
            self.ahead = ahead
            self.buffers = buffers
        }

        func prepare(_ frame: DecodedFrame, scaler: FrameScaler) throws -> PreparedFaceFrame {
            let image = try DetectingFaceStage.detectionImage(frame, detector: ahead.detector, scaler: scaler,
                                                              buffers: buffers)
            return Prepared(image: image, look: ahead.look(time: frame.pts, image: image))
        }
    }
}

/// One face per frame: the centred square.
final class CenterFaceStage: FaceStage {
    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        FaceStageOutput(faces: [CenterCrop.face(imageWidth: frame.width, imageHeight: frame.height)])
    }

    func finish() -> [Int] { [0] }
}

/// Boxes from a file; a face id absent from a frame ends its track.
final class BoxesFaceStage: FaceStage {
    let file: FaceBoxesFile
    let select: FaceSelection
    private var open = Set<Int>()

    init(file: FaceBoxesFile, select: FaceSelection) {
        self.file = file
        self.select = select
    }

    func process(_ frame: DecodedFrame, scaler: FrameScaler) throws -> FaceStageOutput {
        let faces = select.select(file.faces(atFrame: frame.index), imageWidth: frame.width, imageHeight: frame.height)
        let now = Set(faces.map(\.id))
        let ended = open.subtracting(now).sorted()
        open = now
        return FaceStageOutput(faces: faces, endedTracks: ended)
    }

    func finish() -> [Int] { open.sorted() }
}

extension FaceBoxSource {
    /// The timeline's name for how the face stage got a box.
    init(_ source: BoxSource) {
        switch source {
        case .detected: self = .detected
        case .tracked: self = .tracked
        case .given: self = .given
        case .center: self = .center
        }
    }
}
