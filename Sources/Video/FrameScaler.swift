import CFFmpeg
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts decoded frames, or rectangles of them, to packed RGB24 or GRAY8 at a requested size
/// with libswscale.
///
/// A crop is converted without touching the rest of the frame: the source plane pointers are
/// offset to the rectangle's origin, which is first snapped down to the chroma grid (even x and
/// y for 4:2:0, as FFmpeg's `crop` filter does), so luma and chroma stay aligned.
///
/// One scaler per thread: it owns a small least-recently-used cache of `SwsContext`s keyed by
/// (source size, source format, colour details, output size, output format), each reused through
/// `sws_getCachedContext`, so the face stage's many same-sized crops per frame build no context.
public final class FrameScaler {
    /// The libswscale interpolation.
    public enum Algorithm: Sendable {
        case bilinear, bicubic, area, point

        var flags: Int32 {
            switch self {
            case .bilinear: SWS_BILINEAR
            case .bicubic: SWS_BICUBIC
            case .area: SWS_AREA
            case .point: SWS_POINT
            }
        }
    }

    private struct Key: Hashable {
        var srcWidth: Int32, srcHeight: Int32, srcFormat: Int32
        var colorspace: Int32, fullRange: Bool
        var dstWidth: Int32, dstHeight: Int32, dstFormat: Int32
    }

    private struct Slot {
        var key: Key
        var context: OpaquePointer
        var lastUse: UInt64
    }

    /// The interpolation every conversion of this scaler uses.
    public let algorithm: Algorithm
    private let capacity: Int
    private var slots: [Slot] = []
    private var useClock: UInt64 = 0
    // Aligned output rows for swscale (its SIMD paths want 16/32-byte aligned strides), copied
    // into the caller's packed buffer afterwards.
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0
    /// ``convertReduced``'s box-averaged planes.
    private var reduced: [UInt8] = []

    /// - Parameters:
    ///   - algorithm: interpolation; bilinear by default (what the tests compare with the ffmpeg CLI).
    ///   - cacheCapacity: how many scaler contexts to keep (distinct crop sizes in flight).
    public init(algorithm: Algorithm = .bilinear, cacheCapacity: Int = 8) {
        precondition(cacheCapacity > 0, "cacheCapacity must be positive")
        self.algorithm = algorithm
        self.capacity = cacheCapacity
    }

    deinit {
        for slot in slots { sws_freeContext(slot.context) }
        free(scratch)
    }

    /// Converts `frame` (or its `crop` rectangle) to `layout` at `width`×`height`.
    public func convert(_ frame: DecodedFrame, to layout: PixelLayout, width: Int, height: Int,
                        crop: PixelRect? = nil) throws(VideoError) -> PixelImage {
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else {
            throw .invalidOutputSize(width: width, height: height)
        }
        // Every byte is written by the conversion (or the array is dropped on failure): no zero fill.
        var result: Result<PixelRect, VideoError> = .failure(.invalidOutputSize(width: width, height: height))
        let count = width * height * layout.channels
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            // Array.withUnsafeMutableBytes is untyped-rethrows: carry the typed result out by hand.
            do throws(VideoError) {
                result = .success(try convert(frame, to: layout, width: width, height: height, crop: crop,
                                              into: UnsafeMutableRawBufferPointer(buffer)))
            } catch {
                result = .failure(error)
                buffer.initialize(repeating: 0)
            }
            initialized = count
        }
        return PixelImage(width: width, height: height, layout: layout, source: try result.get(), bytes: bytes)
    }

    /// Converts into `destination`, which must hold exactly `width × height × layout.channels`
    /// bytes (packed rows). Returns the source rectangle actually converted.
    @discardableResult
    public func convert(_ frame: DecodedFrame, to layout: PixelLayout, width: Int, height: Int,
                        crop: PixelRect? = nil,
                        into destination: UnsafeMutableRawBufferPointer) throws(VideoError) -> PixelRect {
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16,
              destination.count == width * height * layout.channels, let dstBase = destination.baseAddress
        else { throw .invalidOutputSize(width: width, height: height) }

        let f = frame.frame.pointee
        let format = AVPixelFormat(f.format)
        guard let desc = av_pix_fmt_desc_get(format)?.pointee,
              desc.flags & UInt64(AV_PIX_FMT_FLAG_HWACCEL) == 0 else {
            throw .unsupportedPixelFormat(frame.pixelFormatName)
        }
        let frameRect = PixelRect(x: 0, y: 0, width: frame.width, height: frame.height)
        let requested = crop ?? frameRect
        guard requested.width > 0, requested.height > 0, requested.x >= 0, requested.y >= 0,
              requested.x + requested.width <= frame.width, requested.y + requested.height <= frame.height
        else { throw .invalidCrop(requested, frameWidth: frame.width, frameHeight: frame.height) }

        // Snap the origin to the chroma grid so every plane starts on a whole sample.
        let xAlign = 1 << Int(desc.log2_chroma_w), yAlign = 1 << Int(desc.log2_chroma_h)
        let rect = PixelRect(x: requested.x & ~(xAlign - 1), y: requested.y & ~(yAlign - 1),
                            width: requested.width, height: requested.height)

        // Source planes offset to the rectangle's origin (FFmpeg's own crop arithmetic: chroma
        // planes 1 and 2 shifted by the subsampling, bytes per pixel from the plane's component step).
        var src: [UnsafePointer<UInt8>?] = [nil, nil, nil, nil]
        let planes = [f.data.0, f.data.1, f.data.2, f.data.3]
        let strides: [Int32] = [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3]
        let isPalette = desc.flags & UInt64(AV_PIX_FMT_FLAG_PAL) != 0
        if rect.x != 0 || rect.y != 0,
           desc.flags & UInt64(AV_PIX_FMT_FLAG_BITSTREAM) != 0 {
            throw .unsupportedPixelFormat(frame.pixelFormatName)
        }
        let components = [desc.comp.0, desc.comp.1, desc.comp.2, desc.comp.3].prefix(Int(desc.nb_components))
        for i in 0 ..< 4 {
            guard let base = planes[i] else { break }
            if isPalette && i == 1 { src[i] = UnsafePointer(base); break }
            let step = Int(components.first { Int($0.plane) == i }?.step ?? 1)
            let chroma = i == 1 || i == 2
            let shiftX = chroma ? Int(desc.log2_chroma_w) : 0, shiftY = chroma ? Int(desc.log2_chroma_h) : 0
            let offset = (rect.y >> shiftY) * Int(strides[i]) + (rect.x >> shiftX) * step
            src[i] = UnsafePointer(base + offset)
        }

        // yuvj* formats are yuv* with full range; say so instead of using the deprecated formats.
        var srcFormat = format
        var fullRange = f.color_range == AVCOL_RANGE_JPEG
        switch format {
        case AV_PIX_FMT_YUVJ420P: srcFormat = AV_PIX_FMT_YUV420P; fullRange = true
        case AV_PIX_FMT_YUVJ422P: srcFormat = AV_PIX_FMT_YUV422P; fullRange = true
        case AV_PIX_FMT_YUVJ444P: srcFormat = AV_PIX_FMT_YUV444P; fullRange = true
        case AV_PIX_FMT_YUVJ440P: srcFormat = AV_PIX_FMT_YUV440P; fullRange = true
        case AV_PIX_FMT_YUVJ411P: srcFormat = AV_PIX_FMT_YUV411P; fullRange = true
        default: break
        }
        try scale(src, strides: strides, width: rect.width, height: rect.height, format: srcFormat,
                  colorspace: Int32(f.colorspace.rawValue), fullRange: fullRange,
                  to: layout, width: width, height: height, into: dstBase)
        return rect
    }

    /// Converts a whole frame to `layout` at `width`×`height`, a size much smaller than the
    /// frame's (the face detector's bounded frame): when the frame is 8-bit 4:2:0 YUV and an
    /// integer k ≥ 2 divides its size and its chroma planes' size with (W/k)×(H/k) still at
    /// least the output size, each plane is first box-averaged k×k (``boxReducePlane``: every
    /// source byte read once, area averaging as MTCNN's own pyramid does), and libswscale
    /// converts the reduced picture, which is then the output size or a little more. Otherwise
    /// exactly ``convert(_:to:width:height:crop:)``. A 1920×1080 frame to 640×360: k = 3, and
    /// libswscale only converts colours, where scaling the full frame cost more than decoding it.
    ///
    /// `reusing`: a buffer of exactly `width × height × layout.channels` bytes that nothing else
    /// holds any more (a previous result's ``PixelImage/bytes`` handed back, ``PixelBufferPool``)
    /// is written in place instead of a fresh allocation — per frame, a fresh 640×360 RGB buffer
    /// (691 KB) was a new heap block whose pages the kernel faulted in and zeroed. Any other
    /// buffer (wrong size) is ignored; one still shared is copied first (Swift's copy on write),
    /// so the result never aliases another image.
    public func convertReduced(_ frame: DecodedFrame, to layout: PixelLayout, width: Int,
                               height: Int, reusing: consuming [UInt8]? = nil) throws(VideoError) -> PixelImage {
        let f = frame.frame.pointee
        let format = AVPixelFormat(f.format)
        let k = min(frame.width / max(width, 1), frame.height / max(height, 1), 16)
        let count = width * height * layout.channels
        let whole = PixelRect(x: 0, y: 0, width: frame.width, height: frame.height)
        // Taken over, not copied: when the caller let go of it, this is its only reference and
        // the writes below go into it in place.
        var spare: [UInt8] = []
        switch consume reusing {
        case .some(let bytes) where bytes.count == count: spare = bytes
        default: break
        }
        guard format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P, k >= 2, width > 0, height > 0,
              frame.width % (2 * k) == 0, frame.height % (2 * k) == 0,
              let y = f.data.0, let u = f.data.1, let v = f.data.2
        else {
            guard count > 0, !spare.isEmpty else { return try convert(frame, to: layout, width: width, height: height) }
            var result: Result<PixelRect, VideoError> = .success(whole)
            spare.withUnsafeMutableBytes { buffer in
                do throws(VideoError) {
                    result = .success(try convert(frame, to: layout, width: width, height: height, into: buffer))
                } catch {
                    result = .failure(error)
                }
            }
            return PixelImage(width: width, height: height, layout: layout, source: try result.get(), bytes: spare)
        }
        let (rw, rh) = (frame.width / k, frame.height / k)
        let (cw, ch) = (rw / 2, rh / 2)
        let planeBytes = rw * rh + 2 * cw * ch
        if reduced.count < planeBytes { reduced = [UInt8](repeating: 0, count: planeBytes) }
        var result: Result<Void, VideoError> = .success(())
        func fill(_ out: UnsafeMutablePointer<UInt8>) {
            reduced.withUnsafeMutableBufferPointer { r in
                let ry = r.baseAddress!, ru = ry + rw * rh, rv = ru + cw * ch
                boxReducePlane(y, stride: Int(f.linesize.0), factor: k, width: rw, height: rh, into: ry, stride: rw)
                boxReducePlane(u, stride: Int(f.linesize.1), factor: k, width: cw, height: ch, into: ru, stride: cw)
                boxReducePlane(v, stride: Int(f.linesize.2), factor: k, width: cw, height: ch, into: rv, stride: cw)
                do throws(VideoError) {
                    try scale([UnsafePointer(ry), UnsafePointer(ru), UnsafePointer(rv), nil],
                              strides: [Int32(rw), Int32(cw), Int32(cw), 0], width: rw, height: rh,
                              format: AV_PIX_FMT_YUV420P, colorspace: Int32(f.colorspace.rawValue),
                              fullRange: format == AV_PIX_FMT_YUVJ420P || f.color_range == AVCOL_RANGE_JPEG,
                              to: layout, width: width, height: height, into: UnsafeMutableRawPointer(out))
                } catch {
                    result = .failure(error)
                }
            }
        }
        let bytes: [UInt8]
        if !spare.isEmpty {
            spare.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
            bytes = spare
        } else {
            bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                fill(buffer.baseAddress!)
                if case .failure = result { buffer.initialize(repeating: 0) }
                initialized = count
            }
        }
        try result.get()
        return PixelImage(width: width, height: height, layout: layout, source: whole, bytes: bytes)
    }

    /// libswscale from the given planes (`width`×`height`, `format`) to packed `layout` at
    /// `dstWidth`×`dstHeight` into `dstBase` (packed rows).
    private func scale(_ src: [UnsafePointer<UInt8>?], strides: [Int32], width srcWidth: Int, height srcHeight: Int,
                       format srcFormat: AVPixelFormat, colorspace: Int32, fullRange: Bool, to layout: PixelLayout,
                       width: Int, height: Int, into dstBase: UnsafeMutableRawPointer) throws(VideoError) {
        let key = Key(srcWidth: Int32(srcWidth), srcHeight: Int32(srcHeight), srcFormat: srcFormat.rawValue,
                      colorspace: colorspace, fullRange: fullRange,
                      dstWidth: Int32(width), dstHeight: Int32(height), dstFormat: layout.avFormat.rawValue)
        let context = try context(for: key)

        let rowBytes = width * layout.channels
        let stride = (rowBytes + 63) & ~63
        let needed = stride * height + 64
        if needed > scratchBytes {
            free(scratch)
            var p: UnsafeMutableRawPointer?
            guard posix_memalign(&p, 64, needed) == 0, let p else {
                scratch = nil; scratchBytes = 0
                throw .ffmpeg(call: "posix_memalign", code: fervid_averror(ENOMEM), message: ffmpegMessage(fervid_averror(ENOMEM)))
            }
            scratch = p; scratchBytes = needed
        }
        let out = scratch!.assumingMemoryBound(to: UInt8.self)
        let dst: [UnsafeMutablePointer<UInt8>?] = [out, nil, nil, nil]
        let dstStride: [Int32] = [Int32(stride), 0, 0, 0]
        let scaled = sws_scale(context, src, strides, 0, Int32(srcHeight), dst, dstStride)
        try check(scaled, "sws_scale")
        for row in 0 ..< height {
            (dstBase + row * rowBytes).copyMemory(from: out + row * stride, byteCount: rowBytes)
        }
    }

    /// The cached context for `key`: a hit bumps its use; a miss reuses the least recently used
    /// slot through `sws_getCachedContext` (which frees and rebuilds it for the new parameters).
    private func context(for key: Key) throws(VideoError) -> OpaquePointer {
        useClock += 1
        if let i = slots.firstIndex(where: { $0.key == key }) {
            slots[i].lastUse = useClock
            return slots[i].context
        }
        var victim: Int?
        if slots.count >= capacity {
            victim = slots.indices.min { slots[$0].lastUse < slots[$1].lastUse }
        }
        let previous = victim.map { slots[$0].context }
        guard let context = sws_getCachedContext(
            previous, key.srcWidth, key.srcHeight, AVPixelFormat(key.srcFormat),
            key.dstWidth, key.dstHeight, AVPixelFormat(key.dstFormat), algorithm.flags, nil, nil, nil)
        else {
            if let victim { slots.remove(at: victim) }  // sws_getCachedContext freed it
            let code = fervid_averror(EINVAL)
            throw .ffmpeg(call: "sws_getCachedContext", code: code, message: ffmpegMessage(code))
        }
        // YUV->RGB coefficients from the frame's colour matrix (unspecified -> BT.601) and its
        // range, as FFmpeg's scale filter does; the destination keeps libswscale's defaults.
        var invTable: UnsafeMutablePointer<Int32>?, table: UnsafeMutablePointer<Int32>?
        var srcRange: Int32 = 0, dstRange: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        if sws_getColorspaceDetails(context, &invTable, &srcRange, &table, &dstRange,
                                    &brightness, &contrast, &saturation) >= 0 {
            sws_setColorspaceDetails(context, sws_getCoefficients(key.colorspace), key.fullRange ? 1 : 0,
                                     table, dstRange, brightness, contrast, saturation)
        }
        let slot = Slot(key: key, context: context, lastUse: useClock)
        if let victim { slots[victim] = slot } else { slots.append(slot) }
        return context
    }
}

/// Pixel buffers handed back by the thread that is done with an image, for the next
/// ``FrameScaler/convertReduced(_:to:width:height:reusing:)`` on another: the face stage's
/// look-ahead converts a detection frame per decoded frame and the face thread drops it a few
/// frames later, so a handful of buffers serve the whole run. Thread-safe. Keeps at most
/// `limit` buffers (the rest are freed): as many as the frames between the two threads (the
/// pipeline's queue, 8, and those in hand), or every detection — when the look-ahead stops to
/// run the detector and the face thread drains the queue — would free the surplus, and the
/// refill allocate (and fault in) fresh ones.
public final class PixelBufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [[UInt8]] = []
    public let limit: Int

    public init(limit: Int = 12) {
        self.limit = limit
    }

    /// A buffer handed back earlier (its bytes are stale), or nil.
    public func take() -> [UInt8]? {
        lock.withLock { free.popLast() }
    }

    /// Hands `bytes` back; call when done reading them (the caller's own copy may still die
    /// later: the taker's write then copies, never alters what someone still reads).
    public func give(_ bytes: [UInt8]) {
        lock.withLock { if free.count < limit { free.append(bytes) } }
    }

    /// Buffers waiting to be taken.
    public var count: Int { lock.withLock { free.count } }
}

/// Box-averages a plane of bytes by `factor` (k, 1…16): output pixel (x, y) is the mean of the k×k
/// source bytes at (k·x…k·x+k−1, k·y…k·y+k−1), rounded half up: (sum + k²/2) / k². Every source
/// byte is read once (rows summed into 16-bit column sums, then k columns at a time).
public func boxReducePlane(_ src: UnsafePointer<UInt8>, stride: Int, factor k: Int, width: Int, height: Int,
                           into dst: UnsafeMutablePointer<UInt8>, stride dstStride: Int) {
    precondition(k >= 1 && k <= 16 && width > 0 && height > 0, "boxReducePlane: factor \(k), \(width)×\(height)")
    let n = width * k, kk = UInt32(k * k), half = kk / 2
    let sums = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
    defer { sums.deallocate() }
    for y in 0..<height {
        let row = src + y * k * stride
        switch k {
        case 2:  // one pass over both rows (the column sums written once)
            let r1 = row + stride
            for x in 0..<n { sums[x] = UInt16(row[x]) &+ UInt16(r1[x]) }
        case 3:
            let r1 = row + stride, r2 = r1 + stride
            for x in 0..<n { sums[x] = UInt16(row[x]) &+ UInt16(r1[x]) &+ UInt16(r2[x]) }
        default:
            for x in 0..<n { sums[x] = UInt16(row[x]) }
            for j in 0..<k where j > 0 {
                let r = row + j * stride
                for x in 0..<n { sums[x] &+= UInt16(r[x]) }
            }
        }
        let out = dst + y * dstStride
        // Wrapping sums and truncating conversions: nothing can overflow (a column sum is at most
        // 255·k² ≤ 65,280, a mean at most 255), and without the overflow traps the compiler
        // vectorises these loops (the checked ones ran a byte at a time: 1080p → 640×360 spent
        // more time here than in libswscale's colour conversion).
        switch k {
        case 2:
            for x in 0..<width {
                out[x] = UInt8(truncatingIfNeeded: (UInt32(sums[2 &* x]) &+ UInt32(sums[2 &* x &+ 1]) &+ 2) / 4)
            }
        case 3:
            for x in 0..<width {
                let t = UInt32(sums[3 &* x]) &+ UInt32(sums[3 &* x &+ 1]) &+ UInt32(sums[3 &* x &+ 2])
                out[x] = UInt8(truncatingIfNeeded: (t &+ 4) / 9)
            }
        default:
            for x in 0..<width {
                var t: UInt32 = 0
                for i in 0..<k { t &+= UInt32(sums[k &* x &+ i]) }
                out[x] = UInt8(truncatingIfNeeded: (t &+ half) / kk)
            }
        }
    }
}

/// Naive twin of ``boxReducePlane``: each output byte summed from its k×k source bytes. The
/// oracle for the tests.
public func naiveBoxReducePlane(_ src: [UInt8], stride: Int, factor k: Int, width: Int, height: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            var sum = 0
            for j in 0..<k { for i in 0..<k { sum += Int(src[(y * k + j) * stride + x * k + i]) } }
            out[y * width + x] = UInt8((sum + k * k / 2) / (k * k))
        }
    }
    return out
}
