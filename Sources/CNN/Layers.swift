// The engine's non-convolution layers. Each returns its output slot's buffer in the caller's
// workspace (valid until the layer's next call in that workspace).
import CKernels
import Foundation

/// Inference-form batch normalization over (N, C, H, W) or (N, C), where no convolution precedes
/// it to fold into (DenseNet's pre-activation layers). Tensors: `<name>.weight`, `.bias`,
/// `.running_mean`, `.running_var`.
public final class BatchNorm2d: Loadable {
    public let name: String
    public let channels: Int
    public let eps: Float
    public let activation: Activation
    /// Per-channel y = x · scale + shift.
    public internal(set) var scale: [Float], shift: [Float]
    private let output = OutputSlot()

    public init(_ name: String, channels: Int, eps: Float = 1e-5, activation: Activation = .none) {
        self.name = name
        self.channels = channels
        self.eps = eps
        self.activation = activation
        scale = [Float](repeating: 1, count: channels)
        shift = [Float](repeating: 0, count: channels)
    }

    public func load(_ w: WeightLoader) throws {
        (scale, shift) = try loadBatchNorm(w, name, channels: channels, eps: eps)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.count >= 2 && x.shape[1] == channels,
                     "\(name): expects (N, \(channels), …), got \(x.shape)")
        let y = output.tensor(x.shape)
        let planes = x.shape[0] * channels, size = x.count / Swift.max(planes, 1)
        let act = activation, xd = x.data, yd = y.data
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                parallelFor(planes, work: x.count) { range in
                    for plane in range {
                        let c = plane % channels, s = sc[c], b = sh[c]
                        let src = xd + plane * size, dst = yd + plane * size
                        for i in 0..<size { dst[i] = act.apply(src[i] * s + b) }
                    }
                }
            }
        }
        return y
    }
}

/// y = act(x Wᵀ + b): (N, in) -> (N, out), PyTorch weight layout (out, in). An input of any
/// rank whose per-sample size is `in` is read as (N, in). Tensors: `<name>.weight`, `.bias`.
public final class Linear: Loadable {
    public let name: String
    public let inFeatures: Int, outFeatures: Int
    public let hasBias: Bool
    public let activation: Activation
    /// (out, in). With a packed GEMM kernel the packed matrix is the weights after loading
    /// (no unpacked copy is kept; reading this property unpacks it, exactly).
    public internal(set) var weight: [Float] {
        get {
            if let storedWeight { return storedWeight }
            return packedCache.peek(canonicalKernel!)!.unpacked()
        }
        set {
            storedWeight = newValue
            canonicalKernel = nil
            packedCache.removeAll()
        }
    }
    private var storedWeight: [Float]?
    private var canonicalKernel: Engine.GemmKernel?
    public internal(set) var bias: [Float]
    private let output = OutputSlot()
    /// The weights packed for each GEMM kernel used (made on first use, shared by all threads).
    private let packedCache = DerivedCache<Engine.GemmKernel, PackedMatrix>()
    /// The GEMM this layer uses; nil (default) follows `Engine.gemmKernel` (tests pin each kernel).
    var gemmKernel: Engine.GemmKernel?
    /// Batches up to this size run as matrix × vector per sample (`fervid_gemv_packed`), larger
    /// ones as one packed GEMM; both give the same floats. Measured (docs/benchmarks.md,
    /// "Session 14"): O-Net's dense layers at batch 1 went from ≈ 1.1 M to ≈ 0.1 M instructions.
    static let gemvMaxBatch = 4

    public init(_ name: String, in inFeatures: Int, out outFeatures: Int, bias: Bool = true,
                activation: Activation = .none) {
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        hasBias = bias
        self.activation = activation
        storedWeight = [Float](repeating: 0, count: outFeatures * inFeatures)
        self.bias = [Float](repeating: 0, count: outFeatures)
    }

    public func load(_ w: WeightLoader) throws {
        weight = try w.take("\(name).weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try w.take("\(name).bias", shape: [outFeatures])
                       : [Float](repeating: 0, count: outFeatures)
        let kernel = Engine.gemmKernel
        if kernel != .openBLAS && gemmKernel == nil {
            _ = packed(for: kernel)
            storedWeight = nil
            canonicalKernel = kernel
        }
    }

    /// The weights packed for `kernel` (not OpenBLAS), made once.
    private func packed(for kernel: Engine.GemmKernel) -> PackedMatrix {
        if let p = packedCache.peek(kernel) { return p }
        let w = weight   // outside the cache's lock: reading it may unpack from the cache
        return packedCache.value(kernel) {
            w.withUnsafeBufferPointer {
                PackedMatrix(kernel: kernel, m: outFeatures, k: inFeatures, a: $0.baseAddress!, lda: inFeatures)
            }
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape[0]
        precondition(x.shape.dropFirst().reduce(1, *) == inFeatures, "\(name): expects (N, \(inFeatures)), got \(x.shape)")
        let y = output.tensor(n, outFeatures)
        if n == 0 { return y }
        let act = activation, yd = y.data, out = outFeatures
        let kernel = gemmKernel ?? Engine.gemmKernel
        if kernel != .openBLAS && n <= Linear.gemvMaxBatch {
            // A few samples: one pass over the packed weights per sample, straight into y
            // (fervid_gemv_packed: the GEMM's arithmetic, bit-identical, without its 1-of-8+
            // used columns and per-call packing of x).
            let packed = packed(for: kernel)
            let isa = kernel.isa!, (m, k) = (Int32(out), Int32(inFeatures)), relu: Int32 = act == .relu ? 1 : 0
            let mr = Int(fervid_gemm_mr(isa)), groups = (out + 4 * mr - 1) / (4 * mr)
            let xd = UnsafePointer(x.data), ldx = inFeatures
            bias.withUnsafeBufferPointer { bp in
                // The bias always (zeros without one), as the GEMM path adds it: −0 + 0 is +0.
                let b = bp.baseAddress!
                // Split by groups of 4 panels when the weights are large (VGG's classifier); serial
                // below 2¹⁹ multiply-adds, as packedGemm.
                parallelFor(groups, work: out * inFeatures * n / 16) { range in
                    fervid_gemv_packed(isa, m, k, packed.data, Int32(range.lowerBound * 4 * mr),
                                       Int32(Swift.min(range.upperBound * 4 * mr, out)), Int32(n), xd, ldx, yd, out, b, relu)
                }
            }
            if act == .sigmoid {
                for i in 0..<n * out { yd[i] = act.apply(yd[i]) }
            }
            return y
        }
        if kernel != .openBLAS {
            // Yᵀ (out × N) = W · xᵀ with W packed; B's column j is sample j (one-column "images").
            let packed = packed(for: kernel)
            let c = ConvScratch.current.product.reserve(out * n)
            bias.withUnsafeBufferPointer { bp in
                packedGemm(packed, n: n, b: GemmOperandB(images: UnsafePointer(x.data), ldb: 1, imageColumns: 1,
                                                          imageStride: inFeatures),
                           c: c, ldc: n, bias: bp.baseAddress!, relu: act == .relu)
            }
            for i in 0..<n {
                let row = yd + i * out
                for j in 0..<out { row[j] = act == .sigmoid ? act.apply(c[j * n + i]) : c[j * n + i] }
            }
            return y
        }
        weight.withUnsafeBufferPointer { wp in
            gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x.data, lda: inFeatures,
                 b: wp.baseAddress!, ldb: inFeatures, c: y.data, ldc: outFeatures)
        }
        bias.withUnsafeBufferPointer { bp in
            for i in 0..<n {
                let row = yd + i * out
                for j in 0..<out { row[j] = act.apply(row[j] + bp[j]) }
            }
        }
        return y
    }
}

/// Per-channel PReLU over (N, C, …): y = x for x > 0, else a_c · x. Tensor: `<name>.weight` (C).
public final class PReLU: Loadable {
    public let name: String
    public let channels: Int
    public internal(set) var weight: [Float]
    private let output = OutputSlot()

    public init(_ name: String, channels: Int) {
        self.name = name
        self.channels = channels
        weight = [Float](repeating: 0.25, count: channels)
    }

    public func load(_ w: WeightLoader) throws {
        weight = try w.take("\(name).weight", shape: [channels])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = output.tensor(x.shape)
        apply(x, into: y)
        return y
    }

    /// The instruction set of the C kernel: nil (default) follows `Engine.gemmKernel` (tests pin each).
    var gemmKernel: Engine.GemmKernel?

    /// y = prelu(x), C per instruction set (`fervid_prelu`); `y` may be `x` (in place). `kernel`:
    /// whose instruction set to use (a fused convolution passes its own), else the layer's.
    func apply(_ x: Tensor, into y: Tensor, kernel: Engine.GemmKernel? = nil) {
        precondition(x.shape.count >= 2 && x.shape[1] == channels && y.count == x.count,
                     "\(name): expects (N, \(channels), …), got \(x.shape)")
        let planes = x.shape[0] * channels, size = x.count / Swift.max(planes, 1)
        let xd = x.data, yd = y.data
        let isa = (kernel ?? gemmKernel ?? Engine.gemmKernel).isa ?? fervid_gemm_best_isa()
        weight.withUnsafeBufferPointer { a in
            parallelFor(planes, work: x.count) { range in
                fervid_prelu(isa, xd + range.lowerBound * size, yd + range.lowerBound * size, range.lowerBound,
                             range.count, Int32(channels), size, a.baseAddress!)
            }
        }
    }
}

/// Naive twin of `PReLU`: y = x > 0 ? x : a_c · x over (N, C, …).
public func naivePReLU(_ x: Tensor, slopes: [Float]) -> Tensor {
    let y = Tensor(shape: x.shape)
    let c = x.shape[1], size = x.count / Swift.max(x.shape[0] * c, 1)
    for i in 0..<x.count {
        let v = x.data[i], a = slopes[(i / size) % c]
        y.data[i] = v > 0 ? v : a * v
    }
    return y
}

/// Elementwise activation into a layer-owned buffer.
private func elementwise(_ x: Tensor, _ y: Tensor, _ act: Activation) {
    let xd = x.data, yd = y.data, n = x.count
    let chunks = Swift.max(1, n / 16_384)
    parallelFor(chunks, work: n) { range in
        let lo = range.lowerBound * n / chunks, hi = range.upperBound * n / chunks
        for i in lo..<hi { yd[i] = act.apply(xd[i]) }
    }
}

/// max(x, 0), elementwise.
public final class ReLU {
    private let output = OutputSlot()
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = output.tensor(x.shape)
        elementwise(x, y, .relu)
        return y
    }
}

/// 1 / (1 + e^−x), elementwise.
public final class Sigmoid {
    private let output = OutputSlot()
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = output.tensor(x.shape)
        elementwise(x, y, .sigmoid)
        return y
    }
}

/// Softmax along `axis` (default 1: the K of (N, K), or the C of (N, C, H, W) as in MTCNN's
/// P-Net), max-subtracted for stability.
public final class Softmax {
    public let axis: Int
    private let output = OutputSlot()
    public init(axis: Int = 1) { self.axis = axis }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(axis < x.shape.count, "Softmax: axis \(axis) for shape \(x.shape)")
        let y = output.tensor(x.shape)
        let outer = x.shape[..<axis].reduce(1, *), len = x.shape[axis]
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        if len == 2 {
            // Two classes (MTCNN's face / background, per pixel of P-Net's map): the same
            // arithmetic in C, without the generic loop's per-element overhead.
            fervid_softmax2(x.data, y.data, outer, inner)
            return y
        }
        for o in 0..<outer {
            for i in 0..<inner {
                let src = x.data + o * len * inner + i, dst = y.data + o * len * inner + i
                var m = -Float.infinity
                for k in 0..<len { m = Swift.max(m, src[k * inner]) }
                var sum: Float = 0
                for k in 0..<len {
                    let e = expf(src[k * inner] - m)
                    dst[k * inner] = e
                    sum += e
                }
                let inv = 1 / sum
                for k in 0..<len { dst[k * inner] *= inv }
            }
        }
        return y
    }
}

/// Output size of a pooling window along one axis (PyTorch `pooling_output_shape`, and TF "same").
func poolOutputSize(_ size: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int,
                    ceilMode: Bool) -> Int {
    var out = (size + padBefore + padAfter - kernel + (ceilMode ? stride - 1 : 0)) / stride + 1
    // PyTorch: the last window must start inside the input or the left padding.
    if ceilMode && (out - 1) * stride >= size + padBefore { out -= 1 }
    return out
}

/// Pooling geometry: output size and (top, left, bottom, right) padding.
struct PoolGeometry {
    let oh: Int, ow: Int
    let top: Int, left: Int, bottom: Int, right: Int

    init(h: Int, w: Int, kernel: Int, stride: Int, padding: Padding, ceilMode: Bool) {
        let p = padding.resolve(h: h, w: w, kh: kernel, kw: kernel, stride: stride)
        (top, left, bottom, right) = p
        if padding == .same {
            oh = (h + stride - 1) / stride
            ow = (w + stride - 1) / stride
        } else {
            oh = poolOutputSize(h, kernel: kernel, stride: stride, padBefore: p.top, padAfter: p.bottom, ceilMode: ceilMode)
            ow = poolOutputSize(w, kernel: kernel, stride: stride, padBefore: p.left, padAfter: p.right, ceilMode: ceilMode)
        }
    }
}

/// Max pooling with PyTorch semantics (padding acts as −∞, `ceil_mode` windows may hang over
/// the edge); `.same` padding gives Keras' `MaxPooling2D(padding="same")`.
public final class MaxPool2d {
    public let kernel: Int, stride: Int, padding: Padding, ceilMode: Bool
    private let output = OutputSlot()
    /// The output of ``callAsFunction(_:adding:)``.
    let addedOutput = OutputSlot()
    /// The instruction set's variant to run, as the GEMM kernel's name; nil: the engine's (tests).
    var gemmKernel: Engine.GemmKernel?

    /// `stride` defaults to `kernel`, as in PyTorch.
    public init(kernel: Int, stride: Int? = nil, padding: Padding = .symmetric(0), ceilMode: Bool = false) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "MaxPool2d: expects (N, C, H, W), got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = PoolGeometry(h: h, w: w, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        precondition(g.oh > 0 && g.ow > 0, "MaxPool2d: input \(x.shape) too small")
        let y = output.tensor(n, c, g.oh, g.ow)
        let (k, s, xd, yd) = (kernel, stride, x.data, y.data)
        // Separable passes in C, compiled per instruction set (naiveMaxPool2d is the oracle).
        let isa = (gemmKernel ?? Engine.gemmKernel).isa ?? fervid_gemm_best_isa()
        let chunks = parallelChunkCount(n * c, work: y.count * k * k)
        let scratch = ConvScratch.current.transform.reserve(chunks * h * g.ow)
        parallelFor(n * c, work: y.count * k * k) { chunk, range in
            fervid_maxpool(isa, xd + range.lowerBound * h * w, yd + range.lowerBound * g.oh * g.ow, range.count,
                           Int32(h), Int32(w), Int32(g.oh), Int32(g.ow), Int32(k), Int32(s), Int32(g.top),
                           Int32(g.left), scratch + chunk * h * g.ow)
        }
        return y
    }
}

extension MaxPool2d {
    /// maxpool(x) + r in one pass (r: the output's shape), into a buffer of its own: a residual
    /// module's pool and shortcut add (mini-Xception). Column-first C kernel per instruction set
    /// (`fervid_maxpool_add`); naive twin: naiveMaxPool2d, then the sum.
    public func callAsFunction(_ x: Tensor, adding r: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "MaxPool2d: expects (N, C, H, W), got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = PoolGeometry(h: h, w: w, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        precondition(g.oh > 0 && g.ow > 0, "MaxPool2d: input \(x.shape) too small")
        precondition(r.shape == [n, c, g.oh, g.ow], "MaxPool2d: residual \(r.shape), output \([n, c, g.oh, g.ow])")
        let y = addedOutput.tensor(n, c, g.oh, g.ow)
        let (k, s, xd, rd, yd) = (kernel, stride, x.data, r.data, y.data)
        let isa = (gemmKernel ?? Engine.gemmKernel).isa ?? fervid_gemm_best_isa()
        let per = fervid_maxpool_add_scratch(Int32(g.ow), Int32(k), Int32(s))
        let chunks = parallelChunkCount(n * c, work: x.count * k)
        let scratch = ConvScratch.current.transform.reserve(chunks * per)
        let (h32, w32, oh32, ow32) = (Int32(h), Int32(w), Int32(g.oh), Int32(g.ow))
        let (k32, s32, top32, left32) = (Int32(k), Int32(s), Int32(g.top), Int32(g.left))
        parallelFor(n * c, work: x.count * k) { chunk, range in
            let o = range.lowerBound * g.oh * g.ow
            let xi = UnsafePointer(xd + range.lowerBound * h * w)
            let ri = UnsafePointer(rd + o)
            let yi: UnsafeMutablePointer<Float> = yd + o
            let si: UnsafeMutablePointer<Float> = scratch + chunk * per
            fervid_maxpool_add(isa, xi, ri, yi, range.count, h32, w32, oh32, ow32, k32, s32, top32, left32, si)
        }
        return y
    }
}

/// Average pooling with PyTorch semantics: with `countIncludePad` the divisor counts padding
/// (but not the part of a `ceil_mode` window beyond the padding); without it, only real pixels.
/// Keras' `AveragePooling2D(padding="same")` is `.same` with `countIncludePad: false`.
public final class AvgPool2d {
    public let kernel: Int, stride: Int, padding: Padding, ceilMode: Bool, countIncludePad: Bool
    private let output = OutputSlot()

    public init(kernel: Int, stride: Int? = nil, padding: Padding = .symmetric(0), ceilMode: Bool = false,
                countIncludePad: Bool = true) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "AvgPool2d: expects (N, C, H, W), got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = PoolGeometry(h: h, w: w, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        precondition(g.oh > 0 && g.ow > 0, "AvgPool2d: input \(x.shape) too small")
        let y = output.tensor(n, c, g.oh, g.ow)
        let (k, s, xd, yd, include) = (kernel, stride, x.data, y.data, countIncludePad)
        parallelFor(n * c, work: y.count * k * k) { range in
            for plane in range {
                let src = xd + plane * h * w, dst = yd + plane * g.oh * g.ow
                for oh in 0..<g.oh {
                    var h0 = oh * s - g.top
                    var h1 = Swift.min(h0 + k, h + g.bottom)
                    let ph = h1 - h0
                    h0 = Swift.max(h0, 0)
                    h1 = Swift.min(h1, h)
                    for ow in 0..<g.ow {
                        var w0 = ow * s - g.left
                        var w1 = Swift.min(w0 + k, w + g.right)
                        let pw = w1 - w0
                        w0 = Swift.max(w0, 0)
                        w1 = Swift.min(w1, w)
                        var sum: Float = 0
                        for ih in h0..<Swift.max(h1, h0) {
                            for iw in w0..<Swift.max(w1, w0) { sum += src[ih * w + iw] }
                        }
                        let divisor = include ? ph * pw : (h1 - h0) * (w1 - w0)
                        dst[oh * g.ow + ow] = divisor > 0 ? sum / Float(divisor) : 0
                    }
                }
            }
        }
        return y
    }
}

/// Adaptive average pooling to `outH`×`outW` with PyTorch's bin edges:
/// bin i covers [floor(i·H/outH), ceil((i+1)·H/outH)).
public final class AdaptiveAvgPool2d {
    public let outH: Int, outW: Int
    private let output = OutputSlot()

    public init(outH: Int, outW: Int) {
        self.outH = outH
        self.outW = outW
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "AdaptiveAvgPool2d: expects (N, C, H, W), got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = output.tensor(n, c, outH, outW)
        let (oh, ow, xd, yd) = (outH, outW, x.data, y.data)
        parallelFor(n * c, work: n * c * h * w) { range in
            for plane in range {
                let src = xd + plane * h * w, dst = yd + plane * oh * ow
                for i in 0..<oh {
                    let h0 = i * h / oh, h1 = ((i + 1) * h + oh - 1) / oh
                    for j in 0..<ow {
                        let w0 = j * w / ow, w1 = ((j + 1) * w + ow - 1) / ow
                        var sum: Float = 0
                        for ih in h0..<h1 { for iw in w0..<w1 { sum += src[ih * w + iw] } }
                        dst[i * ow + j] = sum / Float((h1 - h0) * (w1 - w0))
                    }
                }
            }
        }
        return y
    }
}

/// Mean over H and W: (N, C, H, W) -> (N, C).
public final class GlobalAvgPool {
    private let output = OutputSlot()
    public init() {}

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "GlobalAvgPool: expects (N, C, H, W), got \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[1])
        let size = x.shape[2] * x.shape[3]
        let y = output.tensor(n, c)
        let xd = x.data, yd = y.data
        parallelFor(n * c, work: x.count) { range in
            for plane in range {
                let src = xd + plane * size
                var sum: Float = 0
                for i in 0..<size { sum += src[i] }
                yd[plane] = sum / Float(size)
            }
        }
        return y
    }
}

/// Concatenation along channels: [(N, Cᵢ, H, W)] -> (N, ΣCᵢ, H, W). Works for (N, Fᵢ) too.
public final class Concat {
    private let output = OutputSlot()
    public init() {}

    public func callAsFunction(_ xs: [Tensor]) -> Tensor {
        precondition(!xs.isEmpty, "Concat: no inputs")
        let first = xs[0].shape
        precondition(first.count == 2 || first.count == 4, "Concat: expects (N, C, H, W) or (N, F), got \(first)")
        let n = first[0], spatial = xs[0].count / Swift.max(n * first[1], 1)
        var channels = 0
        for t in xs {
            precondition(t.shape.count == first.count && t.shape[0] == n
                         && (first.count == 2 || (t.shape[2] == first[2] && t.shape[3] == first[3])),
                         "Concat: \(t.shape) does not match \(first) outside the channel axis")
            channels += t.shape[1]
        }
        let y = first.count == 4 ? output.tensor(n, channels, first[2], first[3]) : output.tensor(n, channels)
        for i in 0..<n {
            var dst = y.data + i * channels * spatial
            for t in xs {
                let block = t.shape[1] * spatial
                dst.update(from: t.data + i * block, count: block)
                dst += block
            }
        }
        return y
    }

    public func callAsFunction(_ xs: Tensor...) -> Tensor { self(xs) }
}

/// Channels appended one group after another into one (N, C_total, H, W) buffer: a dense
/// block's features without re-concatenating everything before each layer. The buffer and the
/// count filled live in the caller's workspace (one stack per concurrent call); the buffer is
/// reused by the next `start` in that workspace.
public final class ChannelStack {
    private let output = OutputSlot()
    private let stateSlot = OutputSlot()

    /// The per-call part: the buffer and how many channels are written.
    private final class State {
        var buffer: Tensor?
        var filled = 0
    }

    private var state: State { Workspace.current.object(stateSlot.id) { State() } }

    public init() {}

    /// Channels written so far.
    public var filled: Int { state.filled }

    /// The whole buffer, (N, C_total, H, W); channels at and past ``filled`` are not yet written.
    public var tensor: Tensor {
        guard let buffer = state.buffer else { preconditionFailure("ChannelStack: start(_:channels:) first") }
        return buffer
    }

    /// Starts a buffer of `channels` channels holding `x` (N, C, H, W) in its first C.
    public func start(_ x: Tensor, channels: Int) {
        precondition(x.shape.count == 4 && x.shape[1] <= channels,
                     "ChannelStack: \(x.shape) does not fit \(channels) channels")
        let s = state
        s.buffer = output.tensor(x.shape[0], channels, x.shape[2], x.shape[3])
        s.filled = 0
        append(x)
    }

    /// Copies `x` (N, C, H, W) into channels [filled, filled + C).
    public func append(_ x: Tensor) {
        let s = state
        let t = tensor
        precondition(x.shape.count == 4 && x.shape[0] == t.shape[0] && x.shape[2] == t.shape[2]
                     && x.shape[3] == t.shape[3] && s.filled + x.shape[1] <= t.shape[1],
                     "ChannelStack: cannot append \(x.shape) to \(t.shape) holding \(s.filled) channels")
        let n = x.shape[0], block = x.count / Swift.max(n, 1), stride = t.count / Swift.max(n, 1)
        let offset = s.filled * x.shape[2] * x.shape[3]
        for i in 0..<n { (t.data + i * stride + offset).update(from: x.data + i * block, count: block) }
        s.filled += x.shape[1]
    }
}

/// Elementwise a + b (same shape), with an optional fused activation (ResNet's relu(out + identity)).
public final class Add {
    public let activation: Activation
    private let output = OutputSlot()
    public init(activation: Activation = .none) { self.activation = activation }

    public func callAsFunction(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "Add: shapes \(a.shape) and \(b.shape) differ")
        let y = output.tensor(a.shape)
        let (ad, bd, yd, n, act) = (a.data, b.data, y.data, a.count, activation)
        let chunks = Swift.max(1, n / 16_384)
        parallelFor(chunks, work: n) { range in
            let lo = range.lowerBound * n / chunks, hi = range.upperBound * n / chunks
            for i in lo..<hi { yd[i] = act.apply(ad[i] + bd[i]) }
        }
        return y
    }
}

/// x (N, C, H, W) scaled per (sample, channel) by s (N, C): DBA-Net's attention weighting.
public final class ScaleChannels {
    private let output = OutputSlot()
    public init() {}

    public func callAsFunction(_ x: Tensor, _ s: Tensor) -> Tensor {
        precondition(x.shape.count == 4 && s.count == x.shape[0] * x.shape[1],
                     "ScaleChannels: x \(x.shape) needs s of (N, C), got \(s.shape)")
        let y = output.tensor(x.shape)
        let planes = x.shape[0] * x.shape[1], size = x.shape[2] * x.shape[3]
        let (xd, sd, yd) = (x.data, s.data, y.data)
        parallelFor(planes, work: x.count) { range in
            for plane in range {
                let f = sd[plane], src = xd + plane * size, dst = yd + plane * size
                for i in 0..<size { dst[i] = src[i] * f }
            }
        }
        return y
    }
}

/// (N, C, H, W) -> (N, C·H·W). `.chw` is PyTorch's `x.view(N, -1)`; `.whc` is
/// `x.permute(0, 3, 2, 1).reshape(N, -1)`, the order MTCNN's (Caffe-converted) dense layers expect.
public final class Flatten {
    public enum Order: Sendable { case chw, whc }
    public let order: Order
    private let output = OutputSlot()
    public init(order: Order = .chw) { self.order = order }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape[0], f = x.shape.dropFirst().reduce(1, *)
        let y = output.tensor(n, f)
        switch order {
        case .chw:
            y.data.update(from: x.data, count: x.count)
        case .whc:
            precondition(x.shape.count == 4, "Flatten(.whc): expects (N, C, H, W), got \(x.shape)")
            // In C: the Swift loop's index arithmetic cost ≈ 24 instructions an element (R-Net).
            fervid_flatten_whc(x.data, y.data, n, Int32(x.shape[1]), Int32(x.shape[2]), Int32(x.shape[3]))
        }
        return y
    }
}
