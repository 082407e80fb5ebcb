import CKernels
@testable import Faces
import Testing

@Suite struct AreaResizeTests {
    /// Deterministic pseudo-random planes.
    func planes(_ c: Int, _ h: Int, _ w: Int) -> [Float] {
        var s: UInt32 = 12345
        return (0..<(c * h * w)).map { _ in
            s = s &* 1_664_525 &+ 1_013_904_223
            return Float(s >> 8) / Float(1 << 24) * 255
        }
    }

    @Test(arguments: [(37, 53, 24, 24), (360, 640, 217, 385), (11, 7, 24, 24), (48, 48, 48, 48), (100, 31, 13, 29)])
    func fastMatchesNaiveTwin(h: Int, w: Int, oh: Int, ow: Int) {
        let src = planes(3, h, w)
        var scratch: [Double] = []
        var out = [Float](repeating: .nan, count: 3 * oh * ow)
        src.withUnsafeBufferPointer { b in
            let r = PlanarRegion(base: b.baseAddress!, channels: 3, planeStride: h * w, rowStride: w, x: 0, y: 0, width: w, height: h)
            let naive = naiveAreaResize(r, outH: oh, outW: ow)
            // Each compiled variant (portable, AVX2, AVX-512) this CPU runs.
            for isa in Int32(0)...2 where fervid_gemm_isa_supported(isa) != 0 {
                out.withUnsafeMutableBufferPointer {
                    areaResize(r, outH: oh, outW: ow, into: $0.baseAddress!, scratch: &scratch, isa: isa)
                }
                let worst = zip(out, naive).map { abs($0 - $1) }.max()!
                #expect(worst <= 1e-4, "\(h)×\(w) -> \(oh)×\(ow) isa \(isa): max |Δ| \(worst)")
            }
        }
    }

    @Test(arguments: [(0, 0, 37, 23, 37, 23), (5, 3, 17, 11, 29, 19), (1, 2, 1, 1, 7, 5), (0, 7, 641, 1, 641, 9)])
    func rgbPlanesMatchNaiveTwin(x: Int, y: Int, w: Int, h: Int, imageW: Int, imageH: Int) {
        var s: UInt32 = 777
        let pixels = (0..<(imageW * imageH * 3)).map { _ -> UInt8 in
            s = s &* 1_664_525 &+ 1_013_904_223
            return UInt8(s >> 24)
        }
        let image = RGBImage(width: imageW, height: imageH, pixels: pixels)
        let naive = naiveRGBPlanes(image, x: x, y: y, width: w, height: h)
        for isa in Int32(0)...2 where fervid_gemm_isa_supported(isa) != 0 {
            // Planes further apart than the region, the gaps left alone.
            let stride = w * h + 3
            var out = [Float](repeating: -1, count: 3 * stride)
            out.withUnsafeMutableBufferPointer {
                rgbPlanes(image, x: x, y: y, width: w, height: h, into: $0.baseAddress!, planeStride: stride, isa: isa)
            }
            let planes = (0..<3).flatMap { out[($0 * stride)..<($0 * stride + w * h)] }
            #expect(planes == naive, "region \(x),\(y) \(w)×\(h) isa \(isa)")
            #expect((0..<3).allSatisfy { c in out[(c * stride + w * h)..<(c * stride + stride)].allSatisfy { $0 == -1 } })
        }
    }

    /// Deterministic pseudo-random RGB bytes.
    func image(_ w: Int, _ h: Int, seed: UInt32 = 4242) -> RGBImage {
        var s = seed
        return RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ -> UInt8 in
            s = s &* 1_664_525 &+ 1_013_904_223
            return UInt8(s >> 24)
        })
    }

    @Test(arguments: [(0, 0, 9, 7, 9, 7), (3, 2, 5, 4, 11, 9), (1, 1, 1, 1, 3, 3), (0, 3, 33, 2, 33, 6)])
    func integralMatchesNaiveTwin(x: Int, y: Int, w: Int, h: Int, imageW: Int, imageH: Int) {
        let img = image(imageW, imageH)
        let naive = naiveRGBIntegral(img, x: x, y: y, width: w, height: h)
        for isa in Int32(0)...2 where fervid_gemm_isa_supported(isa) != 0 {
            var table: [UInt32] = [UInt32](repeating: 7, count: 5)   // too small: grown
            let plane = rgbIntegral(img, x: x, y: y, width: w, height: h, into: &table, isa: isa)
            #expect(plane == (w + 1) * (h + 1))
            #expect(Array(table[0..<(3 * plane)]) == naive, "region \(x),\(y) \(w)×\(h) isa \(isa)")
        }
    }

    /// From the tables, area resize gives exactly the floats the naive twin computes from the same
    /// bytes as planes (both sum integers exactly), for whole images and sub-regions.
    @Test(arguments: [(0, 0, 640, 360, 216, 384), (0, 0, 640, 360, 14, 25), (17, 5, 53, 37, 24, 24),
                      (2, 3, 7, 11, 48, 48), (0, 0, 31, 100, 29, 13), (5, 9, 1, 1, 24, 24)])
    func integralResizeEqualsNaiveTwin(x: Int, y: Int, w: Int, h: Int, oh: Int, ow: Int) {
        let img = image(max(x + w, 64), max(y + h, 40), seed: 99)
        let planes = naiveRGBPlanes(img, x: 0, y: 0, width: img.width, height: img.height)
        let naive = planes.withUnsafeBufferPointer { b in
            naiveAreaResize(PlanarRegion(base: b.baseAddress!, channels: 3, planeStride: img.width * img.height,
                                         rowStride: img.width, x: x, y: y, width: w, height: h), outH: oh, outW: ow)
        }
        for isa in Int32(0)...2 where fervid_gemm_isa_supported(isa) != 0 {
            var table: [UInt32] = []
            let plane = rgbIntegral(img, x: 0, y: 0, width: img.width, height: img.height, into: &table, isa: isa)
            var scratch: [Double] = []
            var out = [Float](repeating: .nan, count: 3 * oh * ow)
            table.withUnsafeBufferPointer { t in
                let whole = IntegralRegion(base: t.baseAddress!, planeStride: plane, rowStride: img.width + 1,
                                           x: 0, y: 0, width: img.width, height: img.height)
                out.withUnsafeMutableBufferPointer {
                    whole.region(x: x, y: y, width: w, height: h)
                        .resize(outH: oh, outW: ow, into: $0.baseAddress!, scratch: &scratch)
                }
            }
            #expect(out == naive, "\(x),\(y) \(w)×\(h) -> \(oh)×\(ow) isa \(isa)")
            // And the tables of the region alone give the same.
            var own: [UInt32] = []
            let p2 = rgbIntegral(img, x: x, y: y, width: w, height: h, into: &own, isa: isa)
            out.withUnsafeMutableBufferPointer { o in
                own.withUnsafeBufferPointer { t in
                    areaResize(IntegralRegion(base: t.baseAddress!, planeStride: p2, rowStride: w + 1, x: 0, y: 0,
                                              width: w, height: h), outH: oh, outW: ow, into: o.baseAddress!,
                               scratch: &scratch, isa: isa)
                }
            }
            #expect(out == naive, "own tables \(x),\(y) \(w)×\(h) -> \(oh)×\(ow) isa \(isa)")
        }
    }

    /// Straight from the bytes (verification's crops): exactly the naive twin's floats of the
    /// same bytes as planes, on each compiled variant, for regions larger and smaller than the output.
    @Test(arguments: [(0, 0, 290, 290, 48, 48), (17, 5, 53, 37, 24, 24), (2, 3, 7, 11, 48, 48),
                      (0, 0, 640, 360, 48, 48), (5, 9, 1, 1, 48, 48), (1, 2, 100, 31, 13, 29)])
    func rgb8ResizeEqualsNaiveTwin(x: Int, y: Int, w: Int, h: Int, oh: Int, ow: Int) {
        let img = image(max(x + w, 64) + 3, max(y + h, 40) + 1, seed: 7)
        let planes = naiveRGBPlanes(img, x: 0, y: 0, width: img.width, height: img.height)
        let naive = planes.withUnsafeBufferPointer { b in
            naiveAreaResize(PlanarRegion(base: b.baseAddress!, channels: 3, planeStride: img.width * img.height,
                                         rowStride: img.width, x: x, y: y, width: w, height: h), outH: oh, outW: ow)
        }
        for isa in Int32(0)...2 where fervid_gemm_isa_supported(isa) != 0 {
            var scratch: [UInt32] = [1, 2]   // too small: grown
            var out = [Float](repeating: .nan, count: 3 * oh * ow)
            out.withUnsafeMutableBufferPointer {
                areaResize(img, x: x, y: y, width: w, height: h, outH: oh, outW: ow, into: $0.baseAddress!,
                           scratch: &scratch, isa: isa)
            }
            #expect(out == naive, "\(x),\(y) \(w)×\(h) -> \(oh)×\(ow) isa \(isa)")
        }
    }

    @Test func integralHandComputedValues() {
        // 1×... grey 3×2 image (R = G = B): rows [1 2 3], [4 5 6]; 2×2 block at x 1: 2+3+5+6 = 16 -> 4.
        let img = RGBImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6].flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
        var table: [UInt32] = []
        let plane = rgbIntegral(img, x: 0, y: 0, width: 3, height: 2, into: &table)
        #expect(Array(table[0..<plane]) == [0, 0, 0, 0, 0, 1, 3, 6, 0, 5, 12, 21])
        var scratch: [Double] = []
        var out = [Float](repeating: 0, count: 3)
        table.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer {
                IntegralRegion(base: t.baseAddress!, planeStride: plane, rowStride: 4, x: 1, y: 0, width: 2, height: 2)
                    .resize(outH: 1, outW: 1, into: $0.baseAddress!, scratch: &scratch)
            }
        }
        #expect(out == [4, 4, 4])
    }

    @Test func subRegionAndHandComputedValues() {
        // 1 channel 4×6, values = index; region x 1..<5, y 1..<3 (2×4) -> 1×2: means of 2×2 blocks.
        let src = (0..<24).map(Float.init)
        var scratch: [Double] = []
        var out = [Float](repeating: 0, count: 2)
        src.withUnsafeBufferPointer { b in
            let r = PlanarRegion(base: b.baseAddress!, channels: 1, planeStride: 24, rowStride: 6, x: 1, y: 1, width: 4, height: 2)
            out.withUnsafeMutableBufferPointer { areaResize(r, outH: 1, outW: 2, into: $0.baseAddress!, scratch: &scratch) }
        }
        let expected: [Float] = [42 / 4, 50 / 4]   // (7 + 8 + 13 + 14) / 4, (9 + 10 + 15 + 16) / 4
        #expect(out == expected)
    }

    @Test func spansFollowAdaptivePooling() {
        // 5 -> 3: [0,2) [1,4) [3,5); upsampling 2 -> 4: [0,1) [0,1) [1,2) [1,2).
        #expect((0..<3).map { areaSpan($0, 5, 3) }.map { [$0.0, $0.1] } == [[0, 2], [1, 4], [3, 5]])
        #expect((0..<4).map { areaSpan($0, 2, 4) }.map { [$0.0, $0.1] } == [[0, 1], [0, 1], [1, 2], [1, 2]])
    }
}

@Suite struct NonMaximumSuppressionTests {
    @Test func unionKeepsBestAndDropsOverlaps() {
        let boxes: [SIMD4<Float>] = [SIMD4(0, 0, 10, 10), SIMD4(1, 1, 11, 11), SIMD4(20, 20, 30, 30), SIMD4(0, 0, 10, 5)]
        // IoU(0,1) = 81 / 119 ≈ 0.68; IoU(0,3) = 50 / 100 = 0.5.
        #expect(nonMaximumSuppression(boxes: boxes, scores: [0.9, 0.95, 0.5, 0.8], threshold: 0.5) == [1, 3, 2])
        #expect(nonMaximumSuppression(boxes: boxes, scores: [0.9, 0.95, 0.5, 0.8], threshold: 0.7) == [1, 0, 3, 2])
    }

    @Test func minimumMeasureUsesTheSmallerAreaWithPlusOne() {
        // Box 1 lies inside box 0: intersection / min area = 1 > 0.7 -> suppressed under "Min",
        // kept under union (IoU = 36/121 ≈ 0.3).
        let boxes: [SIMD4<Float>] = [SIMD4(0, 0, 10, 10), SIMD4(2, 2, 7, 7)]
        #expect(nonMaximumSuppression(boxes: boxes, scores: [0.9, 0.8], threshold: 0.7, measure: .minimum) == [0])
        #expect(nonMaximumSuppression(boxes: boxes, scores: [0.9, 0.8], threshold: 0.7, measure: .union) == [0, 1])
    }
}
