// The MTCNN cascade as facenet-pytorch 2.6.0 runs it (`models/utils/detect_face.py`), so that its
// boxes can be compared with that package's: image pyramid, P-Net proposals, NMS per scale and
// over all, regression, squaring, R-Net and O-Net refinement on clipped crops, landmarks.
// Arithmetic on boxes is Float (torch's float32); the pyramid scales are Double (Python floats).
// The independent NumPy twin of this file is tools/ref_mtcnn.py.

import CNN
import Dispatch
import Models

/// Face detector: MTCNN (P-, R-, O-Net) over packed RGB images.
///
/// Detection runs on a frame of bounded size (`maxSide`, long side 640 by default): a larger
/// frame is scaled down first, so a detection costs about the same at 1280×720 or 1920×1080 as at
/// 640×360, and the boxes are mapped back to the frame's pixels. The smallest face found is
/// therefore `minFaceSize` pixels of the bounded frame, i.e. 20 px at 640×360, 40 px at 1280×720
/// and 60 px at 1920×1080 in the source (`plan(width:height:).smallestSourceFace`); `minSourceFace`
/// asks for smaller (or larger) faces in source pixels and enlarges (or keeps) the frame to match.
///
/// Not thread-safe (it owns the networks' buffers): one detector per thread.
public final class MTCNNDetector {
    /// Smallest face searched for, in pixels of the detection frame (facenet-pytorch default 20).
    public let minFaceSize: Int
    /// Pyramid scale step (0.709).
    public let scaleFactor: Double
    /// Score thresholds of P-, R- and O-Net (0.6, 0.7, 0.7).
    public let thresholds: (pnet: Float, rnet: Float, onet: Float)
    /// Long side of the frame the cascade runs on; nil: the full frame, whatever its size.
    public let maxSide: Int?
    /// Smallest face wanted, in source-frame pixels; nil: `minFaceSize` at the bounded size.
    public let minSourceFace: Int?
    /// `maxSide`'s default. Measured (docs/benchmarks.md, "Detection on a bounded frame"): one
    /// detection on the 1920×1080 sample took ~12× as long at full size as at long side 640, and
    /// 640 keeps the 640×360 sample's detections exactly as before.
    public static let defaultMaxSide = 640
    let nets: MTCNN
    var scratch: [Double] = []
    private var planes: [Float] = []
    /// The detection frame's summed-area tables (``rgbIntegral(_:x:y:width:height:into:isa:)``).
    private var table: [UInt32] = []
    private var scaled: [Float] = []
    /// `verify`'s planar crop of one box (a region too large for integer sums).
    var verifyRegion: [Float] = []
    /// `verify`'s row sums and spans (``areaResize(_:x:y:width:height:outH:outW:into:scratch:isa:)`` from bytes).
    var byteScratch: [UInt32] = []
    /// `verify`'s batch of 48×48 crops, the pyramid level P-Net runs on, and the R-/O-Net crop
    /// batch: slots of the current workspace, as the networks' activations (no allocation or
    /// zero-fill per call; the largest size is kept).
    let verifyBatch = OutputSlot(), levelSlot = OutputSlot(), cropSlot = OutputSlot()
    /// Where `detect` runs its networks: a workspace of this pool (activations and convolution
    /// scratch), which detectors of other streams may share (`fervid serve`: the buffers then
    /// grow with the detections that overlap, not with the streams). nil: the caller's workspace
    /// and the thread's scratch. The results are the same either way.
    public var buffers: WorkspacePool?
    /// Threads the P-Net pyramid runs on: 1, the calling thread alone; 2, the largest level on the
    /// calling thread while the others (together about as many pixels: each level has half the
    /// pixels of the one before) run at the same time on a second thread, in this detector's own
    /// workspace. A detection then takes about a third less time where another core is free —
    /// `fervid analyze`'s look-ahead thread, whose detections bound the pipeline. The candidates
    /// are merged in level order and every level is computed as on one thread (same kernels,
    /// one engine thread each), so the detections are the same bit for bit.
    public var pyramidThreads = 1
    /// The second pyramid thread's activations and convolution scratch, and its area-resize scratch.
    private lazy var levelWorkspace = Workspace(ownScratch: true)
    private var levelScratch: [Double] = []

    public init(nets: MTCNN, minFaceSize: Int = 20, scaleFactor: Double = 0.709,
                thresholds: (pnet: Float, rnet: Float, onet: Float) = (0.6, 0.7, 0.7),
                maxSide: Int? = MTCNNDetector.defaultMaxSide, minSourceFace: Int? = nil) {
        precondition(minFaceSize >= 12 && scaleFactor > 0 && scaleFactor < 1, "MTCNNDetector: bad parameters")
        precondition((maxSide ?? 12) >= 12 && (minSourceFace ?? 12) >= 1, "MTCNNDetector: bad maxSide / minSourceFace")
        self.nets = nets
        self.minFaceSize = minFaceSize
        self.scaleFactor = scaleFactor
        self.thresholds = thresholds
        self.maxSide = maxSide
        self.minSourceFace = minSourceFace
    }

    /// A detector with `other`'s networks (loaded once, run from any thread) and parameters
    /// (`pyramidThreads` too), and its own buffers: one for another thread.
    public convenience init(sharing other: MTCNNDetector) {
        self.init(nets: other.nets, minFaceSize: other.minFaceSize, scaleFactor: other.scaleFactor,
                  thresholds: other.thresholds, maxSide: other.maxSide, minSourceFace: other.minSourceFace)
        pyramidThreads = other.pyramidThreads
    }

    /// Loads `mtcnn.safetensors` and builds a detector with the default parameters.
    public convenience init(modelPath: String, maxSide: Int? = MTCNNDetector.defaultMaxSide, minSourceFace: Int? = nil) throws {
        try self.init(nets: MTCNN(path: modelPath), maxSide: maxSide, minSourceFace: minSourceFace)
    }

    /// How a `width × height` frame is detected on.
    public struct Plan: Equatable, Sendable {
        /// Size of the detection frame.
        public let width: Int, height: Int
        /// Smallest face searched for, in detection-frame pixels (the pyramid starts at 12 / it).
        public let minFace: Double
        /// The same in source pixels (along the long side).
        public let smallestSourceFace: Double
    }

    /// The detection frame for a `width × height` source: scaled by f = min(1, maxSide / long
    /// side), raised to minFaceSize / minSourceFace when that asks for smaller faces (never above
    /// 1); the smallest face is max(minFaceSize, minSourceFace · f) detection pixels, 12 at least.
    public func plan(width: Int, height: Int) -> Plan {
        let long = Double(max(width, height))
        var f = 1.0
        if let maxSide, long > Double(maxSide) { f = Double(maxSide) / long }
        if let m = minSourceFace { f = min(1, max(f, Double(minFaceSize) / Double(m))) }
        let w = f == 1 ? width : max(1, Int((Double(width) * f).rounded()))
        let h = f == 1 ? height : max(1, Int((Double(height) * f).rounded()))
        let actual = Double(max(w, h)) / long
        let minFace = minSourceFace.map { max(12, Double($0) * actual) } ?? Double(minFaceSize)
        return Plan(width: w, height: h, minFace: minFace, smallestSourceFace: minFace / actual)
    }

    /// The size to scale a `width × height` frame to before `detect` (its own size when small
    /// enough): pass the scaled pixels as `RGBImage(…, sourceWidth: width, sourceHeight: height)`.
    public func detectionSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let p = plan(width: width, height: height)
        return (p.width, p.height)
    }

    /// Pyramid scales: 12/minFace, × factor while the shorter side × scale ≥ 12.
    func scales(width: Int, height: Int, minFace: Double? = nil) -> [Double] {
        let m = 12.0 / (minFace ?? Double(minFaceSize))
        var minl = Double(min(width, height)) * m
        var s = m
        var out: [Double] = []
        while minl >= 12 {
            out.append(s)
            s *= scaleFactor
            minl *= scaleFactor
        }
        return out
    }

    /// A candidate box through the cascade: corners, score, and the pending regression.
    struct Candidate {
        var box: SIMD4<Float>        // x1, y1, x2, y2
        var score: Float
        var reg = SIMD4<Float>(repeating: 0)
    }

    /// All faces in `image`, as facenet-pytorch's `MTCNN.detect` finds them on the detection frame
    /// (`plan`: the image itself when small enough, else a scaled copy), in the coordinates of
    /// the image's source frame (`sourceWidth × sourceHeight`), in NMS order, best score first.
    public func detect(_ image: RGBImage) -> [FaceDetection] {
        if let buffers { return buffers.run { detectHere(image) } }
        return detectHere(image)
    }

    /// `detect` in the current workspace.
    private func detectHere(_ image: RGBImage) -> [FaceDetection] {
        let (w, h) = (image.width, image.height)
        let plan = plan(width: image.sourceWidth, height: image.sourceHeight)
        let (dw, dh) = (plan.width, plan.height)
        let found: [FaceDetection]
        if dw == w && dh == h && w * h <= integralMaxPixels {
            // The frame's summed-area tables: the pyramid's levels and the R-/O-Net crops are
            // area-resized from them at four reads per output pixel (the same floats as from planes).
            let plane = rgbIntegral(image, x: 0, y: 0, width: w, height: h, into: &table)
            found = table.withUnsafeBufferPointer { buf in
                cascade(IntegralRegion(base: buf.baseAddress!, planeStride: plane, rowStride: w + 1, x: 0, y: 0,
                                       width: w, height: h), minFace: plan.minFace)
            }
        } else {
            // (3, H, W) planes of 0…255 floats.
            if planes.count < 3 * w * h { planes = [Float](repeating: 0, count: 3 * w * h) }
            planes.withUnsafeMutableBufferPointer { out in
                rgbPlanes(image, x: 0, y: 0, width: w, height: h, into: out.baseAddress!, planeStride: w * h)
            }
            if dw != w || dh != h {
                // The caller passed a frame of another size: area-resize it to the plan's.
                if scaled.count < 3 * dw * dh { scaled = [Float](repeating: 0, count: 3 * dw * dh) }
                planes.withUnsafeBufferPointer { buf in
                    let full = PlanarRegion(base: buf.baseAddress!, channels: 3, planeStride: w * h, rowStride: w,
                                            x: 0, y: 0, width: w, height: h)
                    scaled.withUnsafeMutableBufferPointer { out in
                        areaResize(full, outH: dh, outW: dw, into: out.baseAddress!, scratch: &scratch)
                    }
                }
                swap(&planes, &scaled)
            }
            found = planes.withUnsafeBufferPointer { buf in
                cascade(PlanarRegion(base: buf.baseAddress!, channels: 3, planeStride: dw * dh, rowStride: dw,
                                     x: 0, y: 0, width: dw, height: dh), minFace: plan.minFace)
            }
        }
        let sx = Double(image.sourceWidth) / Double(dw), sy = Double(image.sourceHeight) / Double(dh)
        if sx == 1 && sy == 1 { return found }
        return found.map { d in
            FaceDetection(rect: FaceRect(x: d.rect.x * sx, y: d.rect.y * sy, width: d.rect.width * sx, height: d.rect.height * sy),
                          score: d.score, landmarks: d.landmarks.map { FacePoint(x: $0.x * sx, y: $0.y * sy) })
        }
    }

    /// The three stages on the detection frame, in its pixels.
    func cascade<S: AreaSource>(_ frame: S, minFace: Double) -> [FaceDetection] {
        var boxes = proposals(frame, minFace: minFace)
        if boxes.isEmpty { return [] }
        boxes = refine(frame, boxes)
        if boxes.isEmpty { return [] }
        return output(frame, boxes)
    }

    /// Normalises in place: (x − 127.5) / 128.
    @inline(__always) func normalise(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = (p[i] - 127.5) * 0.0078125 }
    }

    // Stage 1: P-Net over the pyramid -> squared candidate boxes.
    func proposals<S: AreaSource>(_ image: S, minFace: Double? = nil) -> [Candidate] {
        let scales = scales(width: image.width, height: image.height, minFace: minFace)
        var all: [Candidate] = []
        if pyramidThreads > 1 && scales.count > 1 {
            // Levels 1… on a second thread, level 0 here; joined before the merge.
            let rest = LevelCandidates()
            let threads = Engine.threads
            let work = UncheckedSendable { [self] in
                Workspace.with(levelWorkspace) {
                    Engine.withThreads(threads) {
                        for scale in scales.dropFirst() {
                            rest.levels.append(levelCandidates(image, scale: scale, scratch: &levelScratch))
                        }
                    }
                }
            }
            let done = DispatchGroup()
            DispatchQueue.global(qos: .userInitiated).async(group: done) { work.value() }
            all = levelCandidates(image, scale: scales[0], scratch: &scratch)
            done.wait()
            for level in rest.levels { all += level }
        } else {
            for scale in scales { all += levelCandidates(image, scale: scale, scratch: &scratch) }
        }
        let keep = nonMaximumSuppression(boxes: all.map(\.box), scores: all.map(\.score), threshold: 0.7)
        return keep.map { i in
            var c = all[i]
            // P-Net regression scales by (x2 − x1, y2 − y1), without the +1 of later stages.
            let size = SIMD4(c.box[2] - c.box[0], c.box[3] - c.box[1], c.box[2] - c.box[0], c.box[3] - c.box[1])
            c.box = square(c.box + c.reg * size)
            c.reg = .zero
            return c
        }
    }

    /// One pyramid level through P-Net: its candidates after the level's own NMS, in NMS order.
    func levelCandidates<S: AreaSource>(_ image: S, scale: Double, scratch: inout [Double]) -> [Candidate] {
        let lh = Int(Double(image.height) * scale + 1), lw = Int(Double(image.width) * scale + 1)
        let level = levelSlot.tensor([1, 3, lh, lw])   // written whole by the resize (this thread's workspace)
        image.resize(outH: lh, outW: lw, into: level.data, scratch: &scratch)
        normalise(level.data, level.count)
        let (reg, prob) = nets.pnet(level)
        let (oh, ow) = (prob.shape[2], prob.shape[3])
        let face = prob.data + oh * ow          // channel 1: face score
        var found: [Candidate] = []
        for y in 0..<oh {
            for x in 0..<ow where face[y * ow + x] >= thresholds.pnet {
                // Cell (x, y) covers the 12×12 window at stride 2 of this level, in image pixels.
                let s = Float(scale)
                let box = SIMD4<Float>(Float(2 * x + 1) / s, Float(2 * y + 1) / s,
                                       Float(2 * x + 12) / s, Float(2 * y + 12) / s).rounded(.down)
                let i = y * ow + x
                found.append(Candidate(box: box, score: face[i],
                                       reg: SIMD4(reg.data[i], reg.data[oh * ow + i],
                                                  reg.data[2 * oh * ow + i], reg.data[3 * oh * ow + i])))
            }
        }
        let keep = nonMaximumSuppression(boxes: found.map(\.box), scores: found.map(\.score), threshold: 0.5)
        return keep.map { found[$0] }
    }

    // Stage 2: R-Net on 24×24 crops, one batch.
    func refine<S: AreaSource>(_ image: S, _ boxes: [Candidate]) -> [Candidate] {
        let (batch, kept) = crops(image, boxes, size: 24)
        guard let batch else { return [] }
        let (reg, prob) = nets.rnet(batch)
        var pass: [Candidate] = []
        for (n, i) in kept.enumerated() where prob.data[n * 2 + 1] > thresholds.rnet {
            pass.append(Candidate(box: boxes[i].box, score: prob.data[n * 2 + 1],
                                  reg: SIMD4(reg.data[n * 4], reg.data[n * 4 + 1], reg.data[n * 4 + 2], reg.data[n * 4 + 3])))
        }
        let keep = nonMaximumSuppression(boxes: pass.map(\.box), scores: pass.map(\.score), threshold: 0.7)
        return keep.map { i in
            var c = pass[i]
            c.box = square(regress(c.box, c.reg))
            return c
        }
    }

    // Stage 3: O-Net on 48×48 crops, one batch; landmarks; final "Min" NMS.
    func output<S: AreaSource>(_ image: S, _ boxes: [Candidate]) -> [FaceDetection] {
        let (batch, kept) = crops(image, boxes, size: 48)
        guard let batch else { return [] }
        let (reg, marks, prob) = nets.onet(batch)
        var found: [(box: SIMD4<Float>, score: Float, points: [FacePoint])] = []
        for (n, i) in kept.enumerated() where prob.data[n * 2 + 1] > thresholds.onet {
            let b = boxes[i].box
            let bw = b[2] - b[0] + 1, bh = b[3] - b[1] + 1
            // Landmarks are fractions of the box before its regression; −1: 1-based pixels.
            let points = (0..<5).map { k in
                FacePoint(x: Double(bw * marks.data[n * 10 + k] + b[0] - 1),
                          y: Double(bh * marks.data[n * 10 + 5 + k] + b[1] - 1))
            }
            let r = SIMD4(reg.data[n * 4], reg.data[n * 4 + 1], reg.data[n * 4 + 2], reg.data[n * 4 + 3])
            found.append((regress(b, r), prob.data[n * 2 + 1], points))
        }
        let keep = nonMaximumSuppression(boxes: found.map(\.box), scores: found.map(\.score), threshold: 0.7,
                                         measure: .minimum)
        return keep.map { i in
            let f = found[i]
            return FaceDetection(rect: FaceRect(x1: Double(f.box[0]), y1: Double(f.box[1]),
                                                x2: Double(f.box[2]), y2: Double(f.box[3])),
                                 score: Double(f.score), landmarks: f.points)
        }
    }

    /// Box regression of R-Net and O-Net: offsets are fractions of (width + 1, height + 1).
    func regress(_ b: SIMD4<Float>, _ r: SIMD4<Float>) -> SIMD4<Float> {
        let w = b[2] - b[0] + 1, h = b[3] - b[1] + 1
        return b + r * SIMD4(w, h, w, h)
    }

    /// `rerec`: the square of side max(w, h) with the same centre.
    func square(_ b: SIMD4<Float>) -> SIMD4<Float> {
        let w = b[2] - b[0], h = b[3] - b[1]
        let l = max(w, h)
        let x1 = b[0] + w * 0.5 - l * 0.5, y1 = b[1] + h * 0.5 - l * 0.5
        return SIMD4(x1, y1, x1 + l, y1 + l)
    }

    /// The clipped crops of `boxes` (facenet-pytorch's 1-based `pad`: truncate, clip to
    /// [1, W] × [1, H]), each area-resized to size × size and normalised, as one (N, 3, s, s)
    /// batch. A box whose clipped region is empty is dropped; `kept` lists the boxes used.
    func crops<S: AreaSource>(_ image: S, _ boxes: [Candidate], size: Int) -> (Tensor?, [Int]) {
        var regions: [(Int, Int, Int, Int)] = [], kept: [Int] = []
        for (i, c) in boxes.enumerated() {
            // Int(Float) truncates toward zero, like torch's trunc().int().
            let x = max(Int(c.box[0]), 1), y = max(Int(c.box[1]), 1)
            let ex = min(Int(c.box[2]), image.width), ey = min(Int(c.box[3]), image.height)
            if ey > y - 1 && ex > x - 1 {
                regions.append((x - 1, y - 1, ex - x + 1, ey - y + 1))
                kept.append(i)
            }
        }
        guard !regions.isEmpty else { return (nil, []) }
        let batch = cropSlot.tensor([regions.count, 3, size, size])   // written whole below
        let per = 3 * size * size
        for (n, r) in regions.enumerated() {
            image.region(x: r.0, y: r.1, width: r.2, height: r.3)
                .resize(outH: size, outW: size, into: batch.data + n * per, scratch: &scratch)
        }
        normalise(batch.data, batch.count)
        return (batch, kept)
    }
}

/// The second pyramid thread's per-level candidates, read by the caller after joining it.
private final class LevelCandidates: @unchecked Sendable {
    var levels: [[MTCNNDetector.Candidate]] = []
}

/// A closure handed to a GCD thread whose captures the caller keeps alive and does not touch
/// until the thread is joined (``MTCNNDetector/proposals(_:minFace:)``).
private struct UncheckedSendable: @unchecked Sendable {
    let value: () -> Void
    init(_ value: @escaping () -> Void) { self.value = value }
}
