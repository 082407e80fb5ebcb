// Area interpolation (PyTorch `interpolate(mode="area")`, i.e. adaptive average pooling): output
// cell i along an axis of `n` -> `m` averages input [floor(i·n/m), ceil((i+1)·n/m)). MTCNN's
// image pyramid and its 24×24 / 48×48 crops all use it; the boxes depend on matching it.

/// The input span [start, end) that output `i` of `m` averages over an axis of `n`.
@inline(__always) func areaSpan(_ i: Int, _ n: Int, _ m: Int) -> (Int, Int) {
    (i * n / m, ((i + 1) * n + m - 1) / m)
}

/// A region of a planar (C, H, W) float image: `planeStride` floats between channels,
/// `rowStride` between rows.
public struct PlanarRegion {
    public let base: UnsafePointer<Float>
    public let channels: Int, planeStride: Int, rowStride: Int
    public let x: Int, y: Int, width: Int, height: Int

    public init(base: UnsafePointer<Float>, channels: Int, planeStride: Int, rowStride: Int,
                x: Int, y: Int, width: Int, height: Int) {
        precondition(width > 0 && height > 0 && x >= 0 && y >= 0 && x + width <= rowStride,
                     "PlanarRegion: bad region \(x),\(y) \(width)×\(height)")
        self.base = base
        self.channels = channels
        self.planeStride = planeStride
        self.rowStride = rowStride
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// Area-resizes `src` to (C, outH, outW) at `dst`, separably (rows, then columns); sums in
/// Double. `scratch` is reused between calls. Plain while loops over pointers: this runs on every
/// pyramid level and every crop, and stays tolerable in debug builds too.
public func areaResize(_ src: PlanarRegion, outH: Int, outW: Int, into dst: UnsafeMutablePointer<Float>,
                       scratch: inout [Double]) {
    precondition(outH > 0 && outW > 0, "areaResize: empty output")
    let (w, h) = (src.width, src.height)
    let need = h * outW + 2 * (outW + outH)
    if scratch.count < need { scratch = [Double](repeating: 0, count: need) }
    scratch.withUnsafeMutableBufferPointer { buf in
        let tmp = buf.baseAddress!                      // (h, outW) row means
        let spans = tmp + h * outW                      // start/end per output column, then row
        var o = 0
        while o < outW { let (s, e) = areaSpan(o, w, outW); spans[2 * o] = Double(s); spans[2 * o + 1] = Double(e); o += 1 }
        let rowSpans = spans + 2 * outW
        o = 0
        while o < outH { let (s, e) = areaSpan(o, h, outH); rowSpans[2 * o] = Double(s); rowSpans[2 * o + 1] = Double(e); o += 1 }
        var c = 0
        while c < src.channels {
            // Pass 1: each input row -> outW column means.
            var r = 0
            while r < h {
                let row = src.base + c * src.planeStride + (src.y + r) * src.rowStride + src.x
                let out = tmp + r * outW
                var col = 0
                while col < outW {
                    let s = Int(spans[2 * col]), e = Int(spans[2 * col + 1])
                    var sum = 0.0
                    var i = s
                    while i < e { sum += Double(row[i]); i += 1 }
                    out[col] = sum / Double(e - s)
                    col += 1
                }
                r += 1
            }
            // Pass 2: row means -> (outH, outW).
            let plane = dst + c * outH * outW
            var oy = 0
            while oy < outH {
                let s = Int(rowSpans[2 * oy]), e = Int(rowSpans[2 * oy + 1])
                let out = plane + oy * outW
                var col = 0
                while col < outW {
                    var sum = 0.0
                    var rr = s
                    while rr < e { sum += tmp[rr * outW + col]; rr += 1 }
                    out[col] = Float(sum / Double(e - s))
                    col += 1
                }
                oy += 1
            }
            c += 1
        }
    }
}

/// Naive twin of ``areaResize(_:outH:outW:into:scratch:)``: each output pixel is the plain mean
/// of its input rectangle. The oracle for the tests.
public func naiveAreaResize(_ src: PlanarRegion, outH: Int, outW: Int) -> [Float] {
    var out = [Float](repeating: 0, count: src.channels * outH * outW)
    for c in 0..<src.channels {
        for oy in 0..<outH {
            let (y0, y1) = areaSpan(oy, src.height, outH)
            for ox in 0..<outW {
                let (x0, x1) = areaSpan(ox, src.width, outW)
                var sum = 0.0
                for yy in y0..<y1 {
                    for xx in x0..<x1 {
                        sum += Double(src.base[c * src.planeStride + (src.y + yy) * src.rowStride + src.x + xx])
                    }
                }
                out[(c * outH + oy) * outW + ox] = Float(sum / Double((y1 - y0) * (x1 - x0)))
            }
        }
    }
    return out
}
