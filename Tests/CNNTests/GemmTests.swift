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
