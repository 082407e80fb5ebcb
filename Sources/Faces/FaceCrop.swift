// Crop geometry and pixels of the classifier input, as the `fer` package prepares mini-Xception's:
// integer box -> square by growing the shorter side (centred; fer's `tosquare`) -> +margin px
// each side -> clamp to the image (fer pads with a grey border instead; we clamp) -> OpenCV
// BT.601 grey -> bilinear resize (half-pixel centres) -> bytes. Normalisation is the model's.

/// The region fer crops around an integer face box, clamped to the image; nil when nothing is left.
public func ferCropRegion(_ box: PixelRect, imageWidth: Int, imageHeight: Int, margin: Int = 10) -> PixelRect? {
    var (x, y, w, h) = (box.x, box.y, box.width, box.height)
    if h > w {
        let d = h - w
        x -= d / 2     // Python's d // 2 with d > 0
        w += d
    } else if w > h {
        let d = w - h
        y -= d / 2
        h += d
    }
    let x1 = max(x - margin, 0), y1 = max(y - margin, 0)
    let x2 = min(x + w + margin, imageWidth), y2 = min(y + h + margin, imageHeight)
    guard x2 > x1, y2 > y1 else { return nil }
    return PixelRect(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
}

/// OpenCV's RGB -> grey on bytes: 0.299 R + 0.587 G + 0.114 B in 14-bit fixed point, rounded.
@inline(__always) public func greyBT601(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let sum: Int = Int(r) * 4899 + Int(g) * 9617 + Int(b) * 1868
    return UInt8((sum + 8192) >> 14)
}

/// The grey pixels of `region` resized bilinearly to `outW`×`outH` (half-pixel centres, edges
/// clamped, rounded to bytes). Grey is taken per source pixel first, as fer does — but only at the
/// rows and columns the resize reads (at most 2 per output row / column), so a large region (a
/// face in a 1080p frame) costs about what a small one does; the arithmetic is
/// ``naiveGreyBilinearCrop(_:region:outW:outH:)``'s, so the bytes are the same.
public func greyBilinearCrop(_ image: RGBImage, region: PixelRect, outW: Int, outH: Int) -> [UInt8] {
    precondition(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0
                 && region.x + region.width <= image.width && region.y + region.height <= image.height,
                 "greyBilinearCrop: region \(region) outside \(image.width)×\(image.height)")
    precondition(outW > 0 && outH > 0, "greyBilinearCrop: empty output")
    let (rw, rh) = (region.width, region.height)
    // Per output index: the two source indices and the weight of the second (naive twin's axis()).
    func axis(_ o: Int, _ n: Int) -> (i0: [Int], i1: [Int], f: [Double]) {
        var i0 = [Int](repeating: 0, count: o), i1 = i0, f = [Double](repeating: 0, count: o)
        for i in 0..<o {
            let s = min(max((Double(i) + 0.5) * Double(n) / Double(o) - 0.5, 0), Double(n - 1))
            let a = Int(s.rounded(.down))
            i0[i] = a
            i1[i] = min(a + 1, n - 1)
            f[i] = s - Double(a)
        }
        return (i0, i1, f)
    }
    let ys = axis(outH, rh), xs = axis(outW, rw)
    // The source rows and columns read, each once, and each output index's two positions among them.
    func compact(_ i0: [Int], _ i1: [Int], _ n: Int) -> (picked: [Int], p0: [Int], p1: [Int]) {
        var slot = [Int](repeating: -1, count: n)
        var picked: [Int] = []
        for i in i0.indices {
            for v in [i0[i], i1[i]] where slot[v] < 0 {
                slot[v] = picked.count
                picked.append(v)
            }
        }
        return (picked, i0.map { slot[$0] }, i1.map { slot[$0] })
    }
    let rows = compact(ys.i0, ys.i1, rh), cols = compact(xs.i0, xs.i1, rw)
    let nr = rows.picked.count, nc = cols.picked.count
    var grey = [Double](repeating: 0, count: nr * nc)
    var out = [UInt8](repeating: 0, count: outW * outH)
    image.pixels.withUnsafeBufferPointer { px in
        grey.withUnsafeMutableBufferPointer { g in
            for (r, y) in rows.picked.enumerated() {
                let base = 3 * ((region.y + y) * image.width + region.x)
                for (k, x) in cols.picked.enumerated() {
                    let i = base + 3 * x
                    g[r * nc + k] = Double(greyBT601(px[i], px[i + 1], px[i + 2]))
                }
            }
        }
    }
    grey.withUnsafeBufferPointer { g in
        out.withUnsafeMutableBufferPointer { o in
            for oy in 0..<outH {
                let t = g.baseAddress! + rows.p0[oy] * nc, b = g.baseAddress! + rows.p1[oy] * nc, fy = ys.f[oy]
                for ox in 0..<outW {
                    let a = cols.p0[ox], c = cols.p1[ox], fx = xs.f[ox]
                    let top = t[a] * (1 - fx) + t[c] * fx
                    let bottom = b[a] * (1 - fx) + b[c] * fx
                    let v = top * (1 - fy) + bottom * fy
                    o[oy * outW + ox] = UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
                }
            }
        }
    }
    return out
}

/// Naive twin of ``greyBilinearCrop(_:region:outW:outH:)``: grey of the whole region first, then
/// the bilinear resize, as fer does. The oracle for the tests.
public func naiveGreyBilinearCrop(_ image: RGBImage, region: PixelRect, outW: Int, outH: Int) -> [UInt8] {
    precondition(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0
                 && region.x + region.width <= image.width && region.y + region.height <= image.height,
                 "naiveGreyBilinearCrop: region \(region) outside \(image.width)×\(image.height)")
    let (rw, rh) = (region.width, region.height)
    var grey = [UInt8](repeating: 0, count: rw * rh)
    image.pixels.withUnsafeBufferPointer { px in
        for y in 0..<rh {
            for x in 0..<rw {
                let i = 3 * ((region.y + y) * image.width + region.x + x)
                grey[y * rw + x] = greyBT601(px[i], px[i + 1], px[i + 2])
            }
        }
    }
    func axis(_ o: Int, _ n: Int) -> [(Int, Int, Double)] {
        (0..<o).map { i in
            let s = min(max((Double(i) + 0.5) * Double(n) / Double(o) - 0.5, 0), Double(n - 1))
            let i0 = Int(s.rounded(.down))
            return (i0, min(i0 + 1, n - 1), s - Double(i0))
        }
    }
    let ys = axis(outH, rh), xs = axis(outW, rw)
    var out = [UInt8](repeating: 0, count: outW * outH)
    for (oy, (y0, y1, fy)) in ys.enumerated() {
        for (ox, (x0, x1, fx)) in xs.enumerated() {
            let top = Double(grey[y0 * rw + x0]) * (1 - fx) + Double(grey[y0 * rw + x1]) * fx
            let bottom = Double(grey[y1 * rw + x0]) * (1 - fx) + Double(grey[y1 * rw + x1]) * fx
            let v = top * (1 - fy) + bottom * fy
            out[oy * outW + ox] = UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
        }
    }
    return out
}

/// fer's mini-Xception input for a face: 64×64 grey bytes of the fer crop, or nil when the box
/// lies outside the image. Normalise with `(x / 255 − 0.5) × 2`.
public func ferFaceCrop(_ image: RGBImage, face: FaceRect, size: Int = 64) -> [UInt8]? {
    guard let region = ferCropRegion(face.integral, imageWidth: image.width, imageHeight: image.height) else { return nil }
    return greyBilinearCrop(image, region: region, outW: size, outH: size)
}
