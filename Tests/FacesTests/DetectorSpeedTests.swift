import CNN
@testable import Faces
import Foundation
import Testing

/// Detector throughput on the 640×360 sample, every frame vs every N (docs/faces.md). Prints
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
        var perFrame: [FaceRect?] = []      // the every-frame boxes: the reference for staleness
        for every in [1, 2, 3, 5, 10] {
            let stage = DetectingFaceTracker(detector: detector, tracker: FaceTracker(), detectEvery: every)
            let clock = ContinuousClock()
            let start = clock.now
            var reported: [FaceRect?] = []
            for (i, image) in frames.enumerated() {
                reported.append(stage.process(time: Double(i) / 23.976) { image }.faces.first?.rect)
            }
            let seconds = (clock.now - start) / .seconds(1)
            if every == 1 { perFrame = reported }
            // How far the carried box lags the face: IoU with the every-frame detection.
            let ious = zip(reported, perFrame).compactMap { a, b in a.flatMap { a in b.map { a.iou($0) } } }
            let mean = ious.reduce(0, +) / Double(max(ious.count, 1))
            print(String(format: "face stage --detect-every %2d: %6.1f frames/s, %d tracks, face in %d/%d frames, box IoU vs every-frame detection mean %.3f min %.3f",
                         every, Double(frames.count) / seconds, stage.tracker.tracksCreated,
                         reported.compactMap { $0 }.count, frames.count, mean, ious.min() ?? 0))
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
