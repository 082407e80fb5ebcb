import CKernels
import Foundation
import Testing
@testable import CNN

/// Plain-loop C = alpha · op(A) · op(B) + beta · C, row-major, in Double.
func naiveGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
               b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> [Float] {
    var out = c
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(av) * Double(bv)
            }
            out[i * ldc + j] = Float(Double(alpha) * sum + Double(beta) * Double(c[i * ldc + j]))
        }
    }
    return out
}

/// The GEMM entry point, whole and split into row or column blocks, with every transpose
/// combination and leading dimensions wider than the matrices, against the naive GEMM.
@Test(arguments: [(129, 67, 257), (67, 129, 257), (5, 7, 3)])
func gemmMatchesNaive(_ dims: (Int, Int, Int)) {
    let (m, n, k) = dims
    for transA in [false, true] {
        for transB in [false, true] {
            let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
            let a = randomValues((transA ? k : m) * lda, seed: 601)
            let b = randomValues((transB ? n : k) * ldb, seed: 602)
            let c0 = randomValues(m * ldc, seed: 603)
            let expected = naiveGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                                     b: b, ldb: ldb, beta: -1.5, c: c0, ldc: ldc)
            for split in [1, 2, 3] {
                var c = c0
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                         beta: -1.5, c: cp.baseAddress!, ldc: ldc, splitThreads: split)
                }
                let worst = zip(c, expected).map { abs($0 - $1) / max(1, abs($1)) }.max()!
                #expect(worst < 1e-5, "\(m)x\(n)x\(k) transA=\(transA) transB=\(transB) split=\(split)")
            }
        }
    }
}

/// The packed kernels this CPU runs (the portable one always).
let packedKernels = Engine.GemmKernel.allCases.filter { $0 != .openBLAS && $0.isSupported }

/// fervid's packed GEMM, per micro-kernel, against the naive GEMM: shapes with ragged edges in
/// every dimension (rows past the micro-panel, columns past the kernel width and the packed
/// block, depth past one packed block), leading dimensions wider than the matrices, every
/// epilogue (bias, ReLU, accumulate), and the serial, column-split and row-split schedules.
/// The micro-kernels step the depth 4 at a time: depths 1, 2, 3, 6, 7 and blocks ending in 1
/// (513 = 256 + 256 + 1), 2 (258) and 3 (259) leave every remainder after the unrolled steps.
@Test(arguments: packedKernels)
func packedGemmMatchesNaive(_ kernel: Engine.GemmKernel) {
    let shapes = [(1, 1, 1), (5, 7, 3), (13, 33, 300), (12, 16, 513), (29, 530, 300), (200, 40, 300),
                  (7, 1100, 5), (50, 17, 9), (11, 45, 258), (6, 16, 6), (3, 8, 2), (12, 32, 7),
                  (25, 48, 259)]
    for (m, n, k) in shapes {
        let lda = k + 3, ldb = n + 5, ldc = n + 2
        let a = randomValues(m * lda, seed: 611), b = randomValues(k * ldb, seed: 612)
        let c0 = randomValues(m * ldc, seed: 613), bias = randomValues(m, seed: 614)
        let ldr = n + 4
        let res = randomValues(m * ldr, seed: 615)
        let packed = a.withUnsafeBufferPointer { PackedMatrix(kernel: kernel, m: m, k: k, a: $0.baseAddress!, lda: lda) }
        for (accumulate, withBias, relu, withRes) in [(false, false, false, false), (true, true, true, false),
                                                      (false, true, false, true), (true, false, true, true)] {
            var expected = naiveGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                                     b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c0, ldc: ldc)
            for i in 0..<m {
                for j in 0..<n {
                    var v = expected[i * ldc + j] + (withBias ? bias[i] : 0) + (withRes ? res[i * ldr + j] : 0)
                    if relu { v = max(v, 0) }
                    expected[i * ldc + j] = v
                }
            }
            for threads in [1, 2, 3] {
                var c = c0
                c.withUnsafeMutableBufferPointer { cp in
                    bias.withUnsafeBufferPointer { bp in
                        res.withUnsafeBufferPointer { rp in
                            packedGemm(packed, n: n, b: b, ldb: ldb, c: cp.baseAddress!, ldc: ldc,
                                       bias: withBias ? bp.baseAddress! : nil, residual: withRes ? rp.baseAddress! : nil,
                                       ldr: ldr, relu: relu, accumulate: accumulate, threads: threads)
                        }
                    }
                }
                let worst = zip(c, expected).map { abs($0 - $1) / max(1, abs($1)) }.max()!
                #expect(worst < 1e-5, "\(kernel) \(m)x\(n)x\(k) acc=\(accumulate) bias=\(withBias) relu=\(relu) res=\(withRes) threads=\(threads)")
            }
        }
    }
}

/// Unpacking a packed matrix gives back exactly the matrix packed, for every packed kernel, with
/// row counts that are not a multiple of the panel height and depths across several K blocks.
@Test func unpackInvertsPack() {
    for kernel in [Engine.GemmKernel.generic, .avx2, .avx512] where kernel.isSupported {
        for (m, k) in [(1, 1), (13, 300), (37, 513), (64, 256)] {
            let a = randomValues(m * k, seed: UInt64(900 + m + k))
            let packed = PackedMatrix.pack(a, count: 1, m: m, k: k, kernel: kernel)![0]
            #expect(packed.unpacked() == a, "\(kernel) \(m)x\(k)")
        }
    }
}

/// A 1×1 convolution and a linear layer loaded under a packed kernel keep only their packed
/// weights; reading `weight` gives the loaded (BN-folded) values back, and the layers still match
/// the naive twins, also when another kernel is pinned after the load (packed from the unpacked).
@Test func packedOnlyLayersKeepTheirWeights() throws {
    guard Engine.gemmKernel != .openBLAS else { return }
    let conv = Conv2d("c", in: 24, out: 40, kernel: 1, bias: true)
    let w = randomValues(40 * 24, seed: 911), b = randomValues(40, seed: 912)
    try conv.load(loader(["c.weight": ([40, 24, 1, 1], w), "c.bias": ([40], b)]))
    #expect(conv.weight == w)
    let x = randomTensor([3, 24, 5, 6], seed: 913)
    let expected = naiveConv2d(x, weight: w, bias: b, outChannels: 40, kernel: (1, 1))
    for kernel in convKernels {
        conv.gemmKernel = kernel
        #expect(maxError(conv(x), expected) < 1e-4, "\(kernel)")
    }
    let linear = Linear("l", in: 33, out: 9)
    let lw = randomValues(9 * 33, seed: 914), lb = randomValues(9, seed: 915)
    try linear.load(loader(["l.weight": ([9, 33], lw), "l.bias": ([9], lb)]))
    #expect(linear.weight == lw)
    let lx = randomTensor([4, 33], seed: 916)
    let lexpected = naiveLinear(lx, weight: lw, bias: lb, outFeatures: 9)
    for kernel in convKernels {
        linear.gemmKernel = kernel
        #expect(maxError(linear(lx), lexpected) < 1e-4, "\(kernel)")
    }
}

/// fervid_gemv_packed, per instruction set: against the naive product (naiveGemm), and
/// bit-identical to fervid's packed GEMM run with the samples as B's columns (its arithmetic is
/// the GEMM's: one multiply-add chain per 256-deep block) — rows not a multiple of any panel or
/// panel group, depths past one and two packed blocks, with and without bias and ReLU, row ranges
/// (as the threads split them), and sentinels around each sample's outputs that must not change.
@Test(arguments: packedKernels)
func packedGemvMatchesNaiveAndGemm(_ kernel: Engine.GemmKernel) {
    let isa = kernel.isa!, mr = Int(fervid_gemm_mr(isa))
    for (m, k, samples) in [(1, 1, 1), (5, 7, 2), (13, 300, 1), (64, 256, 3), (256, 1152, 1), (128, 576, 4),
                            (50, 513, 2), (10, 257, 1), (2, 128, 3), (97, 33, 1)] {
        let a = randomValues(m * k, seed: UInt64(700 + m + k)), bias = randomValues(m, seed: 701)
        let ldx = k + 3, ldy = m + 5
        let x = randomValues(samples * ldx, seed: 702)
        let packed = a.withUnsafeBufferPointer { PackedMatrix(kernel: kernel, m: m, k: k, a: $0.baseAddress!, lda: k) }
        // xᵀ as the GEMM's B (k × samples).
        var b = [Float](repeating: 0, count: k * samples)
        for s in 0..<samples { for p in 0..<k { b[p * samples + s] = x[s * ldx + p] } }
        let naive = naiveGemm(transA: false, transB: false, m: m, n: samples, k: k, alpha: 1, a: a, lda: k,
                              b: b, ldb: samples, beta: 0, c: [Float](repeating: 0, count: m * samples), ldc: samples)
        for (withBias, relu) in [(false, false), (true, false), (true, true), (false, true)] {
            var gemm = [Float](repeating: 0, count: m * samples)
            gemm.withUnsafeMutableBufferPointer { cp in
                bias.withUnsafeBufferPointer { bp in
                    packedGemm(packed, n: samples, b: b, ldb: samples, c: cp.baseAddress!, ldc: samples,
                               bias: withBias ? bp.baseAddress! : nil, relu: relu, threads: 1)
                }
            }
            // Whole rows, then split at a panel-group boundary and at a panel boundary.
            for cuts in [[0, m], [0, Swift.min(4 * mr, m), m], [0, Swift.min(mr, m), m]] {
                let sentinel: Float = -12345
                var y = [Float](repeating: sentinel, count: samples * ldy)
                y.withUnsafeMutableBufferPointer { yp in
                    bias.withUnsafeBufferPointer { bp in
                        for (lo, hi) in zip(cuts, cuts.dropFirst()) where lo < hi {
                            fervid_gemv_packed(isa, Int32(m), Int32(k), packed.data, Int32(lo), Int32(hi), Int32(samples),
                                               x, ldx, yp.baseAddress!, ldy, withBias ? bp.baseAddress! : nil, relu ? 1 : 0)
                        }
                    }
                }
                let what = "\(kernel) \(m)x\(k) samples \(samples) bias=\(withBias) relu=\(relu) cuts \(cuts)"
                for s in 0..<samples {
                    for i in 0..<m {
                        var want = naive[i * samples + s] + (withBias ? bias[i] : 0)
                        if relu { want = max(want, 0) }
                        let got = y[s * ldy + i]
                        #expect(abs(got - want) <= 1e-5 * max(1, abs(want)), "\(what): (\(s), \(i)) \(got) vs naive \(want)")
                        #expect(got.bitPattern == gemm[i * samples + s].bitPattern,
                                "\(what): (\(s), \(i)) \(got) vs GEMM \(gemm[i * samples + s])")
                    }
                    for i in m..<ldy { #expect(y[s * ldy + i] == sentinel, "\(what): wrote past row \(m)") }
                }
            }
        }
    }
}

/// fervid_softmax2 against the formula written out (the Softmax layer's loop: max, expf,
/// reciprocal of the sum, products), bit for bit, in place and not, with ties and large values.
@Test func softmaxTwoChannels() {
    let n = 3, p = 37
    var x = randomValues(n * 2 * p, seed: 720, range: -30...30)
    x[0] = 5; x[p] = 5           // a tie
    x[1] = 80; x[p + 1] = -80    // exp underflows for the loser
    var y = [Float](repeating: .nan, count: x.count)
    fervid_softmax2(x, &y, n, p)
    for img in 0..<n {
        for i in 0..<p {
            let u = x[img * 2 * p + i], v = x[img * 2 * p + p + i]
            let m = max(max(-Float.infinity, u), v)
            let e0 = expf(u - m), e1 = expf(v - m), inv = 1 / (e0 + e1)
            #expect(y[img * 2 * p + i].bitPattern == (e0 * inv).bitPattern)
            #expect(y[img * 2 * p + p + i].bitPattern == (e1 * inv).bitPattern)
        }
    }
    var inPlace = x
    inPlace.withUnsafeMutableBufferPointer { fervid_softmax2($0.baseAddress!, $0.baseAddress!, n, p) }
    #expect(inPlace.map(\.bitPattern) == y.map(\.bitPattern))
}
