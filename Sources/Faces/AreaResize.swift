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

/// What MTCNN's pyramid and crops area-resize: a region of float planes (``PlanarRegion``) or of
/// an 8-bit image's summed-area tables (``IntegralRegion``), which give the same floats.
protocol AreaSource {
    var width: Int { get }
    var height: Int { get }
    /// The sub-region (x, y, width, height) of this region.
    func region(x: Int, y: Int, width: Int, height: Int) -> Self
    /// Area-resizes the region to (C, outH, outW) at `dst`; `scratch` is reused between calls.
    func resize(outH: Int, outW: Int, into dst: UnsafeMutablePointer<Float>, scratch: inout [Double])
}

extension PlanarRegion: AreaSource {
    func region(x: Int, y: Int, width: Int, height: Int) -> PlanarRegion {
        PlanarRegion(base: base, channels: channels, planeStride: planeStride, rowStride: rowStride,
                     x: self.x + x, y: self.y + y, width: width, height: height)
    }

    func resize(outH: Int, outW: Int, into dst: UnsafeMutablePointer<Float>, scratch: inout [Double]) {
        areaResize(self, outH: outH, outW: outW, into: dst, scratch: &scratch)
    }
}

/// A region of an 8-bit RGB image given by its summed-area tables (``rgbIntegral(_:x:y:width:height:into:isa:)``'s
/// layout): three planes `planeStride` entries apart, rows `rowStride` apart, entry (r, j) the
/// sum over the image's rows [0, r) and columns [0, j); the region is (x, y, width, height) of
/// the image. Area resize from it costs four reads per output pixel however large its span.
public struct IntegralRegion: AreaSource {
    public let base: UnsafePointer<UInt32>
    public let planeStride: Int, rowStride: Int
    public let x: Int, y: Int, width: Int, height: Int

    public init(base: UnsafePointer<UInt32>, planeStride: Int, rowStride: Int, x: Int, y: Int, width: Int, height: Int) {
        precondition(width > 0 && height > 0 && x >= 0 && y >= 0 && x + width < rowStride,
                     "IntegralRegion: bad region \(x),\(y) \(width)×\(height)")
        self.base = base
        self.planeStride = planeStride
        self.rowStride = rowStride
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    func region(x: Int, y: Int, width: Int, height: Int) -> IntegralRegion {
        IntegralRegion(base: base, planeStride: planeStride, rowStride: rowStride, x: self.x + x, y: self.y + y,
                       width: width, height: height)
    }

    func resize(outH: Int, outW: Int, into dst: UnsafeMutablePointer<Float>, scratch: inout [Double]) {
        areaResize(self, outH: outH, outW: outW, into: dst, scratch: &scratch)
    }
}

/// The most pixels an 8-bit image (or region) may have for ``rgbIntegral(_:x:y:width:height:into:isa:)``:
/// every rectangle's sum then stays below 2^32, where the tables' wrapping arithmetic is exact.
public let integralMaxPixels = Int(UInt32.max) / 255

/// The summed-area tables of the region (x, y, width, height) of `image`, one plane per colour,
/// into `table` (grown when too small): returns the planes' stride; rows are width + 1 apart, entry
/// (r, j) = the sum over the region's rows [0, r) and columns [0, j). C in CKernels compiled per
/// instruction set. At most ``integralMaxPixels`` pixels.
@discardableResult
func rgbIntegral(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int, into table: inout [UInt32],
                 isa: Int32 = Engine.gemmKernel.isa ?? fervid_gemm_best_isa()) -> Int {
    precondition(x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= image.width && y + height <= image.height
                 && width * height <= integralMaxPixels, "rgbIntegral: bad region \(x),\(y) \(width)×\(height)")
    let plane = (width + 1) * (height + 1)
    if table.count < 3 * plane { table = [UInt32](repeating: 0, count: 3 * plane) }
    image.pixels.withUnsafeBufferPointer { px in
        table.withUnsafeMutableBufferPointer { out in
            fervid_rgb8_integral(isa, px.baseAddress!, image.width * 3, Int32(x), Int32(y), Int32(width), Int32(height),
                                 out.baseAddress!, plane)
        }
    }
    return plane
}

/// Naive twin of ``rgbIntegral(_:x:y:width:height:into:isa:)``: each entry the plain sum of its
/// rectangle. The oracle for the tests.
func naiveRGBIntegral(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> [UInt32] {
    let plane = (width + 1) * (height + 1)
    var out = [UInt32](repeating: 0, count: 3 * plane)
    for c in 0..<3 {
        for r in 0...height {
            for j in 0...width {
                var sum: UInt32 = 0
                for yy in 0..<r {
                    for xx in 0..<j { sum += UInt32(image.pixels[((y + yy) * image.width + x + xx) * 3 + c]) }
                }
                out[c * plane + r * (width + 1) + j] = sum
            }
        }
    }
    return out
}

/// ``areaResize(_:outH:outW:into:scratch:isa:)`` from summed-area tables: each output is its
/// rectangle's exact sum divided by its pixel count, as the float path computes it from the same
/// 8-bit values, so the floats are bit-identical; four reads per output.
public func areaResize(_ src: IntegralRegion, outH: Int, outW: Int, into dst: UnsafeMutablePointer<Float>,
                       scratch: inout [Double], isa: Int32 = Engine.gemmKernel.isa ?? fervid_gemm_best_isa()) {
    precondition(outH > 0 && outW > 0, "areaResize: empty output")
    if scratch.count < outW { scratch = [Double](repeating: 0, count: outW) }
    scratch.withUnsafeMutableBufferPointer { buf in
        fervid_area_resize_integral(isa, src.base, 3, src.planeStride, src.rowStride, Int32(src.x), Int32(src.y),
                                    Int32(src.width), Int32(src.height), Int32(outH), Int32(outW), dst,
                                    buf.baseAddress!)
    }
}

/// ``areaResize(_:outH:outW:into:scratch:isa:)`` of the region (x, y, width, height) of `image`'s
/// bytes, without converting them to floats first: (3, outH, outW) floats at `dst`, bit-identical
/// to area-resizing ``rgbPlanes(_:x:y:width:height:into:planeStride:isa:)``'s planes (integer sums
/// are exact either way). At most ``integralMaxPixels`` pixels. `scratch` is reused between calls.
func areaResize(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int, outH: Int, outW: Int,
                into dst: UnsafeMutablePointer<Float>, scratch: inout [UInt32],
                isa: Int32 = Engine.gemmKernel.isa ?? fervid_gemm_best_isa()) {
    precondition(x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= image.width && y + height <= image.height
                 && width * height <= integralMaxPixels && outH > 0 && outW > 0,
                 "areaResize: bad region \(x),\(y) \(width)×\(height) -> \(outW)×\(outH)")
    if scratch.count < 3 * width + 2 * outW { scratch = [UInt32](repeating: 0, count: 3 * width + 2 * outW) }
    image.pixels.withUnsafeBufferPointer { px in
        scratch.withUnsafeMutableBufferPointer { buf in
            fervid_area_resize_rgb8(isa, px.baseAddress!, image.width * 3, Int32(x), Int32(y), Int32(width),
                                    Int32(height), Int32(outH), Int32(outW), dst, buf.baseAddress!)
        }
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
