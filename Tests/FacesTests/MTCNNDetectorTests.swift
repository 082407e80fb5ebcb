@testable import Faces
import Foundation
import Models
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
        let detector = try MTCNNDetector(modelPath: modelPath("mtcnn"))
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
}
