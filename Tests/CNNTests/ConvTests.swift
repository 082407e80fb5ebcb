import Testing
@testable import CNN

/// One convolution configuration checked against `naiveConv2d`.
struct ConvCase: CustomStringConvertible, Sendable {
    var n = 1, c = 3, h = 7, w = 9, out = 4
    var kh = 3, kw = 3, stride = 1, padding: Padding = .symmetric(1), dilation = 1, groups = 1
    var bias = true, activation: Activation = .none
    var description: String {
        "n\(n) c\(c) \(h)x\(w) -> \(out) k\(kh)x\(kw) s\(stride) \(padding) d\(dilation) g\(groups) \(activation)"
    }
}

let convCases: [ConvCase] = [
    ConvCase(),
    ConvCase(n: 3, c: 5, h: 11, w: 6, out: 7, kh: 3, kw: 3, stride: 2, padding: .symmetric(1)),
    ConvCase(n: 2, c: 3, h: 13, w: 13, out: 8, kh: 7, kw: 7, stride: 2, padding: .symmetric(3), activation: .relu),
    ConvCase(n: 2, c: 6, h: 5, w: 5, out: 9, kh: 1, kw: 1, stride: 1, padding: .symmetric(0)),        // pointwise, batch gather
    ConvCase(n: 1, c: 6, h: 5, w: 7, out: 9, kh: 1, kw: 1, stride: 1, padding: .symmetric(0), activation: .sigmoid),
    ConvCase(n: 2, c: 8, h: 9, w: 9, out: 4, kh: 1, kw: 1, stride: 2, padding: .symmetric(0)),        // strided 1×1
    ConvCase(n: 2, c: 4, h: 10, w: 9, out: 6, kh: 3, kw: 3, stride: 2, padding: .same),                 // TF same, odd pad
    ConvCase(n: 1, c: 3, h: 8, w: 11, out: 5, kh: 3, kw: 3, stride: 1, padding: .same),
    ConvCase(n: 2, c: 4, h: 9, w: 10, out: 4, kh: 3, kw: 3, stride: 1, padding: .symmetric(2), dilation: 2),
    ConvCase(n: 2, c: 6, h: 7, w: 7, out: 9, kh: 3, kw: 3, stride: 1, padding: .symmetric(1), groups: 3),
    ConvCase(n: 3, c: 5, h: 8, w: 7, out: 5, kh: 3, kw: 3, stride: 1, padding: .symmetric(1), groups: 5, activation: .relu), // depthwise
    ConvCase(n: 2, c: 4, h: 9, w: 8, out: 4, kh: 3, kw: 3, stride: 2, padding: .same, groups: 4),        // depthwise, same, s2
    ConvCase(n: 1, c: 4, h: 9, w: 8, out: 4, kh: 5, kw: 3, stride: 3, padding: .explicit(top: 2, left: 0, bottom: 1, right: 2), dilation: 2, groups: 4),
    ConvCase(n: 2, c: 4, h: 6, w: 9, out: 8, kh: 3, kw: 3, stride: 1, padding: .symmetric(1), groups: 4), // channel multiplier 2
    ConvCase(n: 2, c: 3, h: 6, w: 9, out: 5, kh: 2, kw: 4, stride: 1, padding: .explicit(top: 0, left: 1, bottom: 1, right: 2), bias: false),
    ConvCase(n: 4, c: 2, h: 1, w: 1, out: 3, kh: 1, kw: 1),                                              // 1×1 spatial
]

@Test("Conv2d matches naiveConv2d", arguments: convCases)
func convMatchesNaive(_ t: ConvCase) throws {
    let conv = Conv2d("conv", in: t.c, out: t.out, kernel: (t.kh, t.kw), stride: t.stride, padding: t.padding,
                      dilation: t.dilation, groups: t.groups, bias: t.bias, activation: t.activation)
    let wShape = [t.out, t.c / t.groups, t.kh, t.kw]
    let weight = randomValues(wShape.reduce(1, *), seed: 11)
    let bias = randomValues(t.out, seed: 12)
    var tensors: [String: (shape: [Int], values: [Float])] = ["conv.weight": (wShape, weight)]
    if t.bias { tensors["conv.bias"] = ([t.out], bias) }
    let w = loader(tensors)
    try conv.load(w)
    try w.finish()
    let x = randomTensor([t.n, t.c, t.h, t.w], seed: 13)
    let expected = naiveConv2d(x, weight: weight, bias: t.bias ? bias : nil, outChannels: t.out,
                               kernel: (t.kh, t.kw), stride: t.stride, padding: t.padding,
                               dilation: t.dilation, groups: t.groups, activation: t.activation)
    // Every GEMM: OpenBLAS and each packed micro-kernel this CPU runs.
    for kernel in convKernels {
        conv.gemmKernel = kernel
        let y = conv(x)
        #expect(maxError(y, expected) < 1e-5, "\(t) \(kernel)")
        // A second call reuses the buffer and gives the same answer.
        let again = conv(x)
        #expect(again === y)
        #expect(maxError(again, expected) < 1e-5, "\(t) \(kernel)")
    }
}

/// OpenBLAS and every packed GEMM kernel this CPU runs.
let convKernels = [Engine.GemmKernel.openBLAS] + packedKernels

/// Tiles that split one image's columns, and tiles of several whole images, against naive.
@Test func convTilingMatchesNaive() throws {
    for (n, h, w) in [(3, 11, 13), (5, 3, 4)] {
        let conv = Conv2d("c", in: 3, out: 5, kernel: 3, stride: 1, padding: .symmetric(1))
        conv.tileBudget = 64 * 27       // 64 columns per tile for K = 3·3·3
        let weight = randomValues(5 * 27, seed: 21), bias = randomValues(5, seed: 22)
        try conv.load(loader(["c.weight": ([5, 3, 3, 3], weight), "c.bias": ([5], bias)]))
        let x = randomTensor([n, 3, h, w], seed: 23)
        let expected = naiveConv2d(x, weight: weight, bias: bias, outChannels: 5, kernel: (3, 3),
                                   padding: .symmetric(1))
        #expect(maxError(conv(x), expected) < 1e-5)
    }
}

/// BN folded into the conv equals conv followed by unfolded BN.
@Test func batchNormFolding() throws {
    let (c, o) = (4, 6)
    let conv = Conv2d("features.0", in: c, out: o, kernel: 3, stride: 1, padding: .symmetric(1),
                      bias: false, batchNorm: "features.1", bnEpsilon: 1e-3, activation: .relu)
    let weight = randomValues(o * c * 9, seed: 31)
    let gamma = randomValues(o, seed: 32), beta = randomValues(o, seed: 33)
    let mean = randomValues(o, seed: 34), variance = randomValues(o, seed: 35, range: 0.1...2)
    let w = loader([
        "features.0.weight": ([o, c, 3, 3], weight),
        "features.1.weight": ([o], gamma), "features.1.bias": ([o], beta),
        "features.1.running_mean": ([o], mean), "features.1.running_var": ([o], variance),
        "features.1.num_batches_tracked": ([], [0]),
    ])
    try conv.load(w)
    try w.finish()
    let x = randomTensor([2, c, 5, 6], seed: 36)
    let convOut = naiveConv2d(x, weight: weight, bias: nil, outChannels: o, kernel: (3, 3), padding: .symmetric(1))
    let bn = naiveBatchNorm(convOut, gamma: gamma, beta: beta, mean: mean, variance: variance, eps: 1e-3)
    let expected = Tensor(shape: bn.shape, values: bn.toArray().map { max($0, 0) })
    #expect(maxError(conv(x), expected) < 1e-5)
}

/// Sizes above the engine's parallel threshold, so the multi-threaded im2col, epilogue,
/// depthwise and gather loops run (when the machine has more than one core).
@Test func largeShapesMatchNaive() throws {
    let cases = [
        // im2col: 288 rows × 1,150 columns; epilogue 24 × 1,150.
        ConvCase(n: 2, c: 32, h: 25, w: 23, out: 24, kh: 3, kw: 3, stride: 1, padding: .symmetric(1), activation: .relu),
        // pointwise gather over 4 images: 128 rows × 2,304 columns.
        ConvCase(n: 4, c: 128, h: 24, w: 24, out: 16, kh: 1, kw: 1, stride: 1, padding: .symmetric(0)),
        // depthwise: 64 planes × 24·24 outputs × 9 taps.
        ConvCase(n: 2, c: 32, h: 48, w: 47, out: 32, kh: 3, kw: 3, stride: 2, padding: .same, groups: 32),
    ]
    for t in cases {
      for algorithm in [Conv2d.Algorithm.im2col, .automatic] {
       for kernel in convKernels {
        let conv = Conv2d("conv", in: t.c, out: t.out, kernel: (t.kh, t.kw), stride: t.stride, padding: t.padding,
                          groups: t.groups, activation: t.activation)
        conv.algorithm = algorithm
        conv.gemmKernel = kernel
        let wShape = [t.out, t.c / t.groups, t.kh, t.kw]
        let weight = randomValues(wShape.reduce(1, *), seed: 201), bias = randomValues(t.out, seed: 202)
        try conv.load(loader(["conv.weight": (wShape, weight), "conv.bias": ([t.out], bias)]))
        let x = randomTensor([t.n, t.c, t.h, t.w], seed: 203)
        let expected = naiveConv2d(x, weight: weight, bias: bias, outChannels: t.out, kernel: (t.kh, t.kw),
                                   stride: t.stride, padding: t.padding, groups: t.groups, activation: t.activation)
        // .automatic may pick Winograd F(4×4), which rounds ~10× more (see winogradRounding…).
        #expect(maxError(conv(x), expected) < (algorithm == .im2col ? 1e-5 : 2e-4), "\(t) \(algorithm) \(kernel)")
       }
      }
    }
    let x = randomTensor([2, 16, 64, 63], seed: 204)
    #expect(maxError(MaxPool2d(kernel: 3, stride: 2, padding: .symmetric(1))(x),
                     naiveMaxPool2d(x, kernel: 3, stride: 2, padding: .symmetric(1))) == 0)
    #expect(maxError(AvgPool2d(kernel: 3, stride: 2, ceilMode: true)(x),
                     naiveAvgPool2d(x, kernel: 3, stride: 2, ceilMode: true)) < 1e-6)
}

/// A batch computed at once equals each image computed alone (batching changes no values
/// beyond summation order).
@Test func batchEqualsSingleImages() throws {
    let conv = Conv2d("c", in: 4, out: 6, kernel: 3, stride: 2, padding: .symmetric(1))
    let weight = randomValues(6 * 4 * 9, seed: 301), bias = randomValues(6, seed: 302)
    try conv.load(loader(["c.weight": ([6, 4, 3, 3], weight), "c.bias": ([6], bias)]))
    let batch = randomTensor([5, 4, 9, 11], seed: 303)
    let all = conv(batch).toArray()
    let per = all.count / 5
    let single = Conv2d("c", in: 4, out: 6, kernel: 3, stride: 2, padding: .symmetric(1))
    try single.load(loader(["c.weight": ([6, 4, 3, 3], weight), "c.bias": ([6], bias)]))
    for i in 0..<5 {
        let one = Tensor(shape: [1, 4, 9, 11], values: Array(batch.toArray()[(i * 396)..<((i + 1) * 396)]))
        let y = single(one).toArray()
        #expect(zip(y, all[(i * per)..<((i + 1) * per)]).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}

/// Winograd F(2×2, 3×3) and F(4×4, 3×3) against the naive convolution: odd and even sizes (partial tiles),
/// paddings 0/1/same, batches, chunks that split images, BN folded, activations.
@Test func winogradMatchesNaive() throws {
    let cases: [(ConvCase, budget: Int?)] = [
        (ConvCase(n: 1, c: 16, h: 8, w: 8, out: 16), nil),
        (ConvCase(n: 3, c: 17, h: 7, w: 9, out: 19, activation: .relu), nil),
        (ConvCase(n: 2, c: 16, h: 6, w: 5, out: 20, padding: .symmetric(0)), nil),
        (ConvCase(n: 2, c: 18, h: 11, w: 10, out: 16, padding: .same, activation: .sigmoid), nil),
        (ConvCase(n: 1, c: 3, h: 5, w: 5, out: 2, padding: .explicit(top: 0, left: 1, bottom: 2, right: 1)), nil),
        (ConvCase(n: 4, c: 16, h: 9, w: 7, out: 24), 16 * 24 * 7),    // 7 tiles per chunk: chunks split images
        (ConvCase(n: 2, c: 32, h: 31, w: 33, out: 32, activation: .relu), nil),  // parallel transforms
    ]
    for (t, budget) in cases {
      for algorithm in [Conv2d.Algorithm.winograd, .winograd4] {
       for kernel in convKernels {
        let conv = Conv2d("conv", in: t.c, out: t.out, kernel: 3, padding: t.padding, activation: t.activation)
        conv.algorithm = algorithm
        conv.gemmKernel = kernel
        if let budget { conv.tileBudget = budget }
        let weight = randomValues(t.out * t.c * 9, seed: 401), bias = randomValues(t.out, seed: 402)
        try conv.load(loader(["conv.weight": ([t.out, t.c, 3, 3], weight), "conv.bias": ([t.out], bias)]))
        let x = randomTensor([t.n, t.c, t.h, t.w], seed: 403)
        let expected = naiveConv2d(x, weight: weight, bias: bias, outChannels: t.out, kernel: (3, 3),
                                   padding: t.padding, activation: t.activation)
        // F(4×4) rounds ~10× more than F(2×2) (transform coefficients up to 8).
        let tolerance: Float = algorithm == .winograd4 ? 2e-4 : 1e-5
        #expect(maxError(conv(x), expected) < tolerance, "\(t) \(algorithm) \(kernel)")
        #expect(maxError(conv(x), expected) < tolerance, "\(t) \(algorithm) \(kernel), second call")
       }
      }
    }
    // The automatic choice takes Winograd for a large enough 3×3 layer, and the transformed
    // filters follow a reload with BN folded.
    let conv = Conv2d("c", in: 16, out: 16, kernel: 3, padding: .symmetric(1), bias: false, batchNorm: "bn")
    let x = randomTensor([2, 16, 12, 12], seed: 404)
    #expect(conv.usesWinograd(conv.geometry(n: 2, h: 12, w: 12)))
    for seed in [405, 406] as [UInt64] {
        let weight = randomValues(16 * 16 * 9, seed: seed)
        let gamma = randomValues(16, seed: seed + 10), beta = randomValues(16, seed: seed + 20)
        let mean = randomValues(16, seed: seed + 30), variance = randomValues(16, seed: seed + 40, range: 0.5...2)
        try conv.load(loader(["c.weight": ([16, 16, 3, 3], weight), "bn.weight": ([16], gamma), "bn.bias": ([16], beta),
                              "bn.running_mean": ([16], mean), "bn.running_var": ([16], variance)]))
        let raw = naiveConv2d(x, weight: weight, bias: nil, outChannels: 16, kernel: (3, 3), padding: .symmetric(1))
        let expected = naiveBatchNorm(raw, gamma: gamma, beta: beta, mean: mean, variance: variance, eps: 1e-5)
        #expect(maxError(conv(x), expected) < 2e-4)       // F(4×4) is chosen here
        #expect(conv.winogradCache.peek(WinogradKey(m: 4, kernel: Engine.gemmKernel)) != nil)
    }
}

/// Rounding of the Winograd paths on a ResNet-like layer (128 → 128 channels on 7×7, inputs in
/// [0, 1) as after a ReLU, Kaiming-scaled weights): F(2×2) stays near im2col's rounding, F(4×4)
/// within 1e-4 of the output scale.
@Test func winogradRoundingOnARealisticLayer() throws {
    let c = 128, k = c * 9
    let scale = (2 / Float(k)).squareRoot() * 1.7       // uniform with Kaiming's variance
    let weight = randomValues(c * k, seed: 501).map { $0 * scale }
    let bias = randomValues(c, seed: 502).map { $0 * 0.1 }
    let x = Tensor(shape: [2, c, 7, 7], values: randomValues(2 * c * 49, seed: 503).map { ($0 + 1) / 2 })
    let expected = naiveConv2d(x, weight: weight, bias: bias, outChannels: c, kernel: (3, 3), padding: .symmetric(1))
    let outputScale = expected.toArray().map(abs).max()!
    var errors: [Conv2d.Algorithm: Float] = [:]
    for algorithm in [Conv2d.Algorithm.im2col, .winograd, .winograd4] {
        let conv = Conv2d("c", in: c, out: c, kernel: 3, padding: .symmetric(1))
        conv.algorithm = algorithm
        try conv.load(loader(["c.weight": ([c, c, 3, 3], weight), "c.bias": ([c], bias)]))
        let y = conv(x)
        var worst: Float = 0
        for i in 0..<y.count { worst = max(worst, abs(y.data[i] - expected.data[i])) }
        errors[algorithm] = worst / outputScale
    }
    print("winograd rounding, max |error| / max |y|:", errors.map { "\($0.key): \($0.value)" })
    #expect(errors[.im2col]! < 1e-5)
    #expect(errors[.winograd]! < 1e-5)
    #expect(errors[.winograd4]! < 1e-4)
}

/// BN-ReLU-Conv1×1 in one call (the normalization applied while packing B) against the naive
/// batch norm, ReLU and convolution of the first C channels of a wider buffer: large planes (one
/// GEMM per image), small planes (every image in one GEMM, columns crossing images), every GEMM
/// kernel (OpenBLAS materializes the normalized input instead), and norms with and without ReLU.
@Test func preNormalizedPointwiseMatchesNaive() throws {
    for (n, stored, c, h, w, out) in [(2, 40, 33, 12, 13, 20), (5, 70, 64, 6, 6, 48), (3, 9, 9, 3, 3, 13)] {
        for normAct in [Activation.relu, .none] {
            let weight = randomValues(out * c, seed: 501), bias = randomValues(out, seed: 502)
            let gamma = randomValues(c, seed: 503), beta = randomValues(c, seed: 504)
            let mean = randomValues(c, seed: 505), variance = randomValues(c, seed: 506, range: 0.5...2)
            let x = randomTensor([n, stored, h, w], seed: 507)
            // The naive reference: slice the first c channels, normalize, activate, convolve.
            let p = h * w, xs = x.toArray()
            var sliced = [Float]()
            for img in 0..<n { sliced += xs[(img * stored * p)..<((img * stored + c) * p)] }
            var normed = naiveBatchNorm(Tensor(shape: [n, c, h, w], values: sliced), gamma: gamma, beta: beta,
                                        mean: mean, variance: variance, eps: 1e-5).toArray()
            if normAct == .relu { normed = normed.map { max($0, 0) } }
            let expected = naiveConv2d(Tensor(shape: [n, c, h, w], values: normed), weight: weight, bias: bias,
                                       outChannels: out, kernel: (1, 1), padding: .symmetric(0), activation: .relu)
            for kernel in convKernels {
                let norm = BatchNorm2d("bn", channels: c, activation: normAct)
                try norm.load(loader(["bn.weight": ([c], gamma), "bn.bias": ([c], beta),
                                      "bn.running_mean": ([c], mean), "bn.running_var": ([c], variance)]))
                let conv = Conv2d("conv", in: c, out: out, kernel: 1, activation: .relu)
                try conv.load(loader(["conv.weight": ([out, c, 1, 1], weight), "conv.bias": ([out], bias)]))
                conv.gemmKernel = kernel
                let y = conv(x, normalizedBy: norm)
                #expect(maxError(y, expected) < 1e-5, "n\(n) \(stored)/\(c) \(h)x\(w) -> \(out) \(normAct) \(kernel)")
            }
        }
    }
}

/// A channel stack holds its input and each appended group at the right channel offsets.
@Test func channelStackAppends() {
    let a = randomTensor([3, 2, 4, 5], seed: 521), b = randomTensor([3, 3, 4, 5], seed: 522)
    let stack = ChannelStack()
    stack.start(a, channels: 6)
    stack.append(b)
    #expect(stack.filled == 5)
    let t = stack.tensor
    #expect(t.shape == [3, 6, 4, 5])
    let expected = Concat()(a, b).toArray()
    for img in 0..<3 {
        let got = Array(UnsafeBufferPointer(start: t.data + img * 6 * 20, count: 5 * 20))
        #expect(got == Array(expected[(img * 5 * 20)..<((img + 1) * 5 * 20)]))
    }
}

/// act(conv(x) + residual) in one call against the naive convolution plus the residual: 1×1
/// on large planes (residual in the GEMM epilogue) and small batched planes (in the scatter),
/// strided 1×1, Winograd 3×3 and depthwise (a separate pass), every GEMM kernel.
@Test func residualConvolutionMatchesNaive() throws {
    let cases = [
        ConvCase(n: 2, c: 16, h: 13, w: 12, out: 24, kh: 1, kw: 1, padding: .symmetric(0)),
        ConvCase(n: 5, c: 16, h: 5, w: 6, out: 20, kh: 1, kw: 1, padding: .symmetric(0)),
        ConvCase(n: 2, c: 8, h: 9, w: 9, out: 12, kh: 1, kw: 1, stride: 2, padding: .symmetric(0)),
        ConvCase(n: 2, c: 16, h: 10, w: 11, out: 16),
        ConvCase(n: 2, c: 8, h: 7, w: 7, out: 8, groups: 8),
    ]
    for t in cases {
        for act in [Activation.relu, .none] {
            for kernel in convKernels {
                let conv = Conv2d("conv", in: t.c, out: t.out, kernel: (t.kh, t.kw), stride: t.stride,
                                  padding: t.padding, groups: t.groups)
                conv.gemmKernel = kernel
                let wShape = [t.out, t.c / t.groups, t.kh, t.kw]
                let weight = randomValues(wShape.reduce(1, *), seed: 801), bias = randomValues(t.out, seed: 802)
                try conv.load(loader(["conv.weight": (wShape, weight), "conv.bias": ([t.out], bias)]))
                let x = randomTensor([t.n, t.c, t.h, t.w], seed: 803)
                let plain = naiveConv2d(x, weight: weight, bias: bias, outChannels: t.out, kernel: (t.kh, t.kw),
                                        stride: t.stride, padding: t.padding, groups: t.groups)
                let residual = randomTensor(plain.shape, seed: 804)
                let expected = Tensor(shape: plain.shape,
                                      values: zip(plain.toArray(), residual.toArray()).map { act.apply($0 + $1) })
                let tolerance: Float = conv.usesWinograd(conv.geometry(n: t.n, h: t.h, w: t.w)) ? 2e-4 : 1e-5
                #expect(maxError(conv(x, adding: residual, activation: act), expected) < tolerance,
                        "\(t) \(act) \(kernel)")
            }
        }
    }
}

/// The direct path (few input channels × taps) against the naive convolution: output rows wider
/// than one vector and not a multiple of it, output channels past a block of 8, paddings,
/// non-square windows, no bias, every activation, every instruction-set variant.
@Test func directMatchesNaive() throws {
    let cases = [
        ConvCase(n: 2, c: 3, h: 20, w: 37, out: 10, activation: .relu),                      // P-Net conv1
        ConvCase(n: 1, c: 10, h: 13, w: 40, out: 16, padding: .symmetric(0)),                // P-Net conv2
        ConvCase(n: 3, c: 1, h: 9, w: 18, out: 8, padding: .same),
        ConvCase(n: 2, c: 4, h: 8, w: 9, out: 13, kh: 2, kw: 4,
                 padding: .explicit(top: 0, left: 1, bottom: 1, right: 2), bias: false, activation: .sigmoid),
    ]
    for t in cases {
        for kernel in convKernels {
            let conv = Conv2d("conv", in: t.c, out: t.out, kernel: (t.kh, t.kw), padding: t.padding, bias: t.bias,
                              activation: t.activation)
            conv.gemmKernel = kernel
            #expect(conv.usesDirect(conv.geometry(n: t.n, h: t.h, w: t.w)), "\(t) takes the direct path")
            let wShape = [t.out, t.c, t.kh, t.kw]
            let weight = randomValues(wShape.reduce(1, *), seed: 901), bias = randomValues(t.out, seed: 902)
            var tensors: [String: (shape: [Int], values: [Float])] = ["conv.weight": (wShape, weight)]
            if t.bias { tensors["conv.bias"] = ([t.out], bias) }
            try conv.load(loader(tensors))
            let x = randomTensor([t.n, t.c, t.h, t.w], seed: 903)
            let expected = naiveConv2d(x, weight: weight, bias: t.bias ? bias : nil, outChannels: t.out,
                                       kernel: (t.kh, t.kw), padding: t.padding, activation: t.activation)
            #expect(maxError(conv(x), expected) < 1e-5, "\(t) \(kernel)")
        }
    }
}

/// conv → PReLU in one call (MTCNN): the slopes applied by the direct kernel as it stores (the
/// AVX2 and AVX-512 register-blocked variants: output widths with and without a 16-column
/// tail, channel counts with and without a 6- or 8-channel tail), or in place after the other
/// paths; against the naive convolution followed by the naive PReLU.
@Test func convWithPReLUMatchesNaive() throws {
    let cases = [
        ConvCase(n: 2, c: 3, h: 20, w: 37, out: 10),            // P-Net conv1: direct, ow 35
        ConvCase(n: 1, c: 10, h: 13, w: 40, out: 16),           // P-Net conv2: direct, ow 38
        ConvCase(n: 3, c: 3, h: 24, w: 24, out: 28),            // R-Net conv1: direct, ow 22
        ConvCase(n: 1, c: 2, h: 5, w: 9, out: 7, padding: .same, bias: false),  // direct, ow 9 < 16
        ConvCase(n: 2, c: 16, h: 14, w: 15, out: 32),           // P-Net conv3 shape: not direct
        ConvCase(n: 2, c: 48, h: 4, w: 4, out: 64, kh: 2, kw: 2),  // R-Net conv3: GEMM
    ]
    for t in cases {
        for kernel in convKernels {
            let conv = Conv2d("conv", in: t.c, out: t.out, kernel: (t.kh, t.kw), padding: t.padding, bias: t.bias)
            conv.gemmKernel = kernel
            let wShape = [t.out, t.c, t.kh, t.kw]
            let weight = randomValues(wShape.reduce(1, *), seed: 911), bias = randomValues(t.out, seed: 912)
            var tensors: [String: (shape: [Int], values: [Float])] = ["conv.weight": (wShape, weight)]
            if t.bias { tensors["conv.bias"] = ([t.out], bias) }
            try conv.load(loader(tensors))
            let slopes = randomValues(t.out, seed: 913, range: 0 ... 0.5)
            let prelu = PReLU("act", channels: t.out)
            try prelu.load(loader(["act.weight": ([t.out], slopes)]))
            let x = randomTensor([t.n, t.c, t.h, t.w], seed: 914)
            let expected = naivePReLU(naiveConv2d(x, weight: weight, bias: t.bias ? bias : nil, outChannels: t.out,
                                                  kernel: (t.kh, t.kw), padding: t.padding, activation: .none),
                                      slopes: slopes)
            // Winograd's transforms round differently (the tolerance of winogradMatchesNaive).
            let tolerance: Float = conv.usesWinograd(conv.geometry(n: t.n, h: t.h, w: t.w)) ? 2e-4 : 1e-5
            #expect(maxError(conv(x, prelu: prelu), expected) < tolerance, "\(t) \(kernel)")
        }
    }
}

/// The PReLU layer's C kernel, per instruction set, against its naive twin: exact (one multiply
/// per negative value, nothing to round differently).
@Test func preluMatchesNaive() throws {
    for shape in [[3, 5, 7, 9], [4, 128], [1, 10, 1, 33]] {
        let c = shape[1]
        let slopes = randomValues(c, seed: 921, range: -0.5 ... 0.5)
        let x = randomTensor(shape, seed: 922)
        let expected = naivePReLU(x, slopes: slopes)
        for kernel in convKernels {
            let prelu = PReLU("act", channels: c)
            prelu.gemmKernel = kernel
            try prelu.load(loader(["act.weight": ([c], slopes)]))
            #expect(maxError(prelu(x), expected) == 0, "\(shape) \(kernel)")
        }
    }
}

/// Depthwise 3×3 stride-1 convolutions (mini-Xception's separable convs) take the register
/// kernels (AVX-512: 16 columns, AVX2: 8, tails masked) on every plane size from 1 to 60 wide,
/// "same" and valid padding, with and without bias and ReLU; against the naive convolution.
@Test func depthwise3x3MatchesNaive() throws {
    var cases: [ConvCase] = []
    for side in [1, 2, 4, 7, 8, 9, 15, 16, 17, 30, 60] {
        cases.append(ConvCase(n: 2, c: 5, h: side, w: side + 1, out: 5, padding: .same, groups: 5, activation: .relu))
        if side >= 3 {
            cases.append(ConvCase(n: 1, c: 3, h: side, w: side, out: 3, padding: .symmetric(0), groups: 3, bias: false))
        }
    }
    for t in cases {
        for kernel in convKernels {
            let conv = Conv2d("conv", in: t.c, out: t.out, kernel: 3, padding: t.padding, groups: t.groups, bias: t.bias,
                              activation: t.activation)
            conv.gemmKernel = kernel
            let weight = randomValues(t.out * 9, seed: 931), bias = randomValues(t.out, seed: 932)
            var tensors: [String: (shape: [Int], values: [Float])] = ["conv.weight": ([t.out, 1, 3, 3], weight)]
            if t.bias { tensors["conv.bias"] = ([t.out], bias) }
            try conv.load(loader(tensors))
            let x = randomTensor([t.n, t.c, t.h, t.w], seed: 933)
            let expected = naiveConv2d(x, weight: weight, bias: t.bias ? bias : nil, outChannels: t.out, kernel: (3, 3),
                                       padding: t.padding, groups: t.groups, activation: t.activation)
            #expect(maxError(conv(x), expected) < 1e-5, "\(t) \(kernel)")
        }
    }
}

/// A 1×1 unpadded convolution of few input channels runs on the pointwise kernel, reading the
/// whole plane as one row in place (so 8×8 and 4×4 planes fill the vectors): against the naive
/// convolution, planes of 1 to 60 pixels.
@Test func pointwiseDirectMatchesNaive() throws {
    for (side, c, out) in [(1, 8, 16), (4, 64, 128), (8, 32, 64), (15, 16, 32), (60, 8, 16), (7, 3, 5)] {
        for kernel in convKernels {
            let conv = Conv2d("conv", in: c, out: out, kernel: 1, bias: true, activation: .relu)
            conv.gemmKernel = kernel
            #expect(conv.usesPointwise(conv.geometry(n: 2, h: side, w: side)))
            let weight = randomValues(out * c, seed: 941), bias = randomValues(out, seed: 942)
            try conv.load(loader(["conv.weight": ([out, c, 1, 1], weight), "conv.bias": ([out], bias)]))
            let x = randomTensor([2, c, side, side], seed: 943)
            let expected = naiveConv2d(x, weight: weight, bias: bias, outChannels: out, kernel: (1, 1), activation: .relu)
            #expect(maxError(conv(x), expected) < 1e-5, "\(side)x\(side) \(c)->\(out) \(kernel)")
        }
    }
}

/// The pointwise kernel (fervid_pointwise) on every shape mini-Xception gives it and odd ones:
/// strided 1×1 (the shortcuts, subsampled first; odd and even sides), a deep one that prefers the
/// direct kernels (128 channels on 4×4), output-channel counts with and without a tail of the 6-
/// (AVX2) or 8-channel (AVX-512) block, plane sizes around the 16- and 32-column steps, batches
/// of one (split by output channels across threads) and several, no bias, every activation;
/// against the naive convolution, every instruction set.
@Test func pointwiseKernelMatchesNaive() throws {
    struct Case { var n, c, side, out, stride: Int; var preferDirect = false, bias = true; var act = Activation.none }
    let cases = [
        Case(n: 1, c: 8, side: 60, out: 16, stride: 2),
        Case(n: 3, c: 16, side: 15, out: 32, stride: 2),
        Case(n: 2, c: 64, side: 8, out: 128, stride: 2, bias: false),
        Case(n: 1, c: 128, side: 4, out: 128, stride: 1, preferDirect: true),
        Case(n: 2, c: 130, side: 5, out: 13, stride: 1, preferDirect: true, act: .relu),
        Case(n: 1, c: 5, side: 17, out: 7, stride: 3, act: .sigmoid),
        Case(n: 4, c: 9, side: 1, out: 9, stride: 1, act: .relu),
        Case(n: 1, c: 2, side: 33, out: 1, stride: 1),
        Case(n: 2, c: 96, side: 6, out: 23, stride: 1, bias: false, act: .relu),
    ]
    for t in cases {
        for kernel in convKernels {
            let conv = Conv2d("conv", in: t.c, out: t.out, kernel: 1, stride: t.stride, padding: .same, bias: t.bias,
                              activation: t.act)
            conv.gemmKernel = kernel
            conv.prefersDirect = t.preferDirect
            #expect(conv.usesPointwise(conv.geometry(n: t.n, h: t.side, w: t.side)), "\(t) takes the pointwise path")
            let weight = randomValues(t.out * t.c, seed: 951), bias = randomValues(t.out, seed: 952)
            var tensors: [String: (shape: [Int], values: [Float])] = ["conv.weight": ([t.out, t.c, 1, 1], weight)]
            if t.bias { tensors["conv.bias"] = ([t.out], bias) }
            try conv.load(loader(tensors))
            let x = randomTensor([t.n, t.c, t.side, t.side], seed: 953)
            let expected = naiveConv2d(x, weight: weight, bias: t.bias ? bias : nil, outChannels: t.out, kernel: (1, 1),
                                       stride: t.stride, padding: .same, activation: t.act)
            #expect(maxError(conv(x), expected) < 1e-5, "\(t) \(kernel)")
            // Twice: the second call reuses the workspace's buffers and the subsampling scratch.
            #expect(maxError(conv(x), expected) < 1e-5, "\(t) \(kernel), second call")
        }
    }
}

/// A 3×3 convolution deeper than the direct kernel's automatic limit (mini-Xception's head:
/// 128 channels to 7 on a 4×4 plane, "same") that prefers the direct kernels, against the naive
/// convolution, every instruction set.
@Test func preferredDirectMatchesNaive() throws {
    for (c, side, out) in [(128, 4, 7), (100, 5, 9)] {
        for kernel in convKernels {
            let conv = Conv2d("conv", in: c, out: out, kernel: 3, padding: .same)
            conv.gemmKernel = kernel
            conv.prefersDirect = true
            #expect(conv.usesDirect(conv.geometry(n: 2, h: side, w: side)))
            let weight = randomValues(out * c * 9, seed: 961), bias = randomValues(out, seed: 962)
            try conv.load(loader(["conv.weight": ([out, c, 3, 3], weight), "conv.bias": ([out], bias)]))
            let x = randomTensor([2, c, side, side], seed: 963)
            let expected = naiveConv2d(x, weight: weight, bias: bias, outChannels: out, kernel: (3, 3), padding: .same)
            #expect(maxError(conv(x), expected) < 1e-5, "\(c)->\(out) \(side)x\(side) \(kernel)")
        }
    }
}

/// One image on the direct kernels with more threads than images: its output rows split across
/// the threads (fervid_conv_direct_rows; mini-Xception's conv1/conv2 at batch 1, MTCNN's P-Net),
/// 2 and 3 threads (an uneven split), ReLU and PReLU, every instruction set; against the naive
/// convolution.
@Test func directRowSplitMatchesNaive() throws {
    let cases = [
        ConvCase(n: 1, c: 8, h: 62, w: 62, out: 8, padding: .symmetric(0), bias: false, activation: .relu),  // conv2
        ConvCase(n: 1, c: 3, h: 41, w: 37, out: 10, padding: .symmetric(0)),                               // P-Net conv1
        ConvCase(n: 1, c: 1, h: 64, w: 64, out: 8, padding: .same, activation: .relu),
    ]
    for t in cases {
        for kernel in convKernels {
            for threads in [2, 3] {
                for withPReLU in [false, true] {
                    let conv = Conv2d("conv", in: t.c, out: t.out, kernel: (t.kh, t.kw), padding: t.padding, bias: t.bias,
                                      activation: withPReLU ? .none : t.activation)
                    conv.gemmKernel = kernel
                    #expect(conv.usesDirect(conv.geometry(n: t.n, h: t.h, w: t.w)))
                    let wShape = [t.out, t.c, t.kh, t.kw]
                    let weight = randomValues(wShape.reduce(1, *), seed: 971), bias = randomValues(t.out, seed: 972)
                    var tensors: [String: (shape: [Int], values: [Float])] = ["conv.weight": (wShape, weight)]
                    if t.bias { tensors["conv.bias"] = ([t.out], bias) }
                    try conv.load(loader(tensors))
                    let x = randomTensor([t.n, t.c, t.h, t.w], seed: 973)
                    let plain = naiveConv2d(x, weight: weight, bias: t.bias ? bias : nil, outChannels: t.out,
                                            kernel: (t.kh, t.kw), padding: t.padding,
                                            activation: withPReLU ? .none : t.activation)
                    if withPReLU {
                        let slopes = randomValues(t.out, seed: 974, range: 0 ... 0.5)
                        let prelu = PReLU("act", channels: t.out)
                        try prelu.load(loader(["act.weight": ([t.out], slopes)]))
                        let got = Engine.withThreads(threads) { conv(x, prelu: prelu) }
                        #expect(maxError(got, naivePReLU(plain, slopes: slopes)) < 1e-5, "\(t) \(kernel) \(threads) PReLU")
                    } else {
                        let got = Engine.withThreads(threads) { conv(x) }
                        #expect(maxError(got, plain) < 1e-5, "\(t) \(kernel) \(threads)")
                    }
                }
            }
        }
    }
}

/// conv → PReLU through both Winograd tiles, the slopes applied in the output transform (AVX2:
/// eight-tile runs and the tile-by-tile rest of a row; AVX-512: masked scatters; portable), with
/// negative and zero slopes, against the naive convolution followed by the naive PReLU.
@Test func winogradWithPReLUMatchesNaive() throws {
    let cases = [
        ConvCase(n: 1, c: 16, h: 40, w: 43, out: 32),           // P-Net conv3-like: rows of 8-tile runs + tails
        ConvCase(n: 1, c: 32, h: 23, w: 23, out: 64),           // O-Net conv2 at batch 1
        ConvCase(n: 3, c: 17, h: 11, w: 37, out: 9, padding: .same),  // several images, odd sizes
    ]
    for t in cases {
        for algorithm in [Conv2d.Algorithm.winograd, .winograd4] {
            for kernel in convKernels {
                let conv = Conv2d("conv", in: t.c, out: t.out, kernel: 3, padding: t.padding)
                conv.algorithm = algorithm
                conv.gemmKernel = kernel
                let weight = randomValues(t.out * t.c * 9, seed: 921), bias = randomValues(t.out, seed: 922)
                try conv.load(loader(["conv.weight": ([t.out, t.c, 3, 3], weight), "conv.bias": ([t.out], bias)]))
                var slopes = randomValues(t.out, seed: 923, range: -0.5 ... 0.5)
                slopes[0] = 0
                let prelu = PReLU("act", channels: t.out)
                try prelu.load(loader(["act.weight": ([t.out], slopes)]))
                let x = randomTensor([t.n, t.c, t.h, t.w], seed: 924)
                let expected = naivePReLU(naiveConv2d(x, weight: weight, bias: bias, outChannels: t.out, kernel: (3, 3),
                                                      padding: t.padding, activation: .none), slopes: slopes)
                // As winogradMatchesNaive: F(4×4) rounds ~10× more than F(2×2).
                let tolerance: Float = algorithm == .winograd4 ? 2e-4 : 1e-5
                #expect(maxError(conv(x, prelu: prelu), expected) < tolerance, "\(t) \(algorithm) \(kernel)")
                // The fused path gives what the separate PReLU pass gave: the convolution alone, then the layer.
                let plain = Conv2d("conv", in: t.c, out: t.out, kernel: 3, padding: t.padding)
                plain.algorithm = algorithm
                plain.gemmKernel = kernel
                try plain.load(loader(["conv.weight": ([t.out, t.c, 3, 3], weight), "conv.bias": ([t.out], bias)]))
                prelu.gemmKernel = kernel
                #expect(maxError(conv(x, prelu: prelu), prelu(plain(x))) == 0, "\(t) \(algorithm) \(kernel): fused ≠ separate")
            }
        }
    }
}
