// MTCNN's tracking step: O-Net on boxes the caller already has (the last frame's faces), which
// gives each box a face probability, a refined box and five landmarks in this frame, at the cost
// of one 48×48 crop per face instead of a whole detection. Crops follow `MTCNNDetector.output`
// exactly (square the box, facenet-pytorch's 1-based clipped `pad`, area resize, normalise),
// so a box verified in the frame it was detected in gets O-Net's own answer again.

import CNN

extension MTCNNDetector {
    /// O-Net on `boxes` in `image`: one result per box, in order. Each result's `rect` is the
    /// box squared and regressed by O-Net (MTCNN's final box), `score` O-Net's face probability
    /// (0 for a box that lies outside the image), `landmarks` the five points. The caller
    /// decides what score is still a face (``thresholds``.onet is the detector's own).
    ///
    /// `boxes` and the results are in the pixels of the image's source frame (`sourceWidth ×
    /// sourceHeight`): a scaled-down image (the detector's bounded frame) is cropped at the boxes
    /// scaled to it, and the results are scaled back.
    public func verify(_ image: RGBImage, boxes: [FaceRect]) -> [FaceDetection] {
        let sx = Double(image.sourceWidth) / Double(image.width), sy = Double(image.sourceHeight) / Double(image.height)
        if sx == 1 && sy == 1 { return verifyInImage(image, boxes: boxes) }
        let scaled = boxes.map { FaceRect(x: $0.x / sx, y: $0.y / sy, width: $0.width / sx, height: $0.height / sy) }
        return zip(boxes, verifyInImage(image, boxes: scaled)).map { box, d in
            guard d.score > 0 || !d.landmarks.isEmpty else { return FaceDetection(rect: box, score: d.score) }
            return FaceDetection(rect: FaceRect(x: d.rect.x * sx, y: d.rect.y * sy, width: d.rect.width * sx, height: d.rect.height * sy),
                                 score: d.score, landmarks: d.landmarks.map { FacePoint(x: $0.x * sx, y: $0.y * sy) })
        }
    }

    /// `verify` with boxes in the image's own pixels.
    private func verifyInImage(_ image: RGBImage, boxes: [FaceRect]) -> [FaceDetection] {
        guard !boxes.isEmpty else { return [] }
        let size = 48, per = 3 * 48 * 48
        // The crops' batch: a slot of the current workspace, reused from frame to frame (every
        // crop is written whole below: the area resize, or zeros for a box outside the image).
        let batch = verifyBatch.tensor([boxes.count, 3, size, size])
        var squared: [SIMD4<Float>] = []
        var valid: [Bool] = []
        var region: [Float] = []  // the detector's buffer, reused across calls (one thread's)
        swap(&region, &verifyRegion)
        defer { swap(&region, &verifyRegion) }
        for (n, rect) in boxes.enumerated() {
            let b = square(SIMD4(Float(rect.x), Float(rect.y), Float(rect.maxX), Float(rect.maxY)))
            squared.append(b)
            // facenet-pytorch's `pad`: truncate, 1-based, clip to [1, W] × [1, H].
            guard b.x.isFinite, b.y.isFinite, b.z.isFinite, b.w.isFinite,
                  abs(b.x) < 1e7, abs(b.y) < 1e7, abs(b.z) < 1e7, abs(b.w) < 1e7 else {
                valid.append(false)
                (batch.data + n * per).update(repeating: 0, count: per)
                continue
            }
            let x = max(Int(b[0]), 1), y = max(Int(b[1]), 1)
            let ex = min(Int(b[2]), image.width), ey = min(Int(b[3]), image.height)
            guard ex >= x, ey >= y else {
                valid.append(false)
                (batch.data + n * per).update(repeating: 0, count: per)
                continue
            }
            valid.append(true)
            let (rx, ry, rw, rh) = (x - 1, y - 1, ex - x + 1, ey - y + 1)
            if rw * rh <= integralMaxPixels {
                // Straight from the bytes: integer sums, no planar floats of the region.
                areaResize(image, x: rx, y: ry, width: rw, height: rh, outH: size, outW: size,
                           into: batch.data + n * per, scratch: &byteScratch)
                continue
            }
            // Only the crop's pixels become planar floats (0…255), not the whole frame.
            let plane = rw * rh
            if region.count < 3 * plane { region = [Float](repeating: 0, count: 3 * plane) }
            region.withUnsafeMutableBufferPointer { out in
                rgbPlanes(image, x: rx, y: ry, width: rw, height: rh, into: out.baseAddress!, planeStride: plane)
            }
            region.withUnsafeBufferPointer { buf in
                let r = PlanarRegion(base: buf.baseAddress!, channels: 3, planeStride: plane, rowStride: rw,
                                     x: 0, y: 0, width: rw, height: rh)
                areaResize(r, outH: size, outW: size, into: batch.data + n * per, scratch: &scratch)
            }
        }
        normalise(batch.data, batch.count)
        let (reg, marks, prob) = nets.onet(batch)
        return boxes.indices.map { n in
            let b = squared[n]
            guard valid[n] else { return FaceDetection(rect: boxes[n], score: 0) }
            let bw = b[2] - b[0] + 1, bh = b[3] - b[1] + 1
            let points = (0..<5).map { k in
                FacePoint(x: Double(bw * marks.data[n * 10 + k] + b[0] - 1),
                          y: Double(bh * marks.data[n * 10 + 5 + k] + b[1] - 1))
            }
            let r = regress(b, SIMD4(reg.data[n * 4], reg.data[n * 4 + 1], reg.data[n * 4 + 2], reg.data[n * 4 + 3]))
            return FaceDetection(rect: FaceRect(x1: Double(r[0]), y1: Double(r[1]), x2: Double(r[2]), y2: Double(r[3])),
                                 score: Double(prob.data[n * 2 + 1]), landmarks: points)
        }
    }
}
