// Area interpolation (PyTorch `interpolate(mode="area")`, i.e. adaptive average pooling): output
// cell i along an axis of `n` -> `m` averages input [floor(i·n/m), ceil((i+1)·n/m)). MTCNN's
// image pyramid and its 24×24 / 48×48 crops all use it; the boxes depend on matching it.

import CKernels
import CNN

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

/// Area-resizes `src` to (C, outH, outW) at `dst`, separably (a vertical pass over whole rows,
/// then the horizontal spans), summing in Double: C in CKernels compiled per instruction set
/// (`isa`: a CKernels instruction-set id; by default the engine's, `Engine.gemmKernel`, which
/// `FERVID_GEMM` sets, else the widest the CPU runs). `scratch` is reused between calls.
public func areaResize(_ src: PlanarRegion, outH: Int, outW: Int, into dst: UnsafeMutablePointer<Float>,
                       scratch: inout [Double], isa: Int32 = Engine.gemmKernel.isa ?? fervid_gemm_best_isa()) {
    precondition(outH > 0 && outW > 0, "areaResize: empty output")
    if scratch.count < src.width + outW { scratch = [Double](repeating: 0, count: src.width + outW) }
    scratch.withUnsafeMutableBufferPointer { buf in
        fervid_area_resize(isa, src.base, Int32(src.channels), src.planeStride, src.rowStride, Int32(src.x),
                           Int32(src.y), Int32(src.width), Int32(src.height), Int32(outH), Int32(outW), dst,
                           buf.baseAddress!)
    }
}

/// Naive twin of ``areaResize(_:outH:outW:into:scratch:)``: each output pixel is the plain mean
/// of its input rectangle. The oracle for the tests.
func naiveAreaResize(_ src: PlanarRegion, outH: Int, outW: Int) -> [Float] {
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

/// The region (x, y, width, height) of `image` as three planes of 0…255 floats at `dst` (rows
/// `width` apart, planes `planeStride` apart): C in CKernels, compiled per instruction set
/// (`isa` as ``areaResize(_:outH:outW:into:scratch:isa:)``'s).
func rgbPlanes(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int, into dst: UnsafeMutablePointer<Float>,
               planeStride: Int, isa: Int32 = Engine.gemmKernel.isa ?? fervid_gemm_best_isa()) {
    precondition(x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= image.width && y + height <= image.height
                 && planeStride >= width * height, "rgbPlanes: bad region \(x),\(y) \(width)×\(height)")
    image.pixels.withUnsafeBufferPointer { px in
        fervid_rgb8_planar(isa, px.baseAddress!, image.width * 3, Int32(x), Int32(y), Int32(width), Int32(height),
                           dst, planeStride)
    }
}

/// Naive twin of ``rgbPlanes(_:x:y:width:height:into:planeStride:isa:)``: the oracle for the tests.
func naiveRGBPlanes(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> [Float] {
    var out = [Float](repeating: 0, count: 3 * width * height)
    for c in 0..<3 {
        for yy in 0..<height {
            for xx in 0..<width {
                out[(c * height + yy) * width + xx] = Float(image.pixels[((y + yy) * image.width + x + xx) * 3 + c])
            }
        }
    }
    return out
}
