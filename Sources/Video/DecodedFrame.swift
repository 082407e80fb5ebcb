import CFFmpeg
import Foundation
import Synchronization
@_exported import Geometry

/// Counts a source's frames that are still alive (delivered, not yet released).
final class FrameLifeCounter: Sendable {
    let alive = Atomic<Int>(0)
}

/// One decoded picture. It owns its `AVFrame` (one owner; freed in `deinit`, which returns the
/// buffer to the decoder's pool), so drop it as soon as it is used: holding frames holds decoder
/// memory. Its pixels are never written after decoding, so reading it (``FrameScaler``) from
/// several threads at once is safe.
public final class DecodedFrame: @unchecked Sendable {
    /// 0-based index of this frame in decode-output order.
    public let index: Int
    /// Presentation time in seconds: best-effort timestamp × stream time base. For live inputs
    /// it starts at 0 and stays monotonic across reconnects (see ``VideoSource``).
    public let pts: Double
    /// The decoder's best-effort timestamp in stream time-base ticks, before any live rebasing;
    /// `nil` when the stream gave none (then ``pts`` is extrapolated from the previous frame).
    public let timestamp: Int64?
    /// Source picture width in pixels.
    public let width: Int
    /// Source picture height in pixels.
    public let height: Int
    /// UTC wall-clock time the frame left the decoder; live inputs only.
    public let wallclock: Date?
    /// The decoder flagged this frame as a keyframe.
    public let isKeyFrame: Bool
    /// The decoder flagged this frame as corrupt (it concealed errors while decoding it).
    public let isCorrupt: Bool

    let frame: UnsafeMutablePointer<AVFrame>
    private let counter: FrameLifeCounter?

    /// Takes ownership of `frame`.
    init(taking frame: UnsafeMutablePointer<AVFrame>, index: Int, pts: Double, timestamp: Int64?,
         wallclock: Date?, counter: FrameLifeCounter? = nil) {
        self.frame = frame
        self.counter = counter
        counter?.alive.add(1, ordering: .relaxed)
        self.index = index
        self.pts = pts
        self.timestamp = timestamp
        self.width = Int(frame.pointee.width)
        self.height = Int(frame.pointee.height)
        self.wallclock = wallclock
        self.isKeyFrame = frame.pointee.key_frame != 0
        self.isCorrupt = frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0
    }

    deinit {
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
        counter?.alive.subtract(1, ordering: .relaxed)
    }

    /// The decoder's pixel format name, e.g. `yuv420p`.
    public var pixelFormatName: String {
        av_get_pix_fmt_name(AVPixelFormat(frame.pointee.format)).map { String(cString: $0) } ?? "none"
    }
}

/// Packed 8-bit pixel layouts the scaler produces.
public enum PixelLayout: Sendable, Equatable {
    /// R, G, B per pixel, rows packed with no padding.
    case rgb24
    /// One luma byte per pixel, full range.
    case gray8

    /// Bytes per pixel.
    public var channels: Int { self == .rgb24 ? 3 : 1 }

    var avFormat: AVPixelFormat { self == .rgb24 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8 }
}

/// Converted pixels: `height` rows of `width × layout.channels` bytes, packed.
public struct PixelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let layout: PixelLayout
    /// The source rectangle actually converted (the crop origin snapped to the chroma grid).
    public let source: PixelRect
    public var bytes: [UInt8]

    /// The bytes of pixel (`x`, `y`): 3 for RGB24, 1 for GRAY8.
    public subscript(x: Int, y: Int) -> ArraySlice<UInt8> {
        let c = layout.channels
        let start = (y * width + x) * c
        return bytes[start ..< start + c]
    }
}
