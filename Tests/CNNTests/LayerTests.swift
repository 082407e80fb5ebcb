import Foundation
import Testing
@testable import CNN

struct PoolCase: CustomStringConvertible, Sendable {
    var n = 2, c = 3, h = 7, w = 9
    var kernel = 3, stride = 2, padding: Padding = .symmetric(0), ceil = false, includePad = true
    var description: String { "n\(n) c\(c) \(h)x\(w) k\(kernel) s\(stride) \(padding) ceil=\(ceil) incl=\(includePad)" }
}

let poolCases: [PoolCase] = [
    PoolCase(h: 7, w: 9, kernel: 3, stride: 2, ceil: true),                       // MTCNN 3×3 s2 ceil
    PoolCase(h: 11, w: 12, kernel: 2, stride: 2, ceil: true),                     // MTCNN 2×2 s2 ceil, odd
    PoolCase(h: 10, w: 13, kernel: 3, stride: 2, padding: .symmetric(1)),         // ResNet stem
    PoolCase(h: 10, w: 13, kernel: 3, stride: 2, padding: .symmetric(1), ceil: true, includePad: false),
    PoolCase(h: 9, w: 8, kernel: 3, stride: 2, padding: .same, includePad: false),  // Keras same, odd/even
    PoolCase(h: 6, w: 5, kernel: 3, stride: 1, padding: .same, includePad: false),
    PoolCase(h: 9, w: 9, kernel: 2, stride: 2),                                   // DenseNet transition, floor
    PoolCase(h: 8, w: 7, kernel: 3, stride: 1, padding: .symmetric(1)),
    PoolCase(n: 1, c: 2, h: 5, w: 6, kernel: 4, stride: 3, padding: .symmetric(2), ceil: true),
    PoolCase(n: 2, c: 3, h: 37, w: 41, kernel: 2, stride: 2, ceil: true),         // long rows: vector loops
    PoolCase(n: 2, c: 3, h: 40, w: 53, kernel: 3, stride: 2, padding: .symmetric(1)),
    PoolCase(n: 1, c: 2, h: 3, w: 2, kernel: 3, stride: 1, padding: .symmetric(1)),  // window wider than the row
    PoolCase(n: 1, c: 3, h: 46, w: 47, kernel: 3, stride: 2, ceil: true),         // O-Net's pool1, odd: 8-wide steps
    PoolCase(n: 1, c: 2, h: 9, w: 383, kernel: 2, stride: 2, ceil: true),         // P-Net's widest pool, odd
    PoolCase(n: 1, c: 2, h: 5, w: 2101, kernel: 3, stride: 2, ceil: true),        // wider than the column-first row
    // R-Net's and O-Net's pools as they run: outputs per row ≥ 8 and < 8 (one masked step),
    // ceil-mode windows hanging past the row, rows of exactly 8 and of fewer than 8 columns.
    PoolCase(n: 2, c: 3, h: 22, w: 22, kernel: 3, stride: 2, ceil: true),
    PoolCase(n: 2, c: 3, h: 9, w: 9, kernel: 3, stride: 2, ceil: true),
    PoolCase(n: 1, c: 3, h: 46, w: 46, kernel: 3, stride: 2, ceil: true),
    PoolCase(n: 1, c: 3, h: 21, w: 21, kernel: 3, stride: 2, ceil: true),
    PoolCase(n: 1, c: 3, h: 8, w: 8, kernel: 2, stride: 2, ceil: true),
    PoolCase(n: 1, c: 2, h: 6, w: 5, kernel: 3, stride: 2, ceil: true),
    PoolCase(n: 1, c: 2, h: 3, w: 17, kernel: 2, stride: 2, ceil: true),
]

@Test("MaxPool2d matches naiveMaxPool2d", arguments: poolCases)
func maxPoolMatchesNaive(_ t: PoolCase) {
    let x = randomTensor([t.n, t.c, t.h, t.w], seed: 41)
    let expected = naiveMaxPool2d(x, kernel: t.kernel, stride: t.stride, padding: t.padding, ceilMode: t.ceil)
    // Each compiled variant of the C pooling (picked like the GEMM kernel's instruction set).
    for kernel in convKernels {
        let pool = MaxPool2d(kernel: t.kernel, stride: t.stride, padding: t.padding, ceilMode: t.ceil)
        pool.gemmKernel = kernel
        #expect(maxError(pool(x), expected) == 0, "\(t) \(kernel)")
    }
}

/// maxpool(x) + r in one pass (fervid_maxpool_add, column-first) against naiveMaxPool2d plus r,
/// exactly: every pooling case above and mini-Xception's four (3×3 stride 2 "same" on 60, 30,
/// 15, 8), every compiled variant; the residual left untouched.
@Test("MaxPool2d adding a residual matches naiveMaxPool2d + r",
      arguments: poolCases + [60, 30, 15, 8].map { PoolCase(n: 2, c: 3, h: $0, w: $0, kernel: 3, stride: 2, padding: .same) })
func maxPoolAddMatchesNaive(_ t: PoolCase) {
    let x = randomTensor([t.n, t.c, t.h, t.w], seed: 43)
    let pooled = naiveMaxPool2d(x, kernel: t.kernel, stride: t.stride, padding: t.padding, ceilMode: t.ceil)
    let r = randomTensor(pooled.shape, seed: 44)
    let rValues = r.toArray()
    let expected = Tensor(shape: pooled.shape, values: zip(pooled.toArray(), rValues).map { $0 + $1 })
    for kernel in convKernels {
        let pool = MaxPool2d(kernel: t.kernel, stride: t.stride, padding: t.padding, ceilMode: t.ceil)
        pool.gemmKernel = kernel
        #expect(maxError(pool(x, adding: r), expected) == 0, "\(t) \(kernel)")
        #expect(r.toArray() == rValues, "\(t) \(kernel): the residual changed")
    }
}

@Test("AvgPool2d matches naiveAvgPool2d", arguments: poolCases)
func avgPoolMatchesNaive(_ t: PoolCase) {
    let x = randomTensor([t.n, t.c, t.h, t.w], seed: 42)
    for include in [true, false] {
        let pool = AvgPool2d(kernel: t.kernel, stride: t.stride, padding: t.padding, ceilMode: t.ceil,
                             countIncludePad: include)
        let expected = naiveAvgPool2d(x, kernel: t.kernel, stride: t.stride, padding: t.padding,
                                      ceilMode: t.ceil, countIncludePad: include)
        #expect(maxError(pool(x), expected) < 1e-6, "\(t) include=\(include)")
    }
}

/// Hand-computed PyTorch results: avg_pool2d(1..9 as 3×3, k=2, s=2, ceil_mode=True) =
/// [[3, 4.5], [7.5, 9]] (overhanging windows divide by their in-bounds size); max_pool2d
/// with the same window is [[5, 6], [8, 9]]; padding=1, count_include_pad=True, k=3, s=2
/// gives [[12/9, 16/9], [24/9, 28/9]].
@Test func poolingHandComputed() {
    let x = Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    #expect(AvgPool2d(kernel: 2, ceilMode: true)(x).toArray() == [3, 4.5, 7.5, 9])
    #expect(MaxPool2d(kernel: 2, ceilMode: true)(x).toArray() == [5, 6, 8, 9])
    #expect(MaxPool2d(kernel: 2)(x).toArray() == [5])
    let padded = AvgPool2d(kernel: 3, stride: 2, padding: .symmetric(1))(x).toArray()
    let expected: [Float] = [12 / 9, 16 / 9, 24 / 9, 28 / 9]
    #expect(zip(padded, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    // Keras "same" 3×3 s2 on 3×3: one window centred on each of (0,0),(0,2),(2,0),(2,2), pad 1 each side.
    #expect(MaxPool2d(kernel: 3, stride: 2, padding: .same)(x).toArray() == [5, 6, 8, 9])
    // "same" on 4×4, k3 s2: total padding 1 goes to the bottom/right (TF), windows rows [0,3) and [2,4).
    let x4 = Tensor(shape: [1, 1, 4, 4], values: [1, 9, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6])
    #expect(MaxPool2d(kernel: 3, stride: 2, padding: .same)(x4).toArray() == [9, 7, 8, 6])
    let negative = Tensor(shape: [1, 1, 3, 3], values: (1...9).map { -Float($0) })
    // Padding never wins a max, even over negative values.
    #expect(MaxPool2d(kernel: 3, stride: 2, padding: .symmetric(1))(negative).toArray() == [-1, -2, -4, -5])
}

@Test func adaptiveAvgPoolMatchesNaive() {
    for (h, w, oh, ow) in [(3, 3, 7, 7), (10, 7, 3, 4), (5, 5, 1, 1), (7, 7, 7, 7), (13, 9, 5, 2)] {
        let x = randomTensor([2, 3, h, w], seed: 43)
        let y = AdaptiveAvgPool2d(outH: oh, outW: ow)(x)
        #expect(maxError(y, naiveAdaptiveAvgPool2d(x, outH: oh, outW: ow)) < 1e-6, "\(h)x\(w)->\(oh)x\(ow)")
    }
    // 3 -> 7 bins (PyTorch): [0,1) [0,1) [0,2) [1,2) [1,3) [2,3) [2,3).
    let x = Tensor(shape: [1, 1, 1, 3], values: [1, 2, 4])
    #expect(AdaptiveAvgPool2d(outH: 1, outW: 7)(x).toArray() == [1, 1, 1.5, 2, 3, 4, 4])
}

@Test func globalAvgPool() {
    let x = randomTensor([3, 5, 4, 7], seed: 44)
    let y = GlobalAvgPool()(x)
    #expect(y.shape == [3, 5])
    let expected = naiveAdaptiveAvgPool2d(x, outH: 1, outW: 1).reshaped([3, 5])
    #expect(maxError(y, expected) < 1e-6)
}

@Test func linearMatchesNaive() throws {
    for (n, k, o, act) in [(1, 7, 5, Activation.none), (3, 33, 17, .relu), (4, 9, 1, .sigmoid), (37, 300, 45, .relu)] {
      for kernel in convKernels {
        let layer = Linear("fc", in: k, out: o, activation: act)
        layer.gemmKernel = kernel
        let weight = randomValues(o * k, seed: 51), bias = randomValues(o, seed: 52)
        try layer.load(loader(["fc.weight": ([o, k], weight), "fc.bias": ([o], bias)]))
        let x = randomTensor([n, k], seed: 53)
        let naive = naiveLinear(x, weight: weight, bias: bias, outFeatures: o)
        let expected = Tensor(shape: naive.shape, values: naive.toArray().map(act.apply))
        #expect(maxError(layer(x), expected) < 1e-5, "\(n)x\(k) -> \(o) \(act) \(kernel)")
      }
    }
    // A (N, C, H, W) input is read as (N, C·H·W).
    let layer = Linear("fc", in: 12, out: 2, bias: false)
    let weight = randomValues(24, seed: 54)
    try layer.load(loader(["fc.weight": ([2, 12], weight)]))
    let x = randomTensor([2, 3, 2, 2], seed: 55)
    #expect(maxError(layer(x), naiveLinear(x, weight: weight, bias: nil, outFeatures: 2)) < 1e-5)
}

@Test func batchNormMatchesNaive() throws {
    let c = 5
    let gamma = randomValues(c, seed: 61), beta = randomValues(c, seed: 62), mean = randomValues(c, seed: 63)
    let variance = randomValues(c, seed: 64, range: 0.1...2)
    let tensors: [String: (shape: [Int], values: [Float])] = [
        "bn.weight": ([c], gamma), "bn.bias": ([c], beta), "bn.running_mean": ([c], mean), "bn.running_var": ([c], variance),
    ]
    for shape in [[3, c, 4, 5], [2, c]] {
        for act in [Activation.none, .relu] {
            let bn = BatchNorm2d("bn", channels: c, eps: 1e-5, activation: act)
            let w = loader(tensors)
            try bn.load(w)
            try w.finish()
            let x = randomTensor(shape, seed: 65)
            let naive = naiveBatchNorm(x, gamma: gamma, beta: beta, mean: mean, variance: variance, eps: 1e-5)
            let expected = Tensor(shape: shape, values: naive.toArray().map(act.apply))
            #expect(maxError(bn(x), expected) < 1e-5)
        }
    }
}

@Test func elementwiseActivations() throws {
    let x = randomTensor([2, 3, 5, 7], seed: 71)
    let v = x.toArray()
    #expect(ReLU()(x).toArray() == v.map { max($0, 0) })
    let sig = Sigmoid()(x).toArray()
    for (got, input) in zip(sig, v) {
        let expected = 1 / (1 + exp(-Double(input)))
        #expect(abs(Double(got) - expected) < 1e-6)
    }

    let prelu = PReLU("act", channels: 3)
    let slopes = randomValues(3, seed: 72)
    try prelu.load(loader(["act.weight": ([3], slopes)]))
    let y = prelu(x)
    for i in 0..<x.count {
        let c = (i / 35) % 3
        #expect(y.data[i] == (v[i] > 0 ? v[i] : slopes[c] * v[i]))
    }
    let flat = randomTensor([4, 3], seed: 73)
    let yf = prelu(flat)
    for i in 0..<12 { #expect(yf.data[i] == (flat.data[i] > 0 ? flat.data[i] : slopes[i % 3] * flat.data[i])) }
}

@Test func softmaxMatchesNaive() {
    let rows = randomTensor([4, 7], seed: 81)
    let scaled = Tensor(shape: [4, 7], values: rows.toArray().map { $0 * 40 })   // large logits
    #expect(maxError(Softmax()(scaled), naiveSoftmax(scaled)) < 1e-6)
    let maps = randomTensor([2, 2, 3, 5], seed: 82)                               // P-Net: over C
    #expect(maxError(Softmax(axis: 1)(maps), naiveSoftmax(maps, axis: 1)) < 1e-6)
    let y = Softmax()(rows)
    for r in 0..<4 { #expect(abs((0..<7).map { y.data[r * 7 + $0] }.reduce(0, +) - 1) < 1e-6) }
}

@Test func concatAddScaleFlatten() {
    let a = randomTensor([2, 3, 4, 5], seed: 91), b = randomTensor([2, 2, 4, 5], seed: 92)
    let cat = Concat()(a, b)
    #expect(cat.shape == [2, 5, 4, 5])
    for n in 0..<2 {
        for c in 0..<5 {
            for p in 0..<20 {
                let expected = c < 3 ? a.data[(n * 3 + c) * 20 + p] : b.data[(n * 2 + c - 3) * 20 + p]
                #expect(cat.data[(n * 5 + c) * 20 + p] == expected)
            }
        }
    }

    // (N, F) vectors, as DBA-Net's eq. (5) concatenates attention vectors.
    let u = randomTensor([2, 3], seed: 96), v = randomTensor([2, 4], seed: 97)
    let uv = Concat()(u, v)
    #expect(uv.shape == [2, 7])
    #expect(uv.toArray() == Array(u.toArray()[0..<3]) + Array(v.toArray()[0..<4]) + Array(u.toArray()[3..<6]) + Array(v.toArray()[4..<8]))

    let a2 = randomTensor([2, 3, 4, 5], seed: 93)
    let sum = Add(activation: .relu)(a, a2)
    #expect(sum.toArray() == zip(a.toArray(), a2.toArray()).map { max($0 + $1, 0) })

    let s = randomTensor([2, 3], seed: 94)
    let scaled = ScaleChannels()(a, s)
    for i in 0..<a.count { #expect(scaled.data[i] == a.data[i] * s.data[i / 20]) }

    let x = randomTensor([2, 3, 4, 5], seed: 95)
    #expect(Flatten()(x).shape == [2, 60])
    #expect(Flatten()(x).toArray() == x.toArray())
    // .whc: permute(0, 3, 2, 1) then flatten, written as the explicit permutation.
    let whc = Flatten(order: .whc)(x)
    var expected: [Float] = []
    for n in 0..<2 { for w in 0..<5 { for h in 0..<4 { for c in 0..<3 {
        expected.append(x.data[((n * 3 + c) * 4 + h) * 5 + w])
    } } } }
    #expect(whc.toArray() == expected)
}

@Test func tensorBasics() {
    let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
    let v = t.reshaped([3, 2])
    v.data[5] = 60
    #expect(t.toArray().last == 60)
    #expect(v.shape == [3, 2] && v.count == 6)
    #expect(Tensor(shape: [2, 2]).toArray() == [0, 0, 0, 0])
}

/// A batch of zero images (a frame with no faces) flows through every layer as empty tensors.
@Test func emptyBatch() throws {
    let x = Tensor(shape: [0, 16, 9, 9])
    let conv = Conv2d("c", in: 16, out: 16, kernel: 3, padding: .symmetric(1))
    let pointwise = Conv2d("p", in: 16, out: 8, kernel: 1)
    let depthwise = Conv2d("d", in: 16, out: 16, kernel: 3, groups: 16)
    #expect(conv(x).shape == [0, 16, 9, 9])
    #expect(pointwise(x).shape == [0, 8, 9, 9])
    #expect(depthwise(x).shape == [0, 16, 7, 7])
    #expect(MaxPool2d(kernel: 3, stride: 2, ceilMode: true)(x).shape == [0, 16, 4, 4])
    #expect(AvgPool2d(kernel: 2)(x).shape == [0, 16, 4, 4])
    #expect(AdaptiveAvgPool2d(outH: 2, outW: 2)(x).shape == [0, 16, 2, 2])
    let pooled = GlobalAvgPool()(x)
    #expect(pooled.shape == [0, 16])
    #expect(Linear("fc", in: 16, out: 4)(pooled).shape == [0, 4])
    #expect(Softmax()(pooled).shape == [0, 16])
    #expect(Flatten(order: .whc)(x).shape == [0, 16 * 81])
    #expect(Concat()(x, x).shape == [0, 32, 9, 9])
    #expect(ScaleChannels()(x, pooled).shape == [0, 16, 9, 9])
}

/// Steady state: a second forward pass of the same shape reuses every layer's output tensor and
/// the thread's convolution scratch (no buffer is allocated), and gives the same values.
@Test func secondForwardPassReusesBuffers() throws {
    let stem = Conv2d("stem", in: 3, out: 16, kernel: 3, stride: 2, padding: .symmetric(1), activation: .relu)
    let body = Conv2d("body", in: 16, out: 16, kernel: 3, padding: .symmetric(1))        // Winograd
    let point = Conv2d("point", in: 16, out: 16, kernel: 1, activation: .relu)
    let pool = MaxPool2d(kernel: 3, stride: 2, padding: .symmetric(1))
    let add = Add(activation: .relu), concat = Concat(), gap = GlobalAvgPool()
    let fc = Linear("fc", in: 32, out: 7), softmax = Softmax()
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    for (i, conv) in [stem, body, point].enumerated() {
        let shape = [conv.outChannels, conv.inChannels, conv.kernelH, conv.kernelW]
        tensors["\(conv.name).weight"] = (shape, randomValues(shape.reduce(1, *), seed: 700 + UInt64(i)))
        tensors["\(conv.name).bias"] = ([conv.outChannels], randomValues(conv.outChannels, seed: 710 + UInt64(i)))
    }
    tensors["fc.weight"] = ([7, 32], randomValues(224, seed: 720))
    tensors["fc.bias"] = ([7], randomValues(7, seed: 721))
    let w = loader(tensors)
    try w.load([stem, body, point, fc])
    try w.finish()

    let x = randomTensor([4, 3, 40, 40], seed: 722)
    func forward() -> [Tensor] {
        let s = stem(x), p = pool(s), b = body(p), q = point(p), r = add(b, q)
        let c = concat(r, q), g = gap(c), f = fc(g)
        return [s, p, b, q, r, c, g, f, softmax(f)]
    }
    #expect(body.usesWinograd(body.geometry(n: 4, h: 10, w: 10)))
    let first = forward()
    let values = first.map { $0.toArray() }
    let scratch = ConvScratch.current
    let buffers = [scratch.columns.pointer, scratch.product.pointer, scratch.transform.pointer]
    let second = forward()
    for (a, b) in zip(first, second) { #expect(a === b) }
    #expect([scratch.columns.pointer, scratch.product.pointer, scratch.transform.pointer] == buffers)
    #expect(second.map { $0.toArray() } == values)
}

/// One network shared by the parts of a split batch gives what it gives for the whole batch, for
/// uneven splits and batches smaller than the thread count; each part runs single-threaded in a
/// workspace of its own, a batch of one with every thread; the output is the caller's.
@Test func batchParallelMatchesOneNetwork() throws {
    final class Net: @unchecked Sendable {
        let conv = Conv2d("c", in: 3, out: 8, kernel: 3, padding: .symmetric(1), activation: .relu)
        let pool = GlobalAvgPool()
        let lock = NSLock()
        var threadsSeen: [Int] = []
        init() throws {
            try conv.load(loader(["c.weight": ([8, 3, 3, 3], randomValues(8 * 27, seed: 701)),
                                  "c.bias": ([8], randomValues(8, seed: 702))]))
        }
        func callAsFunction(_ x: Tensor) -> Tensor {
            lock.lock()
            threadsSeen.append(Engine.threads)
            lock.unlock()
            return pool(conv(x))
        }
    }
    let reference = try Net(), net = try Net()
    let parallel = BatchParallel { net($0) }
    var outputs: [Tensor] = []
    Engine.withThreads(3) {
        for n in [1, 2, 5, 7] {
            let x = randomTensor([n, 3, 9, 10], seed: UInt64(710 + n))
            let expected = reference(x).toArray()
            let y = parallel(x)
            #expect(y.shape == [n, 8])
            #expect(zip(y.toArray(), expected).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }, "batch \(n)")
            outputs.append(y)
        }
    }
    // Batch 1 ran as one call with every thread; the split batches (2, 3, 3 parts) single-threaded.
    #expect(net.threadsSeen.count == 1 + 2 + 3 + 3)
    #expect(net.threadsSeen.first == 3)
    #expect(net.threadsSeen.dropFirst().allSatisfy { $0 == 1 })
    #expect(parallel.workspaceCount >= 1 && parallel.workspaceCount <= 3)
    // Each call's output is a tensor of its own, not a buffer the next call overwrites.
    #expect(Set(outputs.map { ObjectIdentifier($0) }).count == outputs.count)
}

/// Many threads calling one loaded network at once each get what the network gives alone (the
/// layers keep no activations of their own: each call has its own workspace).
@Test func oneNetworkServesConcurrentCallers() throws {
    let conv = Conv2d("c", in: 16, out: 16, kernel: 3, padding: .symmetric(1), activation: .relu)
    try conv.load(loader(["c.weight": ([16, 16, 3, 3], randomValues(16 * 16 * 9, seed: 731)),
                          "c.bias": ([16], randomValues(16, seed: 732))]))
    let linear = Linear("l", in: 16, out: 5)
    try linear.load(loader(["l.weight": ([5, 16], randomValues(80, seed: 733)), "l.bias": ([5], randomValues(5, seed: 734))]))
    let pool = GlobalAvgPool()
    let inputs = (0..<8).map { randomTensor([1 + $0 % 3, 16, 11, 9], seed: UInt64(740 + $0)) }
    let expected = inputs.map { linear(pool(conv($0))).toArray() }
    let parallel = BatchParallel { linear(pool(conv($0))) }
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var ok = [Bool](repeating: false, count: 8)
    }
    let results = Results()
    let shared = UncheckedSendable((inputs, expected, parallel))
    DispatchQueue.concurrentPerform(iterations: 8) { i in
        let (inputs, expected, parallel) = shared.value
        var good = true
        for _ in 0..<20 {
            let y = Engine.withThreads(2) { parallel(inputs[i]) }.toArray()
            good = good && y.count == expected[i].count && zip(y, expected[i]).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }
        }
        results.lock.lock()
        results.ok[i] = good
        results.lock.unlock()
    }
    #expect(results.ok.allSatisfy { $0 })
}

/// The engine's parallel loop covers every index exactly once with the right chunk numbers,
/// through the spinning pool, nested inside itself (the pool refuses; GCD runs it), and from two
/// threads at once (one gets the pool, the other GCD).
@Test func parallelForRunsEveryIndexOnce() {
    @Sendable func check(count: Int, threads: Int) -> Bool {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        hits.initialize(repeating: 0, count: count)
        defer { hits.deallocate() }
        parallelFor(count, threads: threads) { chunk, range in
            for i in range { hits[i] += 1 + chunk * 1000 }
            // Nested loop: must still run completely.
            var inner = 0
            let box = UnsafeMutablePointer<Int>.allocate(capacity: 8)
            box.initialize(repeating: 0, count: 8)
            parallelFor(8, threads: 2) { r in for j in r { box[j] = 1 } }
            for j in 0..<8 { inner += box[j] }
            box.deallocate()
            if inner != 8 { hits[range.lowerBound] = -1_000_000 }
        }
        let chunks = min(threads, count)
        for c in 0..<chunks {
            for i in (count * c / chunks)..<(count * (c + 1) / chunks) where hits[i] != 1 + c * 1000 { return false }
        }
        return true
    }
    for (count, threads) in [(1, 2), (2, 2), (7, 3), (1000, 2), (1000, 5)] {
        #expect(check(count: count, threads: threads), "count \(count) threads \(threads)")
    }
    let results = UnsafeMutablePointer<Bool>.allocate(capacity: 2)
    defer { results.deallocate() }
    let shared = UncheckedSendable(results)
    DispatchQueue.concurrentPerform(iterations: 2) { t in
        var ok = true
        for _ in 0..<300 { ok = ok && check(count: 257, threads: 2) }
        shared.value[t] = ok
    }
    #expect(results[0] && results[1])
}
