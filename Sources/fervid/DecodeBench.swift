import Dispatch
import Faces
import Foundation
import Video

/// `fervid bench --op decode --input FILE`: what decoding alone costs, the bound `fervid analyze`
/// is measured against (`make bench`'s `bench decode` line). Every frame is decoded as the
/// analyze pipeline decodes it (same source options: libavcodec's own thread count) and
/// converted to packed RGB at the face detector's bounded size (`MTCNNDetector.detectionSize`:
/// the frame itself up to a long side of 640 px) as the face stage converts it
/// (`FrameScaler.convertReduced`), the per-frame conversion a detection frame gets; frames/s =
/// frames / wall seconds from open to end of input.
enum DecodeBench {
    struct Result {
        let frames: Int
        let seconds: Double
        let width: Int, height: Int
        var framesPerSecond: Double { Double(frames) / max(seconds, 1e-9) }
    }

    static func run(input: String, options: VideoSourceOptions = VideoSourceOptions()) throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let source: VideoSource
        do {
            source = try VideoSource(url: input, options: options)
        } catch {
            throw CommandFailure(subject: input, cause: "\(error)")
        }
        let scaler = FrameScaler(algorithm: .bilinear)
        var frames = 0, width = 0, height = 0
        do {
            while let frame = try source.nextFrame() {
                let (w, h) = detectionSize(frame.width, frame.height)
                let rgb = try scaler.convertReduced(frame, to: .rgb24, width: w, height: h)
                if rgb.bytes.isEmpty { throw CommandFailure(subject: input, cause: "empty conversion at frame \(frames)") }
                (width, height) = (frame.width, frame.height)
                frames += 1
            }
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure(subject: input, cause: "\(error)")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return Result(frames: frames, seconds: seconds, width: width, height: height)
    }

    /// `MTCNNDetector.detectionSize` with the default bound, without loading the networks.
    static func detectionSize(_ w: Int, _ h: Int) -> (Int, Int) {
        let side = MTCNNDetector.defaultMaxSide, long = max(w, h)
        guard long > side else { return (w, h) }
        let f = Double(side) / Double(long)
        return (max(1, Int((Double(w) * f).rounded())), max(1, Int((Double(h) * f).rounded())))
    }
}
