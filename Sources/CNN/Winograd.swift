// Winograd minimal filtering F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016, eq. (8)–(11)):
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// per 4×4 input tile d giving a 2×2 output tile. Summed over input channels, the ⊙ becomes 16
// GEMMs of (out, in) × (in, tiles), so a 3×3 convolution does 16/36 = 1/2.25 of the im2col
// multiplications, with tiles of every image of the batch in one GEMM.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]

import CKernels

/// Which Winograd filters: output tile size and GEMM kernel.
struct WinogradKey: Hashable {
    let m: Int
    let kernel: Engine.GemmKernel
}

/// A layer's Winograd filters for one key: U (α², out, in) for OpenBLAS, or U packed per α²
/// element for the engine's GEMM.
final class WinogradFilters: @unchecked Sendable {
    let u: [Float]?
    let packs: [PackedMatrix]?
    init(u: [Float]?, packs: [PackedMatrix]?) {
        self.u = u
        self.packs = packs
    }
}

extension Conv2d {
    /// The Winograd output tile (2 for F(2×2, 3×3), 4 for F(4×4, 3×3)) for this call, or nil
    /// for im2col. Winograd applies to 3×3, stride 1, undilated, ungrouped convolutions with
    /// enough channels for its GEMMs to be efficient and enough tiles to fill their columns.
    func winogradTileSize(_ g: ConvGeometry) -> Int? {
        guard kernelH == 3 && kernelW == 3 && stride == 1 && dilation == 1 && groups == 1 else { return nil }
        switch algorithm {
        case .im2col, .direct: return nil
        case .winograd: return 2
        case .winograd4: return 4
        case .automatic:
            guard inChannels >= 16 && outChannels >= 16 else { return nil }
            func tiles(_ m: Int) -> Int { g.n * ((g.oh + m - 1) / m) * ((g.ow + m - 1) / m) }
            // F(4×4) when it saves >10% of F(2×2)'s GEMM work (36 vs 16 products per tile:
            // on 6×6 planes both do 144 per image and F(2×2)'s cheaper transforms win).
            if Engine.winogradF4 && tiles(4) >= Conv2d.winogradMinTiles && 36 * tiles(4) * 10 < 16 * tiles(2) * 9 {
                return 4
            }
            let minTiles = inChannels * outChannels <= Conv2d.winogradSmallFilterPairs
                ? Conv2d.winogradMinTilesSmallFilters : Conv2d.winogradMinTiles
            return tiles(2) >= minTiles ? 2 : nil
        }
    }

    func usesWinograd(_ g: ConvGeometry) -> Bool { winogradTileSize(g) != nil }

    /// Fewest tiles (GEMM columns) for which Winograd beats im2col. Measured (thread clock,
    /// Haswell kernels): ResNet-101 layer3 3×3 256 on 7×7 at batch 1 = 16 F(2×2) tiles,
    /// 0.92 ms against im2col's 1.13 ms; 4 tiles (layer4 at batch 1) stay on im2col.
    static let winogradMinTiles = 16

    /// With few (out, in) filter pairs the transformed filters stay in cache, and F(2×2) pays
    /// from 4 tiles on: DenseNet-161's 192→48 convs on 6×6 and 3×3 planes at batch 1 (measured,
    /// DBA DenseNet-161, batch 1, 2 threads: 24.5 → 26.4 images/s). Large filter banks (ResNet-101
    /// layer4, 512→512 on 4 tiles) stream 16/9 of their weights' bytes per image through
    /// F(2×2) and stay on im2col (26.3 → 21.7 images/s when they did not).
    static let winogradSmallFilterPairs = 1 << 15
    static let winogradMinTilesSmallFilters = 4

    /// U = G g Gᵀ for every (out, in) filter, stored (α², out, in) (α = m + 2): GEMM e's A
    /// matrix is U[e]. Computed in Double (G of F(4×4, 3×3) has sixths and 24ths).
    func makeWinogradWeight(tile m: Int, from weight: [Float]) -> [Float] {
        let G = m == 2 ? Conv2d.winogradG2 : Conv2d.winogradG4
        let a = m + 2, pairs = outChannels * inChannels
        var u = [Float](repeating: 0, count: a * a * pairs)
        var t = [Double](repeating: 0, count: a * 3)
        weight.withUnsafeBufferPointer { wp in
            for pair in 0..<pairs {
                let g = wp.baseAddress! + pair * 9                   // (3, 3) row-major
                for i in 0..<a {                                     // t = G g: (α, 3)
                    for j in 0..<3 {
                        t[i * 3 + j] = (0..<3).reduce(0.0) { $0 + G[i * 3 + $1] * Double(g[$1 * 3 + j]) }
                    }
                }
                for i in 0..<a {                                     // U = t Gᵀ: (α, α)
                    for j in 0..<a {
                        let v = (0..<3).reduce(0.0) { $0 + t[i * 3 + $1] * G[j * 3 + $1] }
                        u[(i * a + j) * pairs + pair] = Float(v)
                    }
                }
            }
        }
        return u
    }

    /// G of F(2×2, 3×3), (4, 3).
    static let winogradG2: [Double] = [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1]
    /// G of F(4×4, 3×3), (6, 3).
    static let winogradG4: [Double] = [
        1.0 / 4, 0, 0,
        -1.0 / 6, -1.0 / 6, -1.0 / 6,
        -1.0 / 6, 1.0 / 6, -1.0 / 6,
        1.0 / 24, 1.0 / 12, 1.0 / 6,
        1.0 / 24, -1.0 / 12, 1.0 / 6,
        0, 0, 1,
    ]

    /// The transformed filters for output tile `m` and the current GEMM kernel: packed for the
    /// engine's GEMM (the unpacked U is not kept), or U itself for OpenBLAS.
    /// A layer that dropped its unpacked weights reads them again from its checkpoint here; if
    /// that fails (the file changed or is gone) it runs the other tile's filters, which exist.
    func winogradFilters(tile m: Int) -> (filters: WinogradFilters, tile: Int) {
        let kernel = gemmKernel ?? Engine.gemmKernel
        let key = WinogradKey(m: m, kernel: kernel)
        if let filters = winogradCache.peek(key) { return (filters, m) }
        guard let w = canonicalWeight() else {
            let other = WinogradKey(m: 6 - m, kernel: kernel)
            guard let filters = winogradCache.peek(other) else {
                preconditionFailure("\(name): no Winograd filters and the checkpoint no longer holds the weights")
            }
            return (filters, other.m)
        }
        let filters = winogradCache.value(key) {
            let u = makeWinogradWeight(tile: m, from: w)
            if kernel == .openBLAS { return WinogradFilters(u: u, packs: nil) }
            return WinogradFilters(u: nil, packs: PackedMatrix.pack(u, count: (m + 2) * (m + 2), m: outChannels,
                                                                    k: inChannels, kernel: kernel)!)
        }
        if dropsWeightAfterDeriving { dropReloadableWeight() }
        return (filters, m)
    }

    /// `slopes`: PReLU slopes (one per output channel) applied in the output transform.
    func winogradConvolution(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry, tile wanted: Int, slopes: [Float]? = nil) {
        let (filters, m) = winogradFilters(tile: wanted)
        Engine.releaseFreedMemoryIfPending()   // the weights a first derivation dropped, now unreferenced
        let a2 = (m + 2) * (m + 2)
        let inC = inChannels, outC = outChannels
        let kernel = gemmKernel ?? Engine.gemmKernel
        let packs = filters.packs
        // The transforms' instruction set: the packed kernel's, the widest otherwise.
        let isa = kernel.isa ?? fervid_gemm_best_isa()
        let th = (g.oh + m - 1) / m, tw = (g.ow + m - 1) / m
        let tileRows = g.n * th            // tile row R = image · th + ty
        // Tile rows per chunk: V (α², in, T) and M (α², out, T) each within the tile budget.
        let rowsPerChunk = Swift.max(1, Swift.min(tileRows, tileBudget / (a2 * Swift.max(inC, outC) * tw)))
        let scratch = ConvScratch.current
        let v = scratch.columns.reserve(a2 * inC * rowsPerChunk * tw)
        let mm = scratch.product.reserve(a2 * outC * rowsPerChunk * tw)
        let act = activation, xd = x.data, yd = y.data
        (filters.u ?? []).withUnsafeBufferPointer { ub in
          withOptionalBuffer(slopes) { sp in
            bias.withUnsafeBufferPointer { bb in
                let u = ub.baseAddress, bias = bb.baseAddress!
                var r0 = 0
                while r0 < tileRows {
                    let rows = Swift.min(rowsPerChunk, tileRows - r0)
                    let count = rows * tw
                    winogradInputTransform(isa: isa, tile: m, xd, g, channels: inC, firstRow: r0, rows: rows, th: th, tw: tw,
                                           scratch: scratch, into: v)
                    if let packs {
                        // The α² products are independent: with small ones (batch 1: 16 tiles)
                        // each thread takes whole products; large ones split themselves.
                        let perProduct = outC * count * inC
                        if perProduct < 1 << 21 {
                            parallelFor(a2, work: a2 * perProduct / 8) { range in
                                for e in range {
                                    packedGemm(packs[e], n: count, b: v + e * inC * count, ldb: count,
                                               c: mm + e * outC * count, ldc: count, threads: 1)
                                }
                            }
                        } else {
                            for e in 0..<a2 {
                                packedGemm(packs[e], n: count, b: v + e * inC * count, ldb: count,
                                           c: mm + e * outC * count, ldc: count)
                            }
                        }
                    } else {
                        for e in 0..<a2 {
                            gemm(m: outC, n: count, k: inC, a: u! + e * outC * inC, lda: inC,
                                 b: v + e * inC * count, ldb: count, c: mm + e * outC * count, ldc: count)
                        }
                    }
                    winogradOutputTransform(isa: isa, tile: m, mm, g, channels: outC, firstRow: r0, rows: rows, th: th, tw: tw,
                                            bias: bias, act, slopes: sp, scratch: scratch, into: yd)
                    r0 += rows
                }
            }
          }
        }
    }
}
