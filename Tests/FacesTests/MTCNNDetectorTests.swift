import CNN
@testable import Faces
import Foundation
import Models
import TestSupport
import Testing

/// Golden: tools/ref_mtcnn.py (NumPy, written from facenet-pytorch's algorithm) on sample frames.
struct DetectionsGolden: Decodable {
    struct Frame: Decodable {
        let sample: String, frame: Int, width: Int, height: Int
        let boxes: [[Double]], scores: [Double], landmarks: [[[Double]]]
    }
    let frames: [Frame]
}

@Suite struct MTCNNDetectorTests {
    @Test func pyramidScales() throws {
        let d = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        // 640×360, min face 20: 0.6 × 0.709^k while 360 × scale ≥ 12: 216 × 0.709^8 ≈ 13.4,
        // × 0.709 ≈ 9.5 -> k = 0…8.
        let s = d.scales(width: 640, height: 360)
        try #require(s.count == 9)
        #expect(abs(s[0] - 0.6) < 1e-12)
        #expect(abs(s[8] - 0.6 * pow(0.709, 8)) < 1e-12)
    }

    @Test func boxesMatchTheNumPyReferenceOnSampleFrames() throws {
        let g = try golden("mtcnn_detections", as: DetectionsGolden.self)
        // The reference runs on the whole frame (no_face.mp4 is 960×540): no bounded frame here.
        let detector = try MTCNNDetector(modelPath: modelPath("mtcnn"), maxSide: nil)
        var worstIoU = 1.0, worstScore = 0.0, worstLandmark = 0.0, faces = 0
        for f in g.frames {
            let image = try decodeFrame(f.sample, index: f.frame, width: f.width, height: f.height)
            let found = detector.detect(image)
            #expect(found.count == f.boxes.count, "\(f.sample) frame \(f.frame): \(found.count) faces, reference \(f.boxes.count)")
            for (i, b) in f.boxes.enumerated() {
                let ref = FaceRect(x1: b[0], y1: b[1], x2: b[2], y2: b[3])
                guard let best = found.max(by: { $0.rect.iou(ref) < $1.rect.iou(ref) }) else { continue }
                let iou = best.rect.iou(ref)
                worstIoU = min(worstIoU, iou)
                worstScore = max(worstScore, abs(best.score - f.scores[i]))
                for (p, q) in zip(best.landmarks, f.landmarks[i]) {
                    worstLandmark = max(worstLandmark, abs(p.x - q[0]), abs(p.y - q[1]))
                }
                #expect(iou >= 0.95, "\(f.sample) frame \(f.frame): IoU \(iou) with the reference box")
                faces += 1
            }
        }
        print("MTCNN parity over \(g.frames.count) frames, \(faces) faces: min IoU \(worstIoU), max |Δscore| \(worstScore), max |Δlandmark| \(worstLandmark) px")
        #expect(faces >= 7)
        #expect(worstScore <= 1e-4)
        #expect(worstLandmark <= 0.5)
    }

    @Test func boundedFramePlan() throws {
        let d = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        // 640×360 and smaller: the frame itself, 20-px faces.
        #expect(d.plan(width: 640, height: 360) == .init(width: 640, height: 360, minFace: 20, smallestSourceFace: 20))
        #expect(d.plan(width: 320, height: 240) == .init(width: 320, height: 240, minFace: 20, smallestSourceFace: 20))
        // 1920×1080 -> 640×360 (f = 1/3): 20 detection px are 60 source px.
        let hd = d.plan(width: 1920, height: 1080)
        #expect(hd.width == 640 && hd.height == 360 && hd.minFace == 20 && abs(hd.smallestSourceFace - 60) < 1e-9)
        // Portrait: the long side is the height.
        #expect(d.detectionSize(width: 720, height: 1280) == (360, 640))
        // Asking for 20-px faces in 1280×720 needs the full frame; 30-px faces in 1920×1080 a
        // 1280×720 frame (f = 20/30); 100-px faces keep 640×360 and start the pyramid at 100/3.
        let small = try MTCNNDetector(modelPath: modelPath("mtcnn"), minSourceFace: 20)
        #expect(small.plan(width: 1280, height: 720) == .init(width: 1280, height: 720, minFace: 20, smallestSourceFace: 20))
        let mid = try MTCNNDetector(modelPath: modelPath("mtcnn"), minSourceFace: 30)
        let m = mid.plan(width: 1920, height: 1080)
        #expect(m.width == 1280 && m.height == 720 && abs(m.minFace - 20) < 1e-9 && abs(m.smallestSourceFace - 30) < 1e-9)
        let big = try MTCNNDetector(modelPath: modelPath("mtcnn"), minSourceFace: 100)
        let b = big.plan(width: 1920, height: 1080)
        #expect(b.width == 640 && b.height == 360 && abs(b.minFace - 100.0 / 3) < 1e-9 && abs(b.smallestSourceFace - 100) < 1e-9)
        // Below MTCNN's 12-px window nothing is asked of the pyramid.
        let tiny = try MTCNNDetector(modelPath: modelPath("mtcnn"), minSourceFace: 5)
        #expect(tiny.plan(width: 640, height: 360).minFace == 12)
        // Full-frame mode.
        let full = try MTCNNDetector(modelPath: modelPath("mtcnn"), maxSide: nil)
        #expect(full.plan(width: 1920, height: 1080) == .init(width: 1920, height: 1080, minFace: 20, smallestSourceFace: 20))
    }

    /// A 640×360 frame blown up 2× by pixel replication: the detector's area resize back to
    /// 640×360 restores the original pixels exactly, so the boxes must be the original's × 2,
    /// whether the detector scales the big frame itself or is handed the small one with its
    /// source size.
    @Test func boxesOnABigFrameAreMappedBackToItsPixels() throws {
        let small = try decodeFrame("WolfgangLanger_Pexels.mp4", index: 120, width: 640, height: 360)
        var big = [UInt8](repeating: 0, count: 1280 * 720 * 3)
        for y in 0 ..< 720 {
            for x in 0 ..< 1280 {
                for c in 0 ..< 3 { big[(y * 1280 + x) * 3 + c] = small.pixels[((y / 2) * 640 + x / 2) * 3 + c] }
            }
        }
        let d = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        let reference = d.detect(small)
        try #require(reference.count == 1)
        let bigFrame = RGBImage(width: 1280, height: 720, pixels: big)
        let handedSmall = RGBImage(width: 640, height: 360, pixels: small.pixels, sourceWidth: 1280, sourceHeight: 720)
        for found in [d.detect(bigFrame), d.detect(handedSmall)] {
            try #require(found.count == 1)
            let (r, f) = (reference[0], found[0])
            for (a, b) in [(f.rect.x, r.rect.x), (f.rect.y, r.rect.y), (f.rect.width, r.rect.width), (f.rect.height, r.rect.height)] {
                #expect(abs(a - 2 * b) < 1e-3, "\(f.rect) vs 2 × \(r.rect)")
            }
            #expect(f.score == r.score)
            for (p, q) in zip(f.landmarks, r.landmarks) {
                #expect(abs(p.x - 2 * q.x) < 1e-3 && abs(p.y - 2 * q.y) < 1e-3)
            }
        }
        // O-Net verification of a source-pixel box on the scaled image: the small frame's answer × 2.
        let small2 = d.verify(small, boxes: [reference[0].rect])
        let big2 = d.verify(handedSmall, boxes: [FaceRect(x: 2 * reference[0].rect.x, y: 2 * reference[0].rect.y,
                                                          width: 2 * reference[0].rect.width, height: 2 * reference[0].rect.height)])
        try #require(small2.count == 1 && big2.count == 1)
        #expect(small2[0].score == big2[0].score && small2[0].score > 0.7)
        #expect(abs(big2[0].rect.x - 2 * small2[0].rect.x) < 1e-3 && abs(big2[0].rect.maxY - 2 * small2[0].rect.maxY) < 1e-3)
        #expect(abs(big2[0].landmarks[2].x - 2 * small2[0].landmarks[2].x) < 1e-3)
        // The same frame on the full 1280×720 grid finds the face too (a different pyramid).
        let full = try MTCNNDetector(modelPath: modelPath("mtcnn"), maxSide: nil).detect(bigFrame)
        try #require(full.count == 1)
        #expect(full[0].rect.iou(FaceRect(x: 2 * reference[0].rect.x, y: 2 * reference[0].rect.y,
                                         width: 2 * reference[0].rect.width, height: 2 * reference[0].rect.height)) > 0.8)
    }
}

/// `fervid serve`'s sharing: detectors of several streams on one loaded `MTCNN` and one pool of
/// buffers (activations and convolution scratch) must find exactly what a detector with its own
/// networks and buffers finds, from any thread, and the pool holds one set per overlapping call.
@Suite struct SharedDetectorBuffersTests {
    @Test func sharedNetsAndBuffersGiveTheSameDetectionsAsPrivateOnes() throws {
        let g = try golden("mtcnn_detections", as: DetectionsGolden.self)
        let images = try g.frames.map { try decodeFrame($0.sample, index: $0.frame, width: $0.width, height: $0.height) }
        let own = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        let expected = images.map { own.detect($0) }
        #expect(expected.contains { !$0.isEmpty }, "the frames have faces to compare")

        nonisolated(unsafe) let nets = try MTCNN(path: modelPath("mtcnn"))  // thread-safe once loaded
        let pool = WorkspacePool(ownScratch: true)
        let found = Locked<[Int: [FaceDetection]]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let detector = MTCNNDetector(nets: nets)
            detector.buffers = pool
            for (i, image) in images.enumerated() where i % 2 == worker {
                let d = detector.detect(image)
                found.withLock { $0[i] = d }
            }
        }
        let shared = found.withLock { $0 }
        for i in images.indices {
            #expect(shared[i] == expected[i], "frame \(i): shared detector differs from a private one")
        }
        #expect((1 ... 2).contains(pool.count), "one buffer set per overlapping detection, made \(pool.count)")
    }
}

/// `pyramidThreads = 2` (`fervid analyze`'s detector): the largest level on the calling thread,
/// the others on a second one, merged in level order — the same detections, bit for bit, as
/// one thread, on every golden frame (faces and none, 640×360 and 960×540 scaled to the bounded
/// frame), on a 1280×720 frame (scaled to its 640×360 plan first), and on a frame with a pyramid
/// of one level.
@Suite struct PyramidThreadsTests {
    @Test func twoPyramidThreadsFindWhatOneFinds() throws {
        let g = try golden("mtcnn_detections", as: DetectionsGolden.self)
        var images = try g.frames.map { try decodeFrame($0.sample, index: $0.frame, width: $0.width, height: $0.height) }
        // A 1280×720 frame (each pixel of a 640×360 one doubled): detected on a plan of its own size.
        let small = try decodeFrame("WolfgangLanger_Pexels.mp4", index: 100, width: 640, height: 360)
        var big = [UInt8](repeating: 0, count: 1280 * 720 * 3)
        for y in 0 ..< 720 {
            for x in 0 ..< 1280 {
                for c in 0 ..< 3 { big[(y * 1280 + x) * 3 + c] = small.pixels[((y / 2) * 640 + x / 2) * 3 + c] }
            }
        }
        images.append(RGBImage(width: 1280, height: 720, pixels: big))
        let one = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        let two = MTCNNDetector(sharing: one)
        two.pyramidThreads = 2
        #expect(two.scales(width: 640, height: 360).count > 1, "a pyramid of several levels to split")
        var faces = 0
        for (i, image) in images.enumerated() {
            let expected = one.detect(image)
            // Twice: the second run reuses the second thread's workspace and scratch.
            for run in 0..<2 {
                let found = Engine.withThreads(1) { two.detect(image) }
                #expect(found == expected, "frame \(i) run \(run): two pyramid threads differ from one")
            }
            faces += expected.count
        }
        #expect(faces >= 7, "the frames have faces to compare (\(faces))")
        // A pyramid of one level (a frame just above 12 px at the first scale): no second thread.
        var corner = [UInt8](repeating: 0, count: 36 * 24 * 3)
        for y in 0 ..< 24 {
            for x in 0 ..< 36 * 3 { corner[y * 36 * 3 + x] = small.pixels[(150 + y) * 640 * 3 + 300 * 3 + x] }
        }
        let tiny = RGBImage(width: 36, height: 24, pixels: corner)
        #expect(two.scales(width: 36, height: 24).count == 1)
        #expect(two.detect(tiny) == one.detect(tiny))
    }
}
