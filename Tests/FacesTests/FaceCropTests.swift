import Faces
import Foundation
import Testing

struct CropGolden: Decodable {
    struct Crop: Decodable { let sample: String, frame: Int, box: [Int], crop: String }
    let crops: [Crop]
}

@Suite struct FaceCropTests {
    @Test func ferRegionSquaresGrowsAndClamps() {
        // 40 wide × 60 high at (100, 50): grow width by 20 centred (x − 10), then +10 px each side.
        #expect(ferCropRegion(PixelRect(x: 100, y: 50, width: 40, height: 60), imageWidth: 640, imageHeight: 360)
                == PixelRect(x: 80, y: 40, width: 80, height: 80))
        // Odd difference: d = 5, d / 2 = 2 (Python's 5 // 2).
        #expect(ferCropRegion(PixelRect(x: 100, y: 50, width: 45, height: 40), imageWidth: 640, imageHeight: 360)
                == PixelRect(x: 90, y: 38, width: 65, height: 65))
        // Near the corner: clamped to the image.
        #expect(ferCropRegion(PixelRect(x: 2, y: 300, width: 50, height: 50), imageWidth: 640, imageHeight: 360)
                == PixelRect(x: 0, y: 290, width: 62, height: 70))
        #expect(ferCropRegion(PixelRect(x: 700, y: 10, width: 20, height: 20), imageWidth: 640, imageHeight: 360) == nil)
    }

    @Test func greyIsOpenCVsFixedPointBT601() {
        #expect(greyBT601(255, 255, 255) == 255)
        #expect(greyBT601(0, 0, 0) == 0)
        #expect(greyBT601(255, 0, 0) == 76)     // 0.299 × 255 = 76.2
        #expect(greyBT601(0, 255, 0) == 150)    // 0.587 × 255 = 149.7
        #expect(greyBT601(0, 0, 255) == 29)     // 0.114 × 255 = 29.1
    }

    @Test func bilinearOfAConstantAndOfARamp() {
        let flat = RGBImage(width: 10, height: 8, pixels: [UInt8](repeating: 90, count: 240))
        #expect(greyBilinearCrop(flat, region: PixelRect(x: 1, y: 1, width: 7, height: 5), outW: 64, outH: 64).allSatisfy { $0 == 90 })
        // Horizontal grey ramp 0, 10, …, 90; halving 10 -> 5 samples at x = 0.5, 2.5, … -> 5, 25, …, 85.
        let ramp = RGBImage(width: 10, height: 2, pixels: (0..<20).flatMap { i in [UInt8](repeating: UInt8(i % 10 * 10), count: 3) })
        #expect(greyBilinearCrop(ramp, region: PixelRect(x: 0, y: 0, width: 10, height: 2), outW: 5, outH: 1) == [5, 25, 45, 65, 85])
    }

    /// The fast crop (grey only at the rows and columns the resize reads) gives its naive twin's
    /// bytes: regions smaller and larger than the output, odd sizes, at the image's edges.
    @Test func greyCropMatchesItsNaiveTwin() {
        var rng = SystemRandomNumberGenerator()
        let (w, h) = (173, 121)
        let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let regions = [PixelRect(x: 0, y: 0, width: w, height: h), PixelRect(x: 3, y: 5, width: 17, height: 9),
                       PixelRect(x: 100, y: 50, width: 73, height: 71), PixelRect(x: 10, y: 20, width: 1, height: 1),
                       PixelRect(x: 40, y: 7, width: 128, height: 113), PixelRect(x: 0, y: 60, width: 64, height: 61)]
        for region in regions {
            for (ow, oh) in [(64, 64), (48, 48), (7, 13), (200, 150)] {
                #expect(greyBilinearCrop(image, region: region, outW: ow, outH: oh)
                        == naiveGreyBilinearCrop(image, region: region, outW: ow, outH: oh), "\(region) -> \(ow)×\(oh)")
            }
        }
    }

    /// The crops the NumPy reference (tools/ref_mini_xception.py) fed mini-Xception for the parity
    /// test are reproduced from the decoded frames within one grey level (float rounding).
    @Test func cropsMatchTheReferenceCrops() throws {
        let g = try golden("mini_xception", as: CropGolden.self)
        var worst = 0
        for c in g.crops {
            let size: (Int, Int) = c.sample == "no_face.mp4" ? (960, 540) : (640, 360)
            let image = try decodeFrame(c.sample, index: c.frame, width: size.0, height: size.1)
            let region = try #require(ferCropRegion(PixelRect(x: c.box[0], y: c.box[1], width: c.box[2], height: c.box[3]),
                                                    imageWidth: image.width, imageHeight: image.height))
            let mine = greyBilinearCrop(image, region: region, outW: 64, outH: 64)
            let ref = [UInt8](try #require(Data(base64Encoded: c.crop)))
            let d = zip(mine, ref).map { abs(Int($0) - Int($1)) }.max()!
            worst = max(worst, d)
            #expect(d <= 1, "\(c.sample) frame \(c.frame): max grey difference \(d)")
        }
        print("fer crops: max grey-level difference to the reference \(worst) over \(g.crops.count) crops")
    }
}
