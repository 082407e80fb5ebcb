// Where a face box becomes a model input, in one place: the model's crop geometry gives the
// region (`CropGeometry.rect`, a `FaceRect` → a `PixelRect`), the region is brought to the model's size and colours
// (libswscale in one step, or fer's grey bilinear resize), and the bytes become planar
// normalised floats. The face stage's thread owns one `CropPreparation`.
import Faces
import Models
import Video

/// Turns face boxes of decoded frames into a model's input tensors (NCHW floats, normalised as
/// the model's ``Preprocessing`` says). Not thread-safe: one per thread (it reuses its buffers).
public final class CropPreparation {
    public let input: Preprocessing
    private let scaler: FrameScaler
    private var bytes: [UInt8]
    /// fer's region at its own resolution (RGB), kept from crop to crop: a fresh array per crop
    /// was a new heap block the kernel faulted in (at 1080p a face's region is ~600 KB, the
    /// default path's largest source of page faults).
    private var region: [UInt8] = []
    /// value = byte · scale[c] + shift[c] = (byte / 255 − mean) / std.
    private let scale: [Float], shift: [Float]

    /// Floats of one prepared crop (C × H × W).
    public var floatsPerCrop: Int { input.width * input.height * input.layout.channels }

    public init(_ input: Preprocessing, scaler: FrameScaler = FrameScaler(algorithm: .bilinear)) {
        self.input = input
        self.scaler = scaler
        bytes = [UInt8](repeating: 0, count: input.width * input.height * input.layout.channels)
        scale = (0 ..< input.layout.channels).map { 1 / (255 * input.std[$0]) }
        shift = (0 ..< input.layout.channels).map { -input.mean[$0] / input.std[$0] }
    }

    /// The crop of `box` in `frame` as the model's input: ``floatsPerCrop`` floats at `dst`.
    /// `rgb`: the whole frame already in RGB at its own size (the face stage's conversion), which
    /// fer's crop reads instead of converting its region again (the bytes are the same: the
    /// region's conversion keeps a border so that its pixels are the whole frame's).
    public func prepare(_ frame: DecodedFrame, box: FaceRect, into dst: UnsafeMutablePointer<Float>,
                        rgb: RGBImage? = nil) throws {
        let rect = input.crop.rect(for: box, imageWidth: frame.width, imageHeight: frame.height)
        switch input.resize {
        case .swscale:
            try bytes.withUnsafeMutableBytes { buffer in
                _ = try scaler.convert(frame, to: input.layout, width: input.width, height: input.height,
                                       crop: rect, into: buffer)
            }
        case .ferGreyBilinear:
            if let rgb, rgb.width == frame.width, rgb.height == frame.height {
                precondition(bytes.count == input.width * input.height, "CropPreparation: a grey model's input")
                rgb.pixels.withUnsafeBufferPointer { px in
                    bytes.withUnsafeMutableBufferPointer { out in
                        greyBilinearCrop(px.baseAddress!, rowBytes: 3 * rgb.width, region: rect, outW: input.width,
                                         outH: input.height, into: out.baseAddress!)
                    }
                }
            } else {
                try ferGreyCrop(frame, rect: rect, width: input.width, height: input.height)
            }
        }
        // Packed HWC bytes -> planar CHW floats, normalised: (b/255 − mean) / std.
        let channels = input.layout.channels, plane = input.width * input.height
        bytes.withUnsafeBufferPointer { src in
            for c in 0 ..< channels {
                let a = scale[c], b = shift[c], out = dst + c * plane
                for i in 0 ..< plane { out[i] = Float(src[i * channels + c]) * a + b }
            }
        }
    }

    /// fer's crop into `bytes` (returned too): the region at its own resolution, then grey and a
    /// plain bilinear resize in `Faces`.
    @discardableResult
    func ferGreyCrop(_ frame: DecodedFrame, rect: PixelRect, width: Int, height: Int) throws -> [UInt8] {
        // Even origin and size (4:2:0 chroma needs no shift; libswscale's last column of an
        // odd-sized output is not exact), and a 2-pixel border: chroma upsampling at a region's
        // edge clamps where the whole frame would interpolate, so the edge pixels are not used.
        let x0 = max(0, (rect.x - 2) & ~1), y0 = max(0, (rect.y - 2) & ~1)
        let x1 = min(frame.width, (rect.x + rect.width + 3) & ~1), y1 = min(frame.height, (rect.y + rect.height + 3) & ~1)
        let area = PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        let count = area.width * area.height * 3
        // The same block whenever it is large enough (the size changes from frame to frame): grown,
        // never cleared (the conversion writes every byte of the part used).
        if region.count < count { region = [UInt8](repeating: 0, count: count) }
        let source = try region.withUnsafeMutableBytes {
            try scaler.convert(frame, to: .rgb24, width: area.width, height: area.height, crop: area,
                               into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]))
        }
        let inner = PixelRect(x: rect.x - source.x, y: rect.y - source.y, width: rect.width, height: rect.height)
        precondition(bytes.count == width * height, "ferGreyCrop: a grey model's input")
        region.withUnsafeBufferPointer { px in
            bytes.withUnsafeMutableBufferPointer { out in
                greyBilinearCrop(px.baseAddress!, rowBytes: 3 * area.width, region: inner, outW: width, outH: height,
                                 into: out.baseAddress!)
            }
        }
        return bytes
    }
}

extension CropGeometry {
    /// The crop rectangle for `box` in an image of `width`×`height`.
    public func rect(for box: FaceRect, imageWidth width: Int, imageHeight height: Int) -> PixelRect {
        switch self {
        case .squarePlusPixels(let p):
            // fer works on integer boxes (its detector's), then squares, grows and clamps.
            return ferCropRegion(box.integral, imageWidth: width, imageHeight: height, margin: p)
                ?? PixelRect(x: 0, y: 0, width: width, height: height)
        case .squarePlusFraction(let f):
            let side = max(box.width, box.height)
            let cx = box.x + box.width / 2, cy = box.y + box.height / 2
            let half = side / 2 * (1 + 2 * f)
            let x0 = max(0, pixelInt(cx - half, .down)), y0 = max(0, pixelInt(cy - half, .down))
            let x1 = min(width, pixelInt(cx + half, .up)), y1 = min(height, pixelInt(cy + half, .up))
            return PixelRect(x: x0, y: y0, width: max(1, x1 - x0), height: max(1, y1 - y0))
        }
    }
}
