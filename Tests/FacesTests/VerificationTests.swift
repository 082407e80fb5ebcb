@testable import Faces
import Foundation
import Testing

/// O-Net on given boxes (the tracker's per-frame verification).
@Suite struct VerificationTests {
    /// On the boxes O-Net saw inside the detector (the R-Net stage's squared output), `verify`
    /// must give exactly the detector's own O-Net answer: same crop, same network. The detector
    /// in turn is tested against the NumPy reference (MTCNNDetectorTests).
    @Test func givesTheDetectorsONetAnswerOnItsOwnCandidates() throws {
        let detector = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        let image = try decodeFrame("WolfgangLanger_Pexels.mp4", index: 120, width: 640, height: 360)
        let (w, h) = (image.width, image.height)
        var planes = [Float](repeating: 0, count: 3 * w * h)
        for i in 0..<(w * h) { for c in 0..<3 { planes[c * w * h + i] = Float(image.pixels[3 * i + c]) } }
        let (candidates, detections) = planes.withUnsafeBufferPointer { buf in
            let full = PlanarRegion(base: buf.baseAddress!, channels: 3, planeStride: w * h, rowStride: w, x: 0, y: 0, width: w, height: h)
            let c = detector.refine(full, detector.proposals(full))
            return (c, detector.output(full, c))
        }
        try #require(!detections.isEmpty)
        let verified = detector.verify(image, boxes: candidates.map {
            FaceRect(x1: Double($0.box[0]), y1: Double($0.box[1]), x2: Double($0.box[2]), y2: Double($0.box[3]))
        })
        #expect(verified.count == candidates.count)
        for d in detections {
            // The detection is one of the candidates' answers (the final NMS keeps a subset).
            let match = verified.first { abs($0.rect.x - d.rect.x) < 1e-3 && abs($0.rect.y - d.rect.y) < 1e-3 }
            let v = try #require(match, "detection \(d.rect) not among the verified candidates")
            #expect(abs(v.score - d.score) < 1e-6)
            #expect(abs(v.rect.maxX - d.rect.maxX) < 1e-3 && abs(v.rect.maxY - d.rect.maxY) < 1e-3)
            #expect(zip(v.landmarks, d.landmarks).allSatisfy { abs($0.x - $1.x) < 1e-3 && abs($0.y - $1.y) < 1e-3 })
        }
    }

    /// A detected face verified in the next frames stays a face with a box that follows it; the
    /// same box on an empty scene, or moved off the face, is not a face.
    @Test func faceStaysAFaceAndBackgroundDoesNot() throws {
        let detector = try MTCNNDetector(modelPath: modelPath("mtcnn"))
        let first = try decodeFrame("WolfgangLanger_Pexels.mp4", index: 200, width: 640, height: 360)
        let later = try decodeFrame("WolfgangLanger_Pexels.mp4", index: 203, width: 640, height: 360)
        let face = try #require(detector.detect(first).first)
        let v = try #require(detector.verify(later, boxes: [face.rect]).first)
        let truth = try #require(detector.detect(later).first)
        #expect(v.score >= 0.9, "score \(v.score)")
        #expect(v.rect.iou(truth.rect) >= 0.8, "IoU \(v.rect.iou(truth.rect)) with the detection in that frame")
        #expect(v.landmarks.count == 5)
        // Moved a box width sideways (off the face), and on an empty scene: low scores.
        var off = face.rect
        off.x = face.rect.x > 320 ? face.rect.x - 1.5 * face.rect.width : face.rect.x + 1.5 * face.rect.width
        let empty = try decodeFrame("no_face.mp4", index: 40, width: 960, height: 540)
        let scores = detector.verify(later, boxes: [off]).map(\.score) + detector.verify(empty, boxes: [face.rect]).map(\.score)
        #expect(scores.allSatisfy { $0 < 0.3 }, "background scores \(scores)")
        // A box entirely outside the image: score 0, no crash.
        let outside = detector.verify(later, boxes: [FaceRect(x: 5000, y: 5000, width: 50, height: 50)])
        #expect(outside.count == 1 && outside[0].score == 0)
    }
}
