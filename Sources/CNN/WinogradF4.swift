// The transforms of Winograd F(4×4, 3×3) (Lavin & Gray 2016, §4.2), α = 6, interpolation
// points 0, ±1, ±2, ∞:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
// (G is in `makeWinogradWeight`). Same structure as the F(2×2) transforms in Winograd.swift.

/// V = Bᵀ d B for F(4×4, 3×3): `v` is (36, C, rows · tw); see `winogradInput`.
func winogradInputF4(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channels: Int, firstRow: Int, rows: Int,
                     th: Int, tw: Int, scratch: ConvScratch, into v: UnsafeMutablePointer<Float>) {
    let tiles = rows * tw
    let stride = channels * tiles     // between the 36 matrices
    let width = 4 * tw + 2            // padded input columns a tile row reads
    let perChunk = 12 * width
    let temp = scratch.transform.reserve(parallelChunkCount(channels, work: channels * tiles * 36) * perChunk)
    parallelFor(channels, work: channels * tiles * 36) { chunk, range in
        do {
            let d = temp + chunk * perChunk          // 6 padded input rows
            let s = d + 6 * width             // Bᵀ d: 6 combined rows
            for c in range {
                for r in 0..<rows {
                    let global = firstRow + r
                    let img = global / th, ty = global % th
                    let plane = x + (img * channels + c) * g.h * g.w
                    let iy0 = 4 * ty - g.padTop, ix0 = -g.padLeft
                    gatherPaddedRows(plane, g, iy0: iy0, ix0: ix0, rows: 6, width: width, into: d)
                    // Rows: s_i = Σ_k Bᵀ[i][k] d_k over the whole width.
                    // (Row pointers hoisted and index math wrapping: checked `k * width + j`
                    // inside the loop kept it scalar, with overflow branches.)
                    let (r0, r1, r2) = (d, d + width, d + 2 * width)
                    let (r3, r4, r5) = (d + 3 * width, d + 4 * width, d + 5 * width)
                    let (q0, q1, q2) = (s, s + width, s + 2 * width)
                    let (q3, q4, q5) = (s + 3 * width, s + 4 * width, s + 5 * width)
                    for j in 0..<width {
                        let d0 = r0[j], d1 = r1[j], d2 = r2[j], d3 = r3[j], d4 = r4[j], d5 = r5[j]
                        let t1 = d4 - 4 * d2, t2 = d3 - 4 * d1
                        let t3 = d4 - d2, t4 = 2 * (d3 - d1)
                        q0[j] = 4 * d0 - 5 * d2 + d4
                        q1[j] = t1 + t2
                        q2[j] = t1 - t2
                        q3[j] = t3 + t4
                        q4[j] = t3 - t4
                        q5[j] = 4 * d1 - 5 * d3 + d5
                    }
                    // Columns: for tile t, Bᵀ over s_i[4t ..< 4t + 6].
                    for i in 0..<6 {
                        let si = s + i * width
                        let o0 = v + (6 * i) * stride + c * tiles + r * tw
                        let (o1, o2, o3, o4, o5) = (o0 + stride, o0 + 2 * stride, o0 + 3 * stride,
                                                    o0 + 4 * stride, o0 + 5 * stride)
                        for t in 0..<tw {
                            let p = si + (t &<< 2)
                            let d0 = p[0], d1 = p[1], d2 = p[2], d3 = p[3], d4 = p[4], d5 = p[5]
                            let t1 = d4 - 4 * d2, t2 = d3 - 4 * d1
                            let t3 = d4 - d2, t4 = 2 * (d3 - d1)
                            o0[t] = 4 * d0 - 5 * d2 + d4
                            o1[t] = t1 + t2
                            o2[t] = t1 - t2
                            o3[t] = t3 + t4
                            o4[t] = t3 - t4
                            o5[t] = 4 * d1 - 5 * d3 + d5
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
                      scratch: ConvScratch, into y: UnsafeMutablePointer<Float>) {
    let tiles = rows * tw
    let stride = channels * tiles
    let perChunk = 24 * tw + 4 * tw
    let temp = scratch.transform.reserve(parallelChunkCount(channels, work: channels * tiles * 36) * perChunk)
    parallelFor(channels, work: channels * tiles * 36) { chunk, range in
        do {
            let a = temp + chunk * perChunk             // Aᵀ M: (4, 6) entries, each over tw tiles
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
                            let l = line + (t &<< 2)
                            l[0] = c0[t] + p + u + b
                            l[1] = q + 2 * w + b
                            l[2] = p + 4 * u + b
                            l[3] = q + 8 * w + c5[t] + b
                        }
                        let out = y + ((img * channels + k) * g.oh + oy + i) * g.ow
                        switch act {
                        case .none: out.update(from: line, count: g.ow)
                        case .relu: for o in 0..<g.ow { out[o] = Swift.max(line[o], 0) }
                        case .sigmoid: for o in 0..<g.ow { out[o] = act.apply(line[o]) }
                        }
                    }
                }
            }
        }
    }
}
