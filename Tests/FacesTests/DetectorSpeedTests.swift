import CNN
@testable import Faces
import Foundation
import Testing

/// Detector throughput on the 640×360 sample, detection interval 0 (every frame) to never (verification only) (docs/faces.md). Prints
/// numbers, asserts none (tests never assert wall-clock time). Opt-in: FERVID_BENCH_FACES=1,
/// meant for a release build: `swift test -c release --filter DetectorSpeed`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["FERVID_BENCH_FACES"] == "1"))
struct DetectorSpeedTests {
    @Test func framesPerSecondOnWolfgangLanger() throws {
        var frames: [RGBImage] = []
        try decodeFrames("WolfgangLanger_Pexels.mp4", width: 640, height: 360) { _, image in frames.append(image) }
        let detector = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        _ = detector.detect(frames[0])   // warm-up: buffers, BLAS threads
        stageBreakdown(detector, frames[0])
        var perFrame: [FaceRect?] = []      // the every-frame detections: the reference for the boxes
        for interval in [0, 0.25, 0.5, 1, 2, 1e9] {
            let stage = DetectingFaceTracker(detector: detector, tracker: FaceTracker(), detectInterval: interval)
            let clock = ContinuousClock()
            let start = clock.now
            var reported: [FaceRect?] = []
            var sources: [BoxSource: Int] = [:]
            for (i, image) in frames.enumerated() {
                let faces = stage.process(time: Double(i) / 23.976, image: image).faces
                reported.append(faces.first?.rect)
                for f in faces { sources[f.source, default: 0] += 1 }
            }
            let seconds = (clock.now - start) / .seconds(1)
            if interval == 0 { perFrame = reported }
            // How well the carried (verified) box follows the face: IoU with the every-frame detection.
            let ious = zip(reported, perFrame).compactMap { a, b in a.flatMap { a in b.map { a.iou($0) } } }
            let mean = ious.reduce(0, +) / Double(max(ious.count, 1))
            print(String(format: "face stage --detect-interval %4g: %6.1f frames/s, %d detections, %d verifications, %d tracks, face in %d/%d frames (detected %d, tracked %d), box IoU vs every-frame detection mean %.3f min %.3f",
                         interval, Double(frames.count) / seconds, stage.detections, stage.verifications,
                         stage.tracker.tracksCreated, reported.compactMap { $0 }.count, frames.count,
                         sources[.detected] ?? 0, sources[.tracked] ?? 0, mean, ious.min() ?? 0))
        }
        // The verification pass alone: O-Net on one box per frame.
        let box = detector.detect(frames[0]).first!.rect
        let clock = ContinuousClock()
        let start = clock.now
        for image in frames { _ = detector.verify(image, boxes: [box]) }
        print(String(format: "verification (O-Net on one box): %.2f ms per frame",
                     (clock.now - start) / .seconds(1) * 1000 / Double(frames.count)))
    }

    /// The cut detector's change value within shots (consecutive frames of each sample, and
    /// frames one second apart) and across cuts (the last frame of one sample against the first
    /// of another): the numbers behind SceneChangeDetector.defaultThreshold.
    @Test func sceneChangeValues() throws {
        var firstLast: [(String, [Double], [Double])] = []
        for (name, w, h, fps) in [("WolfgangLanger_Pexels.mp4", 640, 360, 24), ("single_face.mp4", 640, 360, 30),
                                  ("no_face.mp4", 960, 540, 24)] {
            var signatures: [[Double]] = []
            try decodeFrames(name, width: w, height: h) { _, image in signatures.append(SceneChangeDetector.signature(image)) }
            let consecutive = zip(signatures, signatures.dropFirst()).map { SceneChangeDetector.change($0, $1) }
            let second = zip(signatures, signatures.dropFirst(fps)).map { SceneChangeDetector.change($0, $1) }
            print(String(format: "scene change within %@: consecutive frames mean %.4f max %.4f; 1 s apart mean %.4f max %.4f",
                         name, consecutive.reduce(0, +) / Double(consecutive.count), consecutive.max() ?? 0,
                         second.reduce(0, +) / Double(max(second.count, 1)), second.max() ?? 0))
            firstLast.append((name, signatures.first!, signatures.last!))
        }
        for a in firstLast {
            for b in firstLast where a.0 != b.0 {
                print(String(format: "scene change at a cut %@ -> %@: %.4f", a.0, b.0, SceneChangeDetector.change(a.2, b.1)))
            }
        }
    }

    /// Where one detection's time goes: pyramid resizes, P-Net, R-Net and O-Net stages.
    func stageBreakdown(_ d: MTCNNDetector, _ image: RGBImage) {
        let clock = ContinuousClock()
        let (w, h) = (image.width, image.height)
        let planes = image.pixels.enumerated().reduce(into: [Float](repeating: 0, count: 3 * w * h)) { p, e in
            p[(e.offset % 3) * w * h + e.offset / 3] = Float(e.element)
        }
        planes.withUnsafeBufferPointer { buf in
            let full = PlanarRegion(base: buf.baseAddress!, channels: 3, planeStride: w * h, rowStride: w, x: 0, y: 0, width: w, height: h)
            var scratch: [Double] = []
            var resize = Duration.zero, pnet = Duration.zero
            for s in d.scales(width: w, height: h) {
                let level = Tensor(shape: [1, 3, Int(Double(h) * s + 1), Int(Double(w) * s + 1)])
                let t0 = clock.now
                areaResize(full, outH: level.shape[2], outW: level.shape[3], into: level.data, scratch: &scratch)
                let t1 = clock.now
                _ = d.nets.pnet(level)
                pnet += clock.now - t1
                resize += t1 - t0
            }
            let t0 = clock.now
            let p = d.proposals(full)
            let t1 = clock.now
            let r = d.refine(full, p)
            let t2 = clock.now
            let o = d.output(full, r)
            let t3 = clock.now
            print("detector stages on one frame: pyramid resize \(resize), P-Net \(pnet); proposals \(t1 - t0) (\(p.count) boxes), R-Net stage \(t2 - t1) (\(r.count)), O-Net stage \(t3 - t2) (\(o.count)); engine threads \(Engine.threads)")
        }
    }
}
