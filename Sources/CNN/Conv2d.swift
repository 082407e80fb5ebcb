// 2-D convolution: im2col over the whole batch + one GEMM per group (a batch of N images is one
// GEMM with N·OH·OW columns), a direct kernel for depthwise convolution, batch normalization
// folded into the weights at load time, and bias + activation fused into the epilogue.
import CKernels
import Foundation

/// The spatial geometry of one convolution or pooling call.
struct ConvGeometry {
    var n, c, h, w: Int           // input (N, C, H, W)
    var kh, kw, stride, dilation: Int
    var padTop, padLeft, padBottom, padRight: Int
    var oh, ow: Int               // output spatial size

    init(n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int, dilation: Int,
         padding: Padding) {
        (self.n, self.c, self.h, self.w) = (n, c, h, w)
        (self.kh, self.kw, self.stride, self.dilation) = (kh, kw, stride, dilation)
        let p = padding.resolve(h: h, w: w, kh: kh, kw: kw, stride: stride, dilation: dilation)
        (padTop, padLeft, padBottom, padRight) = p
        oh = (h + p.top + p.bottom - dilation * (kh - 1) - 1) / stride + 1
        ow = (w + p.left + p.right - dilation * (kw - 1) - 1) / stride + 1
    }
}

/// Folds an inference-form batch normalization into per-channel (scale, shift):
/// y = (x − mean) / sqrt(var + eps) · γ + β = x · scale + shift.
func loadBatchNorm(_ w: WeightLoader, _ name: String, channels: Int, eps: Float) throws
    -> (scale: [Float], shift: [Float]) {
    let gamma = try w.take("\(name).weight", shape: [channels])
    let beta = try w.take("\(name).bias", shape: [channels])
    let mean = try w.take("\(name).running_mean", shape: [channels])
    let variance = try w.take("\(name).running_var", shape: [channels])
    var scale = [Float](repeating: 0, count: channels), shift = scale
    for c in 0..<channels {
        scale[c] = gamma[c] / (variance[c] + eps).squareRoot()
        shift[c] = beta[c] - mean[c] * scale[c]
    }
    return (scale, shift)
}

/// A 2-D convolution over (N, C, H, W), PyTorch weight layout (out, in/groups, kh, kw), with an
/// optional batch normalization folded in at load time and a fused activation.
///
/// Checkpoint tensors: `<name>.weight`, `<name>.bias` (if `bias`), and for `batchNorm: bn`
/// `<bn>.weight`, `<bn>.bias`, `<bn>.running_mean`, `<bn>.running_var`.
public final class Conv2d: Loadable {
    public let name: String
    public let inChannels: Int, outChannels: Int
    public let kernelH: Int, kernelW: Int, stride: Int, dilation: Int, groups: Int
    public let padding: Padding
    public let hasBias: Bool
    public let batchNorm: String?
    public let bnEpsilon: Float
    public let activation: Activation

    /// (out, in/groups, kh, kw) with any batch normalization folded in; GEMM's A, row-major.
    /// Set by ``load(_:)``; the copies derived from it (packed, Winograd) are made on first use
    /// and shared by every thread running the layer.
    ///
    /// A layer that only ever runs on the packed GEMM (1×1 and strided convolutions) keeps no
    /// unpacked copy after loading: its packed matrices are the weights, and reading this
    /// property unpacks them (exactly).
    public internal(set) var weight: [Float] {
        get {
            if let w = canonicalWeight() { return w }
            preconditionFailure("\(name): the weights were dropped after loading and \(reloadPath ?? "the checkpoint") no longer holds them")
        }
        set {
            weightLock.withLock {
                storedWeight = newValue
                reloadPath = nil
            }
            canonicalKernel = nil
            packedCache.removeAll()
            winogradCache.removeAll()
        }
    }
    /// The unpacked weights, nil once the packed ones for `canonicalKernel` stand for them, or
    /// once a Winograd layer loaded from a file has made its filters (`reloadPath`).
    private var storedWeight: [Float]?
    private var canonicalKernel: Engine.GemmKernel?
    /// A 3×3 Winograd layer loaded from a checkpoint file drops its unpacked weights once it has
    /// made its first filters: the forward pass reads only the filters (4× the weights' memory
    /// for F(4×4), so keeping both cost ResNet-101 ~73 MB). A later shape that needs another copy
    /// (F(2×2) filters for a smaller batch, im2col's packed weights) reads them again from the
    /// file, folded the same way, and checks them against `weightDigest`; if the file changed
    /// or is gone the layer runs the filters it has (`winogradFallback`).
    private var reloadPath: String?
    private var weightDigest: UInt64 = 0
    private let weightLock = NSLock()

    /// The unpacked weights: kept, unpacked from the canonical packed copy, or read again from
    /// the checkpoint; nil when they were dropped and the checkpoint no longer holds them.
    func canonicalWeight() -> [Float]? {
        let (stored, path) = weightLock.withLock { (storedWeight, reloadPath) }
        if let stored { return stored }
        if let kernel = canonicalKernel { return packedCache.peek(kernel)!.flatMap { $0.unpacked() } }
        guard let path, let file = try? SafeTensorsFile(path: path),
              let (w, _) = try? foldedParameters(WeightLoader(file)), Conv2d.digest(w) == weightDigest else { return nil }
        return w
    }

    /// Drops the unpacked weights of a layer that can read them again (after a derivation).
    func dropReloadableWeight() {
        let dropped = weightLock.withLock { () -> Bool in
            guard reloadPath != nil, storedWeight != nil else { return false }
            storedWeight = nil
            return true
        }
        if dropped { Engine.noteWeightsDropped() }
    }

    /// Whether the unpacked weights were dropped (a reloadable layer after its first filters).
    var weightDropped: Bool { weightLock.withLock { storedWeight == nil && reloadPath != nil } }

    /// FNV-1a over the floats' bits.
    static func digest(_ w: [Float]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in w { h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
        return h
    }

    /// A layer that runs only Winograd or im2col (3×3 stride 1, not direct), with the engine's
    /// packed GEMM: its unpacked weights can go once its first filters exist.
    var dropsWeightAfterDeriving: Bool {
        kernelH == 3 && kernelW == 3 && stride == 1 && dilation == 1 && groups == 1
            && inChannels * kernelH * kernelW > Conv2d.directMaxDepth
            && algorithm == .automatic && gemmKernel == nil && Engine.gemmKernel != .openBLAS
    }
    /// (out): the conv bias plus the folded batch-norm shift (zeros when neither exists).
    public internal(set) var bias: [Float]
    /// This layer's output slot (its buffer lives in the caller's workspace). A model may set
    /// it, before the first call, to a slot it shares with layers whose outputs are dead by then.
    public var output = OutputSlot()
    /// The normalized input, when a pre-normalized call cannot fuse the normalization.
    let normalizedInput = OutputSlot()

    /// How the forward pass computes: chosen per call by shape (`.automatic`), or forced (tests,
    /// benchmarks).
    enum Algorithm { case automatic, im2col, winograd, winograd4, direct }
    var algorithm = Algorithm.automatic
    /// The weights packed for each GEMM kernel used, one matrix per group.
    let packedCache = DerivedCache<Engine.GemmKernel, [PackedMatrix]>()
    /// Winograd-transformed filters per (output tile, GEMM kernel) used.
    let winogradCache = DerivedCache<WinogradKey, WinogradFilters>()

    /// The GEMM this layer uses; nil (default) follows `Engine.gemmKernel` (tests pin each kernel).
    var gemmKernel: Engine.GemmKernel?

    /// The packed weights for the current GEMM kernel, nil when that kernel is OpenBLAS.
    func currentPackedWeight() -> [PackedMatrix]? {
        let kernel = gemmKernel ?? Engine.gemmKernel
        if kernel == .openBLAS { return nil }
        let og = outChannels / groups, k = (inChannels / groups) * kernelH * kernelW
        if let packed = packedCache.peek(kernel) { return packed }
        let w = weight   // outside the cache's lock: reading it may unpack from the cache
        return packedCache.value(kernel) { PackedMatrix.pack(w, count: groups, m: og, k: k, kernel: kernel)! }
    }

    /// nil, unless the im2col path needs its packed weights, this layer dropped its unpacked
    /// ones and its checkpoint no longer holds them: then a Winograd tile whose filters exist.
    func winogradFallback() -> Int? {
        let kernel = gemmKernel ?? Engine.gemmKernel
        guard weightDropped, packedCache.peek(kernel) == nil else { return nil }
        if let w = canonicalWeight() {
            let og = outChannels / groups, k = (inChannels / groups) * kernelH * kernelW
            _ = packedCache.value(kernel) { PackedMatrix.pack(w, count: groups, m: og, k: k, kernel: kernel)! }
            return nil
        }
        return [4, 2].first { winogradCache.peek(WinogradKey(m: $0, kernel: kernel)) != nil }
    }

    /// Whether every call takes the GEMM path (not depthwise, direct or Winograd), whatever the
    /// input: such a layer needs its weights only packed.
    var runsOnlyOnGemm: Bool {
        let depthwise = groups == inChannels && groups == outChannels
        let direct = stride == 1 && dilation == 1 && groups == 1 && inChannels * kernelH * kernelW <= Conv2d.directMaxDepth
        let pointwise = kernelH == 1 && kernelW == 1 && dilation == 1 && groups == 1 && inChannels <= Conv2d.directMaxDepth
        let winograd = kernelH == 3 && kernelW == 3 && stride == 1 && dilation == 1 && groups == 1
        return !depthwise && !direct && !pointwise && !winograd && algorithm == .automatic && gemmKernel == nil
    }

    /// Packs the weights for the engine's GEMM now and drops the unpacked copy, for a layer that
    /// only runs on the GEMM (no-op otherwise, and with OpenBLAS).
    func keepOnlyPacked() {
        let kernel = Engine.gemmKernel
        guard runsOnlyOnGemm, kernel != .openBLAS, storedWeight != nil else { return }
        _ = currentPackedWeight()
        storedWeight = nil
        canonicalKernel = kernel
    }

    /// A convolution with a `kernel`×`kernel` window.
    public convenience init(_ name: String, in inChannels: Int, out outChannels: Int, kernel: Int,
                            stride: Int = 1, padding: Padding = .symmetric(0), dilation: Int = 1,
                            groups: Int = 1, bias: Bool = true, batchNorm: String? = nil,
                            bnEpsilon: Float = 1e-5, activation: Activation = .none) {
        self.init(name, in: inChannels, out: outChannels, kernel: (kernel, kernel), stride: stride,
                  padding: padding, dilation: dilation, groups: groups, bias: bias,
                  batchNorm: batchNorm, bnEpsilon: bnEpsilon, activation: activation)
    }

    /// A convolution with a `kernel.0`×`kernel.1` (height × width) window.
    public init(_ name: String, in inChannels: Int, out outChannels: Int, kernel: (Int, Int),
                stride: Int = 1, padding: Padding = .symmetric(0), dilation: Int = 1,
                groups: Int = 1, bias: Bool = true, batchNorm: String? = nil,
                bnEpsilon: Float = 1e-5, activation: Activation = .none) {
        precondition(inChannels > 0 && outChannels > 0 && kernel.0 > 0 && kernel.1 > 0
                     && stride > 0 && dilation > 0 && groups > 0, "\(name): bad Conv2d parameters")
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "\(name): channels \(inChannels)->\(outChannels) not divisible by groups \(groups)")
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        (kernelH, kernelW) = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        hasBias = bias
        self.batchNorm = batchNorm
        self.bnEpsilon = bnEpsilon
        self.activation = activation
        storedWeight = [Float](repeating: 0, count: outChannels * (inChannels / groups) * kernel.0 * kernel.1)
        self.bias = [Float](repeating: 0, count: outChannels)
    }

    public func load(_ w: WeightLoader) throws {
        let (wt, b) = try foldedParameters(w)
        weight = wt
        bias = b
        keepOnlyPacked()
        if dropsWeightAfterDeriving, let path = w.filePath {
            weightDigest = Conv2d.digest(wt)
            weightLock.withLock { reloadPath = path }
        }
    }

    /// The weights and bias as the checkpoint gives them, any batch normalization folded in.
    private func foldedParameters(_ w: WeightLoader) throws -> (weight: [Float], bias: [Float]) {
        let k = (inChannels / groups) * kernelH * kernelW
        var wt = try w.take("\(name).weight", shape: [outChannels, inChannels / groups, kernelH, kernelW])
        var b = hasBias ? try w.take("\(name).bias", shape: [outChannels])
                        : [Float](repeating: 0, count: outChannels)
        if let bn = batchNorm {
            let (scale, shift) = try loadBatchNorm(w, bn, channels: outChannels, eps: bnEpsilon)
            for o in 0..<outChannels {
                for i in 0..<k { wt[o * k + i] *= scale[o] }
                b[o] = b[o] * scale[o] + shift[o]
            }
        }
        return (wt, b)
    }

    /// Output geometry for an input of `h`×`w`.
    func geometry(n: Int, h: Int, w: Int) -> ConvGeometry {
        ConvGeometry(n: n, c: inChannels, h: h, w: w, kh: kernelH, kw: kernelW, stride: stride,
                     dilation: dilation, padding: padding)
    }

    /// (N, in, H, W) -> (N, out, OH, OW), in this layer's slot of the caller's workspace.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        forward(x, residual: nil, activation: activation)
    }

    /// act(conv(x) + residual), the residual (N, out, OH, OW) added in the GEMM's epilogue where
    /// it can be (ResNet's relu(conv3(…) + identity) with no separate pass); the layer's own
    /// activation must be `.none`.
    public func callAsFunction(_ x: Tensor, adding residual: Tensor, activation act: Activation) -> Tensor {
        precondition(activation == .none, "\(name): a residual call needs a layer without its own activation")
        return forward(x, residual: residual, activation: act)
    }

    /// prelu(conv(x)): MTCNN's conv → PReLU pairs. The direct kernel and the Winograd output
    /// transform apply the slopes to each output as they store it; other paths run `prelu`'s C
    /// kernel over the output in place. The layer's own activation must be `.none`; `prelu`'s own
    /// output buffer is not used.
    public func callAsFunction(_ x: Tensor, prelu: PReLU) -> Tensor {
        precondition(activation == .none && prelu.channels == outChannels,
                     "\(name): a PReLU call needs a layer without its own activation and \(outChannels) slopes")
        return forward(x, residual: nil, activation: .none, prelu: prelu)
    }

    private func forward(_ x: Tensor, residual: Tensor?, activation act: Activation, prelu: PReLU? = nil) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == inChannels,
                     "\(name): expects (N, \(inChannels), H, W), got \(x.shape)")
        let g = geometry(n: x.shape[0], h: x.shape[2], w: x.shape[3])
        precondition(g.oh > 0 && g.ow > 0, "\(name): input \(x.shape) too small for the kernel")
        let y = output.tensor(g.n, outChannels, g.oh, g.ow)
        if let residual {
            precondition(residual.shape == y.shape, "\(name): residual \(residual.shape), output \(y.shape)")
        }
        var fusedPReLU = false
        defer { if let prelu, !fusedPReLU { prelu.apply(y, into: y, kernel: gemmKernel) } }
        if groups == inChannels && groups == outChannels {
            depthwise(x, y, g)
        } else if usesPointwise(g) {
            pointwise(x, y, g)
        } else if usesDirect(g) {
            direct(x, y, g, slopes: prelu?.weight)
            fusedPReLU = prelu != nil
        } else if let m = winogradTileSize(g) ?? winogradFallback() {
            winogradConvolution(x, y, g, tile: m, slopes: prelu?.weight)
            fusedPReLU = prelu != nil
        } else {
            gemmConvolution(x, y, g, residual: residual, activation: act)
            return y
        }
        if let residual {
            // Paths without a residual epilogue: one pass over the output.
            let yd = y.data, rd = residual.data
            parallelFor(y.count, work: y.count) { range in
                for i in range { yd[i] = act.apply(yd[i] + rd[i]) }
            }
        }
        return y
    }

    // MARK: GEMM path

    /// Output planes smaller than this many pixels are batched: several images' columns in one
    /// GEMM (then scattered to NCHW). Larger planes already give GEMM enough columns, and going
    /// image by image writes straight into the output with no gather/scatter pass (measured at
    /// batch 16: layer1 1×1 64→256 on 25×25 went from 0.40 to ~0.9 of plain sgemm; on 13×13,
    /// 1×1 convs went from 0.84 to 0.88–0.95 of sgemm, thread CPU time, one thread).
    static let batchImagesBelow = 128

    /// Floats allowed in one im2col tile (16 MB): bounds scratch memory at large inputs/batches.
    /// Per layer so tests can force tiling.
    var tileBudget = 1 << 22

    private func gemmConvolution(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry, residual: Tensor?,
                                 activation act: Activation) {
        let p = g.oh * g.ow
        let cg = inChannels / groups, og = outChannels / groups
        let k = cg * kernelH * kernelW
        let pointwise = kernelH == 1 && kernelW == 1 && stride == 1 && g.padTop == 0 && g.padLeft == 0
            && g.padBottom == 0 && g.padRight == 0
        // Columns per tile: whole images when they fit, else slices of one image.
        let perTile = Swift.max(tileBudget / Swift.max(k * groups, outChannels), 64)
        let scratch = ConvScratch.current
        let packed = currentPackedWeight()
        // The unpacked weights only for OpenBLAS (a packed-only layer would unpack them).
        (packed == nil ? weight : []).withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                let tile = GemmTile(conv: self, x: x, y: y, g: g, p: p, cg: cg, og: og, k: k,
                                    pointwise: pointwise, weight: wp.baseAddress,
                                    bias: bp.baseAddress!, packed: packed,
                                    residual: residual.map { UnsafePointer($0.data) }, act: act, scratch: scratch)
                if p < Conv2d.batchImagesBelow && p <= perTile {
                    let imagesPerTile = Swift.max(1, perTile / p)
                    var n0 = 0
                    while n0 < g.n {
                        let ni = Swift.min(imagesPerTile, g.n - n0)
                        tile.run(image: n0, offset: 0, columns: ni * p)
                        n0 += ni
                    }
                } else {
                    for n0 in 0..<g.n {
                        var p0 = 0
                        while p0 < p {
                            let cols = Swift.min(perTile, p - p0)
                            tile.run(image: n0, offset: p0, columns: cols)
                            p0 += cols
                        }
                    }
                }
            }
        }
    }

    /// One GEMM tile: columns [image·P + offset, … + columns) of the batch's output.
    private struct GemmTile {
        let conv: Conv2d
        let x: Tensor, y: Tensor
        let g: ConvGeometry
        let p: Int, cg: Int, og: Int, k: Int
        let pointwise: Bool
        /// The unpacked weights, for OpenBLAS only (nil with a packed kernel).
        let weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>
        /// The weights packed for the engine's GEMM (per group), nil for OpenBLAS.
        let packed: [PackedMatrix]?
        /// Added before the activation (same layout as the output), when given.
        let residual: UnsafePointer<Float>?
        let act: Activation
        let scratch: ConvScratch

        func run(image n0: Int, offset p0: Int, columns cols: Int) {
            let groups = conv.groups, outC = conv.outChannels, inC = conv.inChannels
            let singleImage = p0 + cols <= p
            // B: (groups·K, cols) row-major with leading dimension ldb.
            let b: UnsafePointer<Float>
            let ldb: Int
            if pointwise && singleImage {
                // 1×1 stride 1: the input plane is already the column matrix.
                b = UnsafePointer(x.data + n0 * inC * p + p0)
                ldb = p
            } else if pointwise {
                // Several whole images: gather (C, n·P) from (n, C, P), rows of P floats.
                let col = scratch.columns.reserve(inC * cols)
                let images = cols / p
                let src = x.data + n0 * inC * p
                parallelFor(inC, work: inC * cols) { range in
                    for ci in range {
                        for j in 0..<images {
                            (col + ci * cols + j * p).update(from: src + (j * inC + ci) * p, count: p)
                        }
                    }
                }
                b = UnsafePointer(col)
                ldb = cols
            } else {
                let col = scratch.columns.reserve(groups * k * cols)
                im2col(x.data, g, firstColumn: n0 * p + p0, columns: cols, into: col)
                b = UnsafePointer(col)
                ldb = cols
            }
            // C: straight into the output when the tile is inside one image, else a scratch
            // (outC, cols) scattered to NCHW by the epilogue.
            let c: UnsafeMutablePointer<Float>
            let ldc: Int
            if singleImage {
                c = y.data + n0 * outC * p + p0
                ldc = p
            } else {
                c = scratch.product.reserve(outC * cols)
                ldc = cols
            }
            // The packed GEMM applies bias, residual and ReLU itself when C is the output.
            let act = self.act, bias = self.bias, ydata = y.data, residual = self.residual
            let fused = singleImage && packed != nil && (act == .none || act == .relu)
            for gi in 0..<groups {
                if let packed {
                    let res = fused ? residual.map { $0 + n0 * outC * p + p0 + gi * og * p } : nil
                    packedGemm(packed[gi], n: cols, b: GemmOperandB(b + gi * k * ldb, ldb: ldb, columns: cols),
                               c: c + gi * og * ldc, ldc: ldc, bias: fused ? bias + gi * og : nil,
                               residual: res, ldr: p, relu: fused && act == .relu)
                } else {
                    gemm(m: og, n: cols, k: k, a: weight! + gi * og * k, lda: k,
                         b: b + gi * k * ldb, ldb: ldb, c: c + gi * og * ldc, ldc: ldc)
                }
            }
            if fused { return }
            // Epilogue: bias + activation, scattering (outC, n·P) to (n, outC, P) when needed.
            if singleImage {
                parallelFor(outC, work: outC * cols) { range in
                    for co in range {
                        let row = c + co * ldc
                        if let residual {
                            biasResidualActivation(row, row, residual + (n0 * outC + co) * p + p0, count: cols,
                                                   bias: bias[co], act)
                        } else {
                            biasActivation(row, row, count: cols, bias: bias[co], act)
                        }
                    }
                }
            } else {
                let images = cols / p
                parallelFor(outC, work: outC * cols) { range in
                    for co in range {
                        for j in 0..<images {
                            let dst = ydata + ((n0 + j) * outC + co) * p
                            if let residual {
                                biasResidualActivation(dst, c + co * ldc + j * p, residual + ((n0 + j) * outC + co) * p,
                                                       count: p, bias: bias[co], act)
                            } else {
                                biasActivation(dst, c + co * ldc + j * p, count: p, bias: bias[co], act)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Depthwise path

    /// groups == in == out: each plane convolved with its own kh×kw filter, no GEMM (C, per
    /// instruction set).
    private func depthwise(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry) {
        let planes = g.n * g.c
        let act = activation, xdata = x.data, ydata = y.data
        let isa = (gemmKernel ?? Engine.gemmKernel).isa ?? fervid_gemm_best_isa()
        weight.withUnsafeBufferPointer { wbuf in
            bias.withUnsafeBufferPointer { bbuf in
                let wp = wbuf.baseAddress!, bp = bbuf.baseAddress!
                parallelFor(planes, work: planes * g.oh * g.ow * kernelH * kernelW) { range in
                    fervid_conv_depthwise(isa, xdata + range.lowerBound * g.h * g.w, range.lowerBound, range.count, Int32(g.c),
                                          Int32(g.h), Int32(g.w), wp, bp, Int32(kernelH), Int32(kernelW),
                                          Int32(g.stride), Int32(g.dilation), Int32(g.padTop), Int32(g.padLeft),
                                          ydata + range.lowerBound * g.oh * g.ow, Int32(g.oh), Int32(g.ow),
                                          act == .relu ? 1 : 0)
                }
                if act == .sigmoid {
                    parallelFor(y.count, work: y.count) { range in
                        for i in range { ydata[i] = act.apply(ydata[i]) }
                    }
                }
            }
        }
    }

    // MARK: Pointwise path

    /// Runs every call on the direct kernels: the pointwise one for a 1×1 unpadded convolution
    /// (any stride), the direct one for a stride-1 window, whatever the depth. For a network of
    /// small planes where im2col and GEMM packing cost more than the multiply-adds
    /// (mini-Xception's last 1×1 and its 3×3 head on 4×4 planes). Set before loading.
    public var prefersDirect: Bool {
        get { algorithm == .direct }
        set { algorithm = newValue ? .direct : .automatic }
    }

    /// A 1×1, ungrouped, undilated, unpadded convolution of few input channels (or one that
    /// prefers the direct kernels): `fervid_pointwise`, reading the input planes in place
    /// (a stride > 1 first subsamples them).
    func usesPointwise(_ g: ConvGeometry) -> Bool {
        guard kernelH == 1 && kernelW == 1 && groups == 1 && dilation == 1
                && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0 else { return false }
        switch algorithm {
        case .direct: return true
        case .automatic: return inChannels <= Conv2d.directMaxDepth
        default: return false
        }
    }

    /// y = act(W·x + b) per pixel, C per instruction set; a strided call reads the input
    /// subsampled into scratch.
    private func pointwise(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry) {
        let act = activation, ydata = y.data
        let isa = (gemmKernel ?? Engine.gemmKernel).isa ?? fervid_gemm_best_isa()
        let (inC, outC, p) = (inChannels, outChannels, g.oh * g.ow)
        var src = UnsafePointer(x.data)
        if g.stride > 1 {
            let sub = ConvScratch.current.columns.reserve(g.n * inC * p)
            let (s, h, w, oh, ow, xd) = (g.stride, g.h, g.w, g.oh, g.ow, x.data)
            for plane in 0..<(g.n * inC) {
                let from = xd + plane * h * w, to = sub + plane * p
                for i in 0..<oh {
                    let row = from + i * s * w, out = to + i * ow
                    for j in 0..<ow { out[j] = row[j * s] }
                }
            }
            src = UnsafePointer(sub)
        }
        let input = src
        weight.withUnsafeBufferPointer { wbuf in
            bias.withUnsafeBufferPointer { bbuf in
                let wp = wbuf.baseAddress!, bp = bbuf.baseAddress!
                let relu: Int32 = act == .relu ? 1 : 0, cin = Int32(inC)
                parallelFor(g.n * outC, work: g.n * outC * p * inC) { range in
                    // Whole images per chunk when there are several, else blocks of output channels.
                    if g.n > 1 && range.count % outC == 0 && range.lowerBound % outC == 0 {
                        let i0 = range.lowerBound / outC
                        let xi: UnsafePointer<Float> = input + i0 * inC * p
                        let yi: UnsafeMutablePointer<Float> = ydata + i0 * outC * p
                        fervid_pointwise(isa, xi, range.count / outC, cin, p, wp, bp, Int32(outC), yi, relu)
                        return
                    }
                    var r = range.lowerBound
                    while r < range.upperBound {
                        let img = r / outC, co = r % outC
                        let count = Swift.min(outC - co, range.upperBound - r)
                        let xi: UnsafePointer<Float> = input + img * inC * p
                        let yi: UnsafeMutablePointer<Float> = ydata + (img * outC + co) * p
                        let wi: UnsafePointer<Float> = wp + co * inC, bi: UnsafePointer<Float> = bp + co
                        fervid_pointwise(isa, xi, 1, cin, p, wi, bi, Int32(count), yi, relu)
                        r += count
                    }
                }
                if act == .sigmoid {
                    parallelFor(y.count, work: y.count) { range in
                        for i in range { ydata[i] = act.apply(ydata[i]) }
                    }
                }
            }
        }
    }

    // MARK: Direct path

    /// Deepest (input channels × taps) a convolution runs directly rather than through im2col and
    /// GEMM: MTCNN's and mini-Xception's first layers (depth 9–90).
    static let directMaxDepth = 96

    func usesDirect(_ g: ConvGeometry) -> Bool {
        switch algorithm {
        case .direct: return stride == 1 && dilation == 1 && groups == 1
        case .automatic:
            return stride == 1 && dilation == 1 && groups == 1 && inChannels * kernelH * kernelW <= Conv2d.directMaxDepth
        default: return false
        }
    }

    /// Stride-1 convolution straight from zero-padded input rows (C, per instruction set).
    private func direct(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry, slopes: [Float]? = nil) {
        let act = activation, xdata = x.data, ydata = y.data
        let isa = (gemmKernel ?? Engine.gemmKernel).isa ?? fervid_gemm_best_isa()
        let (inC, outC) = (inChannels, outChannels)
        // A 1×1 unpadded convolution reads each input pixel once: the whole plane is one row, so
        // small planes (mini-Xception's 15×15, 8×8, 4×4) fill the kernel's vectors.
        var g = g
        if kernelH == 1 && kernelW == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0 {
            (g.h, g.w, g.oh, g.ow) = (1, g.h * g.w, 1, g.oh * g.ow)
        }
        let scratchCount = fervid_conv_direct_scratch(Int32(inC), Int32(kernelH), Int32(kernelW), Int32(g.ow))
        weight.withUnsafeBufferPointer { wbuf in
            bias.withUnsafeBufferPointer { bbuf in
                let wp = wbuf.baseAddress!, bp = bbuf.baseAddress!
                withOptionalBuffer(slopes) { sp in
                    let work = g.n * outC * g.oh * g.ow * inC * kernelH * kernelW
                    if g.n < parallelChunkCount(g.n * g.oh, work: work) {
                        // Fewer images than threads (batch 1: mini-Xception's conv2, a 60×60×8
                        // layer): each image's output rows split across the threads.
                        for img in 0..<g.n {
                            let xi = UnsafePointer(xdata + img * inC * g.h * g.w), yi = ydata + img * outC * g.oh * g.ow
                            parallelFor(g.oh, work: work / g.n) { rows in
                                let scratch = ConvScratch.current.columns.reserve(scratchCount)
                                fervid_conv_direct_rows(isa, xi, 1, Int32(inC), Int32(g.h), Int32(g.w), wp, bp,
                                                        Int32(outC), Int32(kernelH), Int32(kernelW), Int32(g.padTop),
                                                        Int32(g.padLeft), yi, Int32(g.oh), Int32(g.ow),
                                                        act == .relu ? 1 : 0, sp, scratch, Int32(rows.lowerBound),
                                                        Int32(rows.upperBound))
                            }
                        }
                        return
                    }
                    parallelFor(g.n, work: work) { range in
                        let scratch = ConvScratch.current.columns.reserve(scratchCount)
                        fervid_conv_direct_act(isa, xdata + range.lowerBound * inC * g.h * g.w, Int32(range.count), Int32(inC),
                                               Int32(g.h), Int32(g.w), wp, bp, Int32(outC), Int32(kernelH), Int32(kernelW),
                                               Int32(g.padTop), Int32(g.padLeft),
                                               ydata + range.lowerBound * outC * g.oh * g.ow, Int32(g.oh), Int32(g.ow),
                                               act == .relu ? 1 : 0, sp, scratch)
                    }
                }
                if act == .sigmoid {
                    parallelFor(y.count, work: y.count) { range in
                        for i in range { ydata[i] = act.apply(ydata[i]) }
                    }
                }
            }
        }
    }
}

/// im2col over a batch: rows (ci, ki, kj) of all input channels, columns the global output
/// positions [firstColumn, firstColumn + columns) with column = n·OH·OW + oh·OW + ow.
/// `dst` is (C·kh·kw, columns) row-major; padded positions are 0.
func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, firstColumn c0: Int, columns: Int,
            into dst: UnsafeMutablePointer<Float>) {
    let rows = g.c * g.kh * g.kw
    let p = g.oh * g.ow
    let wholeImages = c0 % p == 0 && columns % p == 0
    parallelFor(rows, work: rows * columns) { range in
        for r in range {
            let ci = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw
            let off = kj * g.dilation - g.padLeft          // iw = ow·stride + off
            // Output columns whose input column lies inside the image: [owLo, owHi).
            let owLo = Swift.min(Swift.max(0, ceilDiv(-off, g.stride)), g.ow)
            let owHi = Swift.max(Swift.min(g.ow, floorDiv(g.w - 1 - off, g.stride) + 1), owLo)
            let rowOffset = ki * g.dilation - g.padTop     // ih = oh·stride + rowOffset
            if wholeImages {
                // Common case: whole images, no division per output row.
                var out = dst + r * columns
                for img in (c0 / p)..<((c0 + columns) / p) {
                    let plane = x + (img * g.c + ci) * g.h * g.w
                    for oh in 0..<g.oh {
                        let ih = oh * g.stride + rowOffset
                        if ih < 0 || ih >= g.h {
                            for o in 0..<g.ow { out[o] = 0 }
                        } else {
                            let src = plane + ih * g.w + off
                            for o in 0..<owLo { out[o] = 0 }
                            if g.stride == 1 {
                                for o in owLo..<owHi { out[o] = src[o] }
                            } else if g.stride == 2 {
                                for o in owLo..<owHi { out[o] = src[2 * o] }
                            } else {
                                for o in owLo..<owHi { out[o] = src[o * g.stride] }
                            }
                            for o in owHi..<g.ow { out[o] = 0 }
                        }
                        out += g.ow
                    }
                }
                continue
            }
            // A slice of one image (or a ragged range): walk output rows piecewise.
            let dstRow = dst + r * columns
            var col = c0
            let end = c0 + columns
            while col < end {
                let img = col / p
                let pos = col % p
                let oh = pos / g.ow, owStart = pos % g.ow
                let owEnd = Swift.min(g.ow, owStart + (end - col))
                let out = dstRow + (col - c0) - owStart      // out[ow] for ow in owStart..<owEnd
                let ih = oh * g.stride + rowOffset
                if ih < 0 || ih >= g.h {
                    for o in owStart..<owEnd { out[o] = 0 }
                } else {
                    let src = x + ((img * g.c + ci) * g.h + ih) * g.w + off
                    let lo = Swift.min(Swift.max(owStart, owLo), owEnd)
                    let hi = Swift.max(Swift.min(owEnd, owHi), lo)
                    for o in owStart..<lo { out[o] = 0 }
                    for o in lo..<hi { out[o] = src[o * g.stride] }
                    for o in hi..<owEnd { out[o] = 0 }
                }
                col += owEnd - owStart
            }
        }
    }
}

/// `body` with a pointer to `values`' elements, or nil.
@inline(__always) func withOptionalBuffer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}
