// The transforms of Winograd F(4×4, 3×3) (Lavin & Gray 2016, §4.2), α = 6, interpolation
// points 0, ±1, ±2, ∞:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
// (G is in `makeWinogradWeight`); F(2×2, 3×3)'s are in Winograd.swift.
import CKernels

// The loops themselves are C (CKernels's winograd.c, compiled per instruction set); the functions
// here walk channels and tile rows in parallel and gather the zero-padded input rows.

/// V = Bᵀ d B for F(m×m, 3×3), m = 2 or 4, for the tiles of tile rows [firstRow, firstRow + rows)
/// (row R: image R / th, tile row R % th; tw tiles each), every channel; `v` is
/// (α², C, rows · tw), α = m + 2.
func winogradInputTransform(isa: Int32, tile m: Int, _ x: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int,
                            rows: Int, th: Int, tw: Int, scratch: ConvScratch, into v: UnsafeMutablePointer<Float>) {
    let alpha = m + 2
    let tiles = rows * tw
    let stride = channels * tiles     // between the α² matrices
    let perChunk = fervid_winograd_input_scratch(Int32(m), Int32(tw), Int32(rows))
    let work = channels * tiles * alpha * alpha
    let temp = scratch.transform.reserve(parallelChunkCount(channels, work: work) * perChunk)
    let plane = g.h * g.w
    parallelFor(channels, work: work) { chunk, range in
        let s = temp + chunk * perChunk
        for c in range {
            fervid_winograd_input_rows(isa, Int32(m), x + c * plane, channels * plane, Int32(g.h), Int32(g.w),
                                       Int32(g.padTop), Int32(g.padLeft), Int32(th), Int32(tw), Int32(firstRow),
                                       Int32(rows), v + c * tiles, stride, s)
        }
    }
}

/// Y = Aᵀ M A + bias for F(m×m, 3×3), activated (by PReLU with `slopes`, one per channel, when
/// given), into the (N, K, OH, OW) output for the tile rows [firstRow, firstRow + rows); `mm` is
/// (α², K, rows · tw).
func winogradOutputTransform(isa: Int32, tile m: Int, _ mm: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int,
                             firstRow: Int, rows: Int, th: Int, tw: Int, bias: UnsafePointer<Float>,
                             _ act: Activation, slopes: UnsafePointer<Float>? = nil, scratch: ConvScratch,
                             into y: UnsafeMutablePointer<Float>) {
    let alpha = m + 2
    let tiles = rows * tw
    let stride = channels * tiles
    let plane = g.oh * g.ow
    precondition(g.n * channels * plane < Int(Int32.max), "Winograd output of \(g.n * channels * plane) floats exceeds 32-bit offsets")
    let perChunk = fervid_winograd_output_scratch(Int32(m), Int32(tw), Int32(rows))
    let work = channels * tiles * alpha * alpha
    let temp = scratch.transform.reserve(parallelChunkCount(channels, work: work) * perChunk)
    parallelFor(channels, work: work) { chunk, range in
        let a = temp + chunk * perChunk
        for k in range {
            fervid_winograd_output_rows(isa, Int32(m), mm + k * tiles, stride, Int32(tw), Int32(rows), Int32(firstRow),
                                        Int32(th), bias[k], y + k * plane, channels * plane, Int32(g.oh),
                                        Int32(g.ow), act == .relu ? 1 : 0, slopes.map { $0 + k }, a)
            if act == .sigmoid {
                for r in 0..<rows {
                    let global = firstRow + r
                    let img = global / th, oy = m * (global % th)
                    let out = y + ((img * channels + k) * g.oh + oy) * g.ow
                    for o in 0..<(Swift.min(m, g.oh - oy) * g.ow) { out[o] = act.apply(out[o]) }
                }
            }
        }
    }
}
