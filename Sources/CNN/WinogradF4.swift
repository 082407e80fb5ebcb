// The transforms of Winograd F(4×4, 3×3) (Lavin & Gray 2016, §4.2), α = 6, interpolation
// points 0, ±1, ±2, ∞:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
// (G is in `makeWinogradWeight`); F(2×2, 3×3)'s are in Winograd.swift.
import CGemm

// The loops themselves are C (CGemm's winograd.c, compiled per instruction set); the functions
// here walk channels and tile rows in parallel and gather the zero-padded input rows.

/// V = Bᵀ d B for F(m×m, 3×3), m = 2 or 4, for the tiles of tile rows [firstRow, firstRow + rows)
/// (row R: image R / th, tile row R % th; tw tiles each), every channel; `v` is
/// (α², C, rows · tw), α = m + 2.
func winogradInputTransform(tile m: Int, _ x: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int,
                            rows: Int, th: Int, tw: Int, scratch: ConvScratch, into v: UnsafeMutablePointer<Float>) {
    let alpha = m + 2
    let tiles = rows * tw
    let stride = channels * tiles     // between the α² matrices
    let width = m * tw + 2            // padded input columns a tile row reads
    let perChunk = 2 * alpha * width
    let work = channels * tiles * alpha * alpha
    let temp = scratch.transform.reserve(parallelChunkCount(channels, work: work) * perChunk)
    parallelFor(channels, work: work) { chunk, range in
        let d = temp + chunk * perChunk       // α padded input rows
        let s = d + alpha * width             // Bᵀ d
        for c in range {
            for r in 0..<rows {
                let global = firstRow + r
                let img = global / th, ty = global % th
                let plane = x + (img * channels + c) * g.h * g.w
                gatherPaddedRows(plane, g, iy0: m * ty - g.padTop, ix0: -g.padLeft, rows: alpha, width: width, into: d)
                fervid_winograd_input(Int32(m), d, Int32(tw), v + c * tiles + r * tw, stride, s)
            }
        }
    }
}

/// Y = Aᵀ M A + bias for F(m×m, 3×3), activated, into the (N, K, OH, OW) output for the tile
/// rows [firstRow, firstRow + rows); `mm` is (α², K, rows · tw).
func winogradOutputTransform(tile m: Int, _ mm: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int,
                             firstRow: Int, rows: Int, th: Int, tw: Int, bias: UnsafePointer<Float>,
                             _ act: Activation, scratch: ConvScratch, into y: UnsafeMutablePointer<Float>) {
    let alpha = m + 2
    let tiles = rows * tw
    let stride = channels * tiles
    let perChunk = (alpha * m + m) * tw
    let work = channels * tiles * alpha * alpha
    let temp = scratch.transform.reserve(parallelChunkCount(channels, work: work) * perChunk)
    parallelFor(channels, work: work) { chunk, range in
        let a = temp + chunk * perChunk
        for k in range {
            for r in 0..<rows {
                let global = firstRow + r
                let img = global / th, oy = m * (global % th)
                let valid = Swift.min(m, g.oh - oy)
                let out = y + ((img * channels + k) * g.oh + oy) * g.ow
                fervid_winograd_output(Int32(m), mm + k * tiles + r * tw, stride, Int32(tw), bias[k], out, g.ow,
                                       Int32(valid), Int32(g.ow), act == .relu ? 1 : 0, a)
                if act == .sigmoid {
                    for o in 0..<(valid * g.ow) { out[o] = act.apply(out[o]) }
                }
            }
        }
    }
}
