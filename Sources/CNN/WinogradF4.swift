// The transforms of Winograd F(4×4, 3×3) (Lavin & Gray 2016, §4.2), α = 6, interpolation
// points 0, ±1, ±2, ∞:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
// (G is in `makeWinogradWeight`). Same structure as the F(2×2) transforms in Winograd.swift.

/// V = Bᵀ d B for F(4×4, 3×3): `v` is (36, C, rows · tw); see `winogradInput`.
func winogradInputF4(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int, rows: Int,
                     th: Int, tw: Int, into v: UnsafeMutablePointer<Float>) {
    let tiles = rows * tw
    let stride = channels * tiles     // between the 36 matrices
    let width = 4 * tw + 2            // padded input columns a tile row reads
    parallelFor(channels, work: channels * tiles * 36) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 12 * width) { buf in
            let d = buf.baseAddress!          // 6 padded input rows
            let s = d + 6 * width             // Bᵀ d: 6 combined rows
            for c in range {
                for r in 0..<rows {
                    let global = firstRow + r
                    let img = global / th, ty = global % th
                    let plane = x + (img * channels + c) * g.h * g.w
                    let iy0 = 4 * ty - g.padTop, ix0 = -g.padLeft
                    let lo = Swift.min(Swift.max(0, -ix0), width), hi = Swift.max(Swift.min(width, g.w - ix0), lo)
                    for i in 0..<6 {
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
                    // Rows: s_i = Σ_k Bᵀ[i][k] d_k over the whole width.
                    for j in 0..<width {
                        let d0 = d[j], d1 = d[width + j], d2 = d[2 * width + j]
                        let d3 = d[3 * width + j], d4 = d[4 * width + j], d5 = d[5 * width + j]
                        let t1 = d4 - 4 * d2, t2 = d3 - 4 * d1
                        let t3 = d4 - d2, t4 = 2 * (d3 - d1)
                        s[j] = 4 * d0 - 5 * d2 + d4
                        s[width + j] = t1 + t2
                        s[2 * width + j] = t1 - t2
                        s[3 * width + j] = t3 + t4
                        s[4 * width + j] = t3 - t4
                        s[5 * width + j] = 4 * d1 - 5 * d3 + d5
                    }
                    // Columns: for tile t, Bᵀ over s_i[4t ..< 4t + 6].
                    for i in 0..<6 {
                        let si = s + i * width
                        let out = v + (6 * i) * stride + c * tiles + r * tw
                        for t in 0..<tw {
                            let p = si + 4 * t
                            let d0 = p[0], d1 = p[1], d2 = p[2], d3 = p[3], d4 = p[4], d5 = p[5]
                            let t1 = d4 - 4 * d2, t2 = d3 - 4 * d1
                            let t3 = d4 - d2, t4 = 2 * (d3 - d1)
                            out[t] = 4 * d0 - 5 * d2 + d4
                            out[stride + t] = t1 + t2
                            out[2 * stride + t] = t1 - t2
                            out[3 * stride + t] = t3 + t4
                            out[4 * stride + t] = t3 - t4
                            out[5 * stride + t] = 4 * d1 - 5 * d3 + d5
                        }
                    }
                }
            }
        }
    }
}

/// Y = Aᵀ M A + bias for F(4×4, 3×3), activated, into the (N, K, OH, OW) output; `mm` is
/// (36, K, rows · tw); see `winogradOutput`.
func winogradOutputF4(_ mm: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int, rows: Int,
                      th: Int, tw: Int, bias: UnsafePointer<Float>, _ act: Activation,
                      into y: UnsafeMutablePointer<Float>) {
    let tiles = rows * tw
    let stride = channels * tiles
    parallelFor(channels, work: channels * tiles * 36) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 24 * tw + 4 * tw) { buf in
            let a = buf.baseAddress!             // Aᵀ M: (4, 6) entries, each over tw tiles
            let line = a + 24 * tw               // one output row, 4 · tw wide
            for k in range {
                let b = bias[k]
                for r in 0..<rows {
                    let global = firstRow + r
                    let img = global / th, oy = 4 * (global % th)
                    let base = mm + k * tiles + r * tw
                    for j in 0..<6 {
                        let m0 = base + j * stride, m1 = base + (6 + j) * stride, m2 = base + (12 + j) * stride
                        let m3 = base + (18 + j) * stride, m4 = base + (24 + j) * stride, m5 = base + (30 + j) * stride
                        let a0 = a + j * tw, a1 = a + (6 + j) * tw, a2 = a + (12 + j) * tw, a3 = a + (18 + j) * tw
                        for t in 0..<tw {
                            let p = m1[t] + m2[t], q = m1[t] - m2[t]
                            let u = m3[t] + m4[t], w = m3[t] - m4[t]
                            a0[t] = m0[t] + p + u
                            a1[t] = q + 2 * w
                            a2[t] = p + 4 * u
                            a3[t] = q + 8 * w + m5[t]
                        }
                    }
                    for i in 0..<4 where oy + i < g.oh {
                        let c0 = a + (6 * i) * tw
                        let (c1, c2, c3, c4, c5) = (c0 + tw, c0 + 2 * tw, c0 + 3 * tw, c0 + 4 * tw, c0 + 5 * tw)
                        for t in 0..<tw {
                            let p = c1[t] + c2[t], q = c1[t] - c2[t]
                            let u = c3[t] + c4[t], w = c3[t] - c4[t]
                            line[4 * t] = act.apply(c0[t] + p + u + b)
                            line[4 * t + 1] = act.apply(q + 2 * w + b)
                            line[4 * t + 2] = act.apply(p + 4 * u + b)
                            line[4 * t + 3] = act.apply(q + 8 * w + c5[t] + b)
                        }
                        let out = y + ((img * channels + k) * g.oh + oy + i) * g.ow
                        out.update(from: line, count: g.ow)
                    }
                }
            }
        }
    }
}
