// The engine's own GEMM (C target CKernels): weights packed once into the micro-kernel's panel
// layout, B packed per call, AVX-512 / AVX2 micro-kernels chosen at run time, and a fused
// epilogue (bias per output row, residual, ReLU, accumulate). Convolutions, Winograd's products
// and `Linear` use it; OpenBLAS remains for CPUs without AVX2 (`Engine.gemmKernel`).
import CKernels
import Foundation

extension Engine {
    /// Which GEMM convolutions run.
    public enum GemmKernel: String, Sendable, CaseIterable {
        /// `cblas_sgemm` (OpenBLAS, whatever kernels `OPENBLAS_CORETYPE` or its CPU probe chose).
        case openBLAS = "openblas"
        /// fervid's packed GEMM, portable C micro-kernel (4×8): the slow reference of the layout.
        case generic
        /// fervid's packed GEMM, AVX2 + FMA micro-kernel (6×16).
        case avx2
        /// fervid's packed GEMM, AVX-512 micro-kernel (12×32).
        case avx512

        /// The CKernels instruction-set id, nil for OpenBLAS.
        public var isa: Int32? {
            switch self {
            case .openBLAS: return nil
            case .generic: return Int32(FERVID_GEMM_GENERIC)
            case .avx2: return Int32(FERVID_GEMM_AVX2)
            case .avx512: return Int32(FERVID_GEMM_AVX512)
            }
        }

        /// Whether this CPU can run it.
        public var isSupported: Bool {
            guard let isa else { return true }
            return fervid_gemm_isa_supported(isa) != 0
        }

        /// The default: the widest packed kernel the CPU runs, OpenBLAS when it has no AVX2
        /// (the portable kernel is a reference, slower than any BLAS). `FERVID_GEMM=<name>`
        /// in the environment overrides it (benchmarks, comparisons).
        public static var preferred: GemmKernel {
            if let name = ProcessInfo.processInfo.environment["FERVID_GEMM"],
               let k = GemmKernel(rawValue: name.lowercased()), k.isSupported {
                return k
            }
            if GemmKernel.avx512.isSupported { return .avx512 }
            if GemmKernel.avx2.isSupported { return .avx2 }
            return .openBLAS
        }
    }
}

/// An m×k row-major matrix (a layer's weights) in the packed panel layout of one micro-kernel.
final class PackedMatrix: @unchecked Sendable {
    let kernel: Engine.GemmKernel
    let m: Int, k: Int
    let data: UnsafeMutablePointer<Float>

    /// Packs `a` (element (i, j) at a[i·lda + j]) for `kernel` (not `.openBLAS`).
    init(kernel: Engine.GemmKernel, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int) {
        precondition(m > 0 && k > 0 && lda >= k, "PackedMatrix: bad shape \(m)×\(k), lda \(lda)")
        let isa = kernel.isa!
        self.kernel = kernel
        self.m = m
        self.k = k
        data = ScratchBuffer.allocate(fervid_gemm_packed_size(isa, Int32(m), Int32(k)))
        fervid_gemm_pack_a(isa, Int32(m), Int32(k), a, lda, data)
    }

    deinit { data.deallocate() }

    /// The m×k row-major matrix this was packed from (exact).
    func unpacked() -> [Float] {
        [Float](unsafeUninitializedCapacity: m * k) { buffer, count in
            fervid_gemm_unpack_a(kernel.isa!, Int32(m), Int32(k), data, buffer.baseAddress!, k)
            count = m * k
        }
    }

    /// Packs `count` consecutive m×k matrices of `a` (matrix i at a + i·m·k) for `kernel`; nil
    /// when that kernel is OpenBLAS.
    static func pack(_ a: [Float], count: Int, m: Int, k: Int, kernel: Engine.GemmKernel) -> [PackedMatrix]? {
        guard kernel != .openBLAS else { return nil }
        precondition(a.count == count * m * k, "PackedMatrix.pack: \(a.count) floats for \(count)×\(m)×\(k)")
        return a.withUnsafeBufferPointer { p in
            (0..<count).map { PackedMatrix(kernel: kernel, m: m, k: k, a: p.baseAddress! + $0 * m * k, lda: k) }
        }
    }
}

/// Where a packed GEMM reads B (see `fervid_gemm_b`): row-major, or the columns of several
/// images (image i's row p at data + i·imageStride + p·ldb, `imageColumns` columns each), with
/// an optional per-row affine map and ReLU applied while packing.
struct GemmOperandB {
    var data: UnsafePointer<Float>
    var ldb: Int
    var imageColumns: Int
    var imageStride: Int = 0
    /// Per-row (input channel) v·scale + shift, then ReLU when `relu`.
    var scale: UnsafePointer<Float>? = nil
    var shift: UnsafePointer<Float>? = nil
    var relu = false

    /// A plain row-major k×n matrix.
    init(_ data: UnsafePointer<Float>, ldb: Int, columns n: Int) {
        self.data = data
        self.ldb = ldb
        imageColumns = n
    }

    /// Rows of `imageColumns` columns in each of several images `imageStride` floats apart.
    init(images data: UnsafePointer<Float>, ldb: Int, imageColumns: Int, imageStride: Int) {
        self.data = data
        self.ldb = ldb
        self.imageColumns = imageColumns
        self.imageStride = imageStride
    }

    /// The C descriptor for the columns from `firstColumn` on.
    func descriptor(firstColumn: Int) -> fervid_gemm_b {
        fervid_gemm_b(data: data, ldb: ldb, image_cols: imageColumns, image_stride: imageStride,
                      first_col: firstColumn, scale: scale, shift: shift, relu: relu ? 1 : 0)
    }
}

/// C (m×n) = A·B [+ C] [+ bias per row] [then ReLU] with A packed (m×k); B is k×n row-major
/// (element (p, j) at b[p·ldb + j]), C is m×n (element (i, j) at c[i·ldc + j]).
/// Large products run on `threads` threads, split by columns (each thread packs its own part of
/// B) or, when B is narrow, by row panels of A.
func packedGemm(_ a: PackedMatrix, n: Int, b: UnsafePointer<Float>, ldb: Int,
                c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                residual: UnsafePointer<Float>? = nil, ldr: Int = 0,
                relu: Bool = false, accumulate: Bool = false, threads: Int = Engine.threads) {
    precondition(ldb >= n, "packedGemm: ldb \(ldb) < n \(n)")
    packedGemm(a, n: n, b: GemmOperandB(b, ldb: ldb, columns: n), c: c, ldc: ldc, bias: bias, residual: residual,
               ldr: ldr, relu: relu, accumulate: accumulate, threads: threads)
}

/// `packedGemm` with B described by `b` (columns across images, a per-row transform).
/// `residual` (row stride `ldr`, indexed like C) is added with the bias, before the ReLU.
func packedGemm(_ a: PackedMatrix, n: Int, b: GemmOperandB,
                c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                residual: UnsafePointer<Float>? = nil, ldr: Int = 0,
                relu: Bool = false, accumulate: Bool = false, threads: Int = Engine.threads) {
    precondition(n > 0 && ldc >= n && b.imageColumns > 0, "packedGemm: bad shape n \(n), ldc \(ldc)")
    let isa = a.kernel.isa!
    let m = a.m, k = a.k
    var flags: Int32 = 0
    if relu { flags |= Int32(FERVID_GEMM_RELU) }
    if accumulate { flags |= Int32(FERVID_GEMM_ACCUMULATE) }
    let wsCount = fervid_gemm_workspace_size(isa)
    let mr = Int(fervid_gemm_mr(isa))
    // Below ~0.5 M multiply-adds (~4 µs) a second thread costs about what it saves.
    let serial = threads <= 1 || m * n * k < 1 << 19
    let colUnit = 32, colUnits = (n + colUnit - 1) / colUnit, panels = (m + mr - 1) / mr
    if serial || (colUnits < 2 * threads && panels < 2 * threads) {
        let ws = ConvScratch.current.gemmPack.reserve(wsCount)
        var d = b.descriptor(firstColumn: 0)
        fervid_gemm_compute(isa, Int32(m), Int32(n), Int32(k), a.data, 0, Int32(m), &d, c, ldc, bias, residual, ldr,
                              flags, ws)
    } else if n >= m || colUnits >= 4 * threads || panels < 2 * threads {
        // Columns: each thread packs and multiplies its own slice of B.
        parallelFor(colUnits, threads: threads) { units in
            let j0 = units.lowerBound * colUnit, j1 = Swift.min(units.upperBound * colUnit, n)
            let ws = ConvScratch.current.gemmPack.reserve(wsCount)
            var d = b.descriptor(firstColumn: j0)
            fervid_gemm_compute(isa, Int32(m), Int32(j1 - j0), Int32(k), a.data, 0, Int32(m), &d,
                                  c + j0, ldc, bias, residual.map { $0 + j0 }, ldr, flags, ws)
        }
    } else {
        // Row panels: B is narrow, A (the weights) is the bulk of the traffic.
        parallelFor(panels, threads: threads) { range in
            let ws = ConvScratch.current.gemmPack.reserve(wsCount)
            var d = b.descriptor(firstColumn: 0)
            fervid_gemm_compute(isa, Int32(m), Int32(n), Int32(k), a.data, Int32(range.lowerBound * mr),
                                  Int32(Swift.min(range.upperBound * mr, m)), &d, c, ldc, bias, residual, ldr,
                                  flags, ws)
        }
    }
}
