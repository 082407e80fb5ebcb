// Winograd minimal filtering F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016, eq. (8)–(11)):
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// per 4×4 input tile d giving a 2×2 output tile. Summed over input channels, the ⊙ becomes 16
// GEMMs of (out, in) × (in, tiles), so a 3×3 convolution does 16/36 = 1/2.25 of the im2col
// multiplications, with tiles of every image of the batch in one GEMM.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]

extension Conv2d {
    /// Winograd applies to 3×3, stride 1, undilated, ungrouped convolutions with enough channels
    /// for its 16 GEMMs to be efficient, and enough tiles to fill their columns.
    func usesWinograd(_ g: ConvGeometry) -> Bool {
        guard kernelH == 3 && kernelW == 3 && stride == 1 && dilation == 1 && groups == 1 else { return false }
        switch algorithm {
        case .im2col: return false
        case .winograd: return true
        case .automatic:
            let tiles = g.n * ((g.oh + 1) / 2) * ((g.ow + 1) / 2)
            return inChannels >= 16 && outChannels >= 16 && tiles >= Conv2d.winogradMinTiles
        }
    }

    /// Fewest tiles (GEMM columns) for which Winograd beats im2col.
    static let winogradMinTiles = 32

    /// U = G g Gᵀ for every (out, in) filter, stored (16, out, in): GEMM e's A matrix is U[e].
    func makeWinogradWeight() -> [Float] {
        let pairs = outChannels * inChannels
        var u = [Float](repeating: 0, count: 16 * pairs)
        for pair in 0..<pairs {
            let g = Array(weight[(pair * 9)..<(pair * 9 + 9)])   // (3, 3) row-major
            // t = G g: (4, 3)
            var t = [Float](repeating: 0, count: 12)
            for j in 0..<3 {
                let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j])
                t[j] = g0
                t[3 + j] = 0.5 * (g0 + g1 + g2)
                t[6 + j] = 0.5 * (g0 - g1 + g2)
                t[9 + j] = g2
            }
            // U = t Gᵀ: (4, 4)
            for i in 0..<4 {
                let (t0, t1, t2) = (t[3 * i], t[3 * i + 1], t[3 * i + 2])
                let row = [t0, 0.5 * (t0 + t1 + t2), 0.5 * (t0 - t1 + t2), t2]
                for j in 0..<4 { u[(4 * i + j) * pairs + pair] = row[j] }
            }
        }
        return u
    }

    func winogradConvolution(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry) {
        if winogradWeight == nil { winogradWeight = makeWinogradWeight() }
        let inC = inChannels, outC = outChannels
        let th = (g.oh + 1) / 2, tw = (g.ow + 1) / 2
        let tileRows = g.n * th            // tile row R = image · th + ty
        // Tile rows per chunk: V (16, in, T) and M (16, out, T) each within the tile budget.
        let rowsPerChunk = Swift.max(1, Swift.min(tileRows, tileBudget / (16 * Swift.max(inC, outC) * tw)))
        let scratch = ConvScratch.current
        let v = scratch.columns.reserve(16 * inC * rowsPerChunk * tw)
        let m = scratch.product.reserve(16 * outC * rowsPerChunk * tw)
        let act = activation, xd = x.data, yd = y.data
        winogradWeight!.withUnsafeBufferPointer { ub in
            bias.withUnsafeBufferPointer { bb in
                let u = ub.baseAddress!, bias = bb.baseAddress!
                var r0 = 0
                while r0 < tileRows {
                    let rows = Swift.min(rowsPerChunk, tileRows - r0)
                    let count = rows * tw
                    winogradInput(xd, g, channels: inC, firstRow: r0, rows: rows, th: th, tw: tw, into: v)
                    for e in 0..<16 {
                        gemm(m: outC, n: count, k: inC, a: u + e * outC * inC, lda: inC,
                             b: v + e * inC * count, ldb: count, c: m + e * outC * count, ldc: count)
                    }
                    winogradOutput(m, g, channels: outC, firstRow: r0, rows: rows, th: th, tw: tw,
                                   bias: bias, act, into: yd)
                    r0 += rows
                }
            }
        }
    }
}

/// V = Bᵀ d B for the tiles of tile rows [firstRow, firstRow + rows) (row R: image R / th, tile
/// row R % th; tw tiles each), every channel; `v` is (16, C, rows · tw).
///
/// Bᵀ combines the tile's four input rows, done once per tile row over the whole (zero-padded)
/// image width, vectorized; B then combines columns 2·tx … 2·tx + 3 for each tile.
func winogradInput(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int, rows: Int,
                   th: Int, tw: Int, into v: UnsafeMutablePointer<Float>) {
    let tiles = rows * tw
    let stride = channels * tiles     // between the 16 matrices
    let width = 2 * tw + 2            // padded input columns the tile row reads
    parallelFor(channels, work: channels * tiles * 16) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * width) { buf in
            let d = buf.baseAddress!          // 4 padded input rows
            let s = d + 4 * width             // Bᵀ d: 4 combined rows
            for c in range {
                for r in 0..<rows {
                    let global = firstRow + r
                    let img = global / th, ty = global % th
                    let plane = x + (img * channels + c) * g.h * g.w
                    let iy0 = 2 * ty - g.padTop, ix0 = -g.padLeft
                    // Padded rows: columns ix0 ..< ix0 + width, zero outside the image.
                    let lo = Swift.min(Swift.max(0, -ix0), width), hi = Swift.max(Swift.min(width, g.w - ix0), lo)
                    for i in 0..<4 {
                        let row = d + i * width
                        let iy = iy0 + i
                        if iy < 0 || iy >= g.h {
                            for j in 0..<width { row[j] = 0 }
                            continue
                        }
                        let src = plane + iy * g.w + ix0
                        for j in 0..<lo { row[j] = 0 }
                        for j in lo..<hi { row[j] = src[j] }
                        for j in hi..<width { row[j] = 0 }
                    }
                    let (d0, d1, d2, d3) = (d, d + width, d + 2 * width, d + 3 * width)
                    let (s0, s1, s2, s3) = (s, s + width, s + 2 * width, s + 3 * width)
                    for j in 0..<width {
                        s0[j] = d0[j] - d2[j]
                        s1[j] = d1[j] + d2[j]
                        s2[j] = d2[j] - d1[j]
                        s3[j] = d1[j] - d3[j]
                    }
                    for i in 0..<4 {
                        let si = s + i * width
                        let out = v + (4 * i) * stride + c * tiles + r * tw
                        let (o0, o1, o2, o3) = (out, out + stride, out + 2 * stride, out + 3 * stride)
                        for t in 0..<tw {
                            let a = si[2 * t], b = si[2 * t + 1], cc = si[2 * t + 2], dd = si[2 * t + 3]
                            o0[t] = a - cc
                            o1[t] = b + cc
                            o2[t] = cc - b
                            o3[t] = b - dd
                        }
                    }
                }
            }
        }
    }
}

/// Y = Aᵀ M A + bias, activated, written into the (N, K, OH, OW) output for the chunk's tile
/// rows; `m` is (16, K, rows · tw).
func winogradOutput(_ m: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int, rows: Int,
                    th: Int, tw: Int, bias: UnsafePointer<Float>, _ act: Activation,
                    into y: UnsafeMutablePointer<Float>) {
    let tiles = rows * tw
    let stride = channels * tiles
    parallelFor(channels, work: channels * tiles * 16) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * tw + 4 * tw) { buf in
            let a = buf.baseAddress!             // Aᵀ M: 2 rows × 4 columns, each over tw tiles
            let line = a + 8 * tw                // one output row pair, 2 · 2tw
            for k in range {
                let b = bias[k]
                for r in 0..<rows {
                    let global = firstRow + r
                    let img = global / th, oy = 2 * (global % th)
                    let base = m + k * tiles + r * tw
                    for j in 0..<4 {
                        let m0 = base + j * stride, m1 = base + (4 + j) * stride
                        let m2 = base + (8 + j) * stride, m3 = base + (12 + j) * stride
                        let a0 = a + j * tw, a1 = a + (4 + j) * tw
                        for t in 0..<tw {
                            a0[t] = m0[t] + m1[t] + m2[t]
                            a1[t] = m1[t] - m2[t] - m3[t]
                        }
                    }
                    for i in 0..<2 where oy + i < g.oh {
                        let c0 = a + (4 * i) * tw, c1 = c0 + tw, c2 = c0 + 2 * tw, c3 = c0 + 3 * tw
                        let l = line + i * 2 * tw
                        for t in 0..<tw {
                            l[2 * t] = act.apply(c0[t] + c1[t] + c2[t] + b)
                            l[2 * t + 1] = act.apply(c1[t] - c2[t] - c3[t] + b)
                        }
                        let out = y + ((img * channels + k) * g.oh + oy + i) * g.ow
                        out.update(from: l, count: g.ow)
                    }
                }
            }
        }
    }
}
