import CFFmpeg

/// How a stored picture is turned for display, from the stream's display matrix (phones store
/// portrait video sideways and say so there).
///
/// Applied to stored pixels in this order: ``transpose`` (swap x and y), then ``hflip`` (mirror
/// left–right), then ``vflip`` (mirror top–bottom). The eight combinations are the rotations by
/// multiples of 90° with and without a mirror; ``rotation`` and ``mirrored`` say the same thing
/// as "rotate clockwise by `rotation` degrees, then mirror left–right if `mirrored`".
public struct DisplayOrientation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var transpose: Bool
    public var hflip: Bool
    public var vflip: Bool

    public init(transpose: Bool = false, hflip: Bool = false, vflip: Bool = false) {
        self.transpose = transpose
        self.hflip = hflip
        self.vflip = vflip
    }

    public static let identity = DisplayOrientation()

    /// Rotation clockwise by `degrees` (a multiple of 90), then a left–right mirror if `mirrored`.
    public init(rotation degrees: Int, mirrored: Bool = false) {
        let d = ((degrees % 360) + 360) % 360
        precondition(d % 90 == 0, "DisplayOrientation: \(degrees)° is not a multiple of 90")
        // Clockwise 90° = transpose then mirror left–right; 180° = both mirrors; 270° = transpose
        // then mirror top–bottom. A final left–right mirror toggles hflip.
        switch d {
        case 90: self.init(transpose: true, hflip: !mirrored, vflip: false)
        case 180: self.init(transpose: false, hflip: !mirrored, vflip: true)
        case 270: self.init(transpose: true, hflip: mirrored, vflip: true)
        default: self.init(transpose: false, hflip: mirrored, vflip: false)
        }
    }

    /// Clockwise degrees (0, 90, 180, 270) of the rotation part.
    public var rotation: Int {
        switch (transpose, hflip, vflip) {
        case (false, false, false), (false, true, false): 0
        case (false, false, true), (false, true, true): 180
        case (true, true, false), (true, false, false): 90
        case (true, false, true), (true, true, true): 270
        }
    }

    /// Whether a left–right mirror follows the rotation.
    public var mirrored: Bool {
        switch (transpose, hflip, vflip) {
        case (false, true, false), (false, false, true), (true, false, false), (true, true, true): true
        default: false
        }
    }

    public var isIdentity: Bool { !transpose && !hflip && !vflip }

    /// `rotate 90`, `rotate 270 + mirror`, `none`.
    public var description: String {
        if isIdentity { return "none" }
        var parts: [String] = []
        if rotation != 0 { parts.append("rotate \(rotation)° clockwise") }
        if mirrored { parts.append("mirror") }
        return parts.joined(separator: " + ")
    }

    /// Display size of a `width`×`height` stored picture.
    public func displaySize(width: Int, height: Int) -> (width: Int, height: Int) {
        transpose ? (height, width) : (width, height)
    }

    /// Where stored pixel (`x`, `y`) of a `width`×`height` picture is shown.
    public func display(x: Int, y: Int, width: Int, height: Int) -> (x: Int, y: Int) {
        var (px, py) = transpose ? (y, x) : (x, y)
        let (w, h) = displaySize(width: width, height: height)
        if hflip { px = w - 1 - px }
        if vflip { py = h - 1 - py }
        return (px, py)
    }

    /// The orientation the ffmpeg command line's autorotation applies for a display matrix
    /// (`fftools/ffmpeg_filter.c`, FFmpeg 5.1–7): the rotation angle from the matrix, rounded,
    /// and the matrix's signs for the mirrors. Angles that are not near a multiple of 90° are
    /// not applied (nil).
    public init?(displayMatrix m: UnsafePointer<Int32>) {
        var theta = -av_display_rotation_get(m).rounded()
        guard theta.isFinite else { return nil }
        theta -= 360 * (theta / 360 + 0.9 / 360).rounded(.down)
        if abs(theta - 90) < 1 {
            // transpose=cclock_flip (a plain transpose) or clock (transpose + mirror left–right).
            self.init(transpose: true, hflip: m[3] <= 0, vflip: false)
        } else if abs(theta - 180) < 1 {
            self.init(transpose: false, hflip: m[0] < 0, vflip: m[4] < 0)
        } else if abs(theta - 270) < 1 {
            // transpose=clock_flip (transpose + both mirrors) or cclock (transpose + top–bottom).
            self.init(transpose: true, hflip: m[3] < 0, vflip: true)
        } else if abs(theta) < 1 || abs(theta - 360) < 1 {
            self.init(transpose: false, hflip: false, vflip: m[4] < 0)
        } else {
            return nil
        }
    }
}

/// Turns decoded frames upright (``DisplayOrientation``): planar formats are rotated plane by
/// plane in their own format; any other format is first converted to 8-bit 4:4:4 by libswscale.
final class FrameOrienter {
    let orientation: DisplayOrientation
    private var converter: OpaquePointer?
    private var converterKey: (Int32, Int32, Int32) = (0, 0, -1)

    init(_ orientation: DisplayOrientation) {
        self.orientation = orientation
    }

    deinit { sws_freeContext(converter) }

    /// Whether `format` can be turned plane by plane: planar, one component per plane, 1 or 2
    /// bytes a sample, and (when transposing) the same chroma subsampling both ways.
    static func canTurnPlanes(_ format: AVPixelFormat, transpose: Bool) -> Bool {
        guard let d = av_pix_fmt_desc_get(format)?.pointee else { return false }
        let flags = d.flags
        guard flags & UInt64(AV_PIX_FMT_FLAG_PLANAR) != 0,
              flags & UInt64(AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM) == 0 else { return false }
        if transpose && d.log2_chroma_w != d.log2_chroma_h { return false }
        let comps = [d.comp.0, d.comp.1, d.comp.2, d.comp.3].prefix(Int(d.nb_components))
        var planes = Set<Int32>()
        for c in comps {
            guard c.offset == 0, c.shift == 0, c.step == 1 || c.step == 2, planes.insert(c.plane).inserted else { return false }
        }
        return true
    }

    /// A new frame holding `src` turned upright (same properties, display size); `src` is untouched.
    func turn(_ src: UnsafeMutablePointer<AVFrame>) throws(VideoError) -> UnsafeMutablePointer<AVFrame> {
        let format = AVPixelFormat(src.pointee.format)
        if Self.canTurnPlanes(format, transpose: orientation.transpose) {
            return try turnPlanes(src)
        }
        let converted = try convert(src)
        defer { var f: UnsafeMutablePointer<AVFrame>? = converted; av_frame_free(&f) }
        return try turnPlanes(converted)
    }

    private func turnPlanes(_ src: UnsafeMutablePointer<AVFrame>) throws(VideoError) -> UnsafeMutablePointer<AVFrame> {
        let (w, h) = (Int(src.pointee.width), Int(src.pointee.height))
        let (dw, dh) = orientation.displaySize(width: w, height: h)
        guard let dst = av_frame_alloc() else { throw outOfMemory("av_frame_alloc") }
        var owned: UnsafeMutablePointer<AVFrame>? = dst
        dst.pointee.format = src.pointee.format
        dst.pointee.width = Int32(dw)
        dst.pointee.height = Int32(dh)
        do {
            _ = try check(av_frame_get_buffer(dst, 0), "av_frame_get_buffer")
            _ = try check(av_frame_copy_props(dst, src), "av_frame_copy_props")
        } catch {
            av_frame_free(&owned)
            throw error
        }
        if orientation.transpose {
            let sar = dst.pointee.sample_aspect_ratio
            dst.pointee.sample_aspect_ratio = AVRational(num: sar.den, den: sar.num)
        }
        let d = av_pix_fmt_desc_get(AVPixelFormat(src.pointee.format))!.pointee
        let comps = [d.comp.0, d.comp.1, d.comp.2, d.comp.3].prefix(Int(d.nb_components))
        for c in comps {
            let p = Int(c.plane)
            let chroma = p == 1 || p == 2
            // Plane size: chroma planes are subsampled, rounding up (AV_CEIL_RSHIFT).
            let pw = chroma ? -((-w) >> Int(d.log2_chroma_w)) : w
            let ph = chroma ? -((-h) >> Int(d.log2_chroma_h)) : h
            let bytes = Int(c.step)
            withPlanes(src, dst, p) { s, sStride, t, tStride in
                Self.turnPlane(s, stride: sStride, width: pw, height: ph, into: t, stride: tStride,
                               bytes: bytes, orientation: orientation)
            }
        }
        return dst
    }

    private func withPlanes(_ src: UnsafeMutablePointer<AVFrame>, _ dst: UnsafeMutablePointer<AVFrame>, _ p: Int,
                            _ body: (UnsafePointer<UInt8>, Int, UnsafeMutablePointer<UInt8>, Int) -> Void) {
        let (s, t) = (src.pointee, dst.pointee)
        let sp = [s.data.0, s.data.1, s.data.2, s.data.3], tp = [t.data.0, t.data.1, t.data.2, t.data.3]
        let ss = [s.linesize.0, s.linesize.1, s.linesize.2, s.linesize.3]
        let ts = [t.linesize.0, t.linesize.1, t.linesize.2, t.linesize.3]
        body(UnsafePointer(sp[p]!), Int(ss[p]), tp[p]!, Int(ts[p]))
    }

    /// Turns one plane of `width`×`height` samples of `bytes` bytes each (stored size) into `dst`
    /// (display size). Each output row reads the source along a row or a column at a fixed step;
    /// a transpose goes in 32 × 32 tiles so that the source rows it walks across stay in cache.
    static func turnPlane(_ src: UnsafePointer<UInt8>, stride: Int, width: Int, height: Int,
                          into dst: UnsafeMutablePointer<UInt8>, stride dstStride: Int, bytes: Int,
                          orientation o: DisplayOrientation) {
        let (dw, dh) = o.displaySize(width: width, height: height)
        let x0 = o.hflip ? dw - 1 : 0
        let dx = o.hflip ? -1 : 1
        // Stored position (in bytes) of display (0, Y), and the step per display X.
        func rowStart(_ Y: Int) -> Int {
            // Undo the mirrors, then the transpose: display (X, Y) shows stored (sx, sy).
            let y1 = o.vflip ? dh - 1 - Y : Y
            return o.transpose ? x0 * stride + y1 * bytes : y1 * stride + x0 * bytes
        }
        let step = o.transpose ? dx * stride : dx * bytes
        let tile = o.transpose ? 32 : dw
        var X0 = 0
        while X0 < dw {
            let X1 = min(X0 + tile, dw)
            for Y in 0..<dh {
                let row = dst + Y * dstStride
                var s = rowStart(Y) + X0 * step
                if bytes == 1 {
                    for X in X0..<X1 { row[X] = src[s]; s += step }
                } else {
                    for X in X0..<X1 {
                        for b in 0..<bytes { row[X * bytes + b] = src[s + b] }
                        s += step
                    }
                }
            }
            X0 = X1
        }
    }

    /// `src` converted to 8-bit 4:4:4 (full range kept), for formats not turned plane by plane.
    private func convert(_ src: UnsafeMutablePointer<AVFrame>) throws(VideoError) -> UnsafeMutablePointer<AVFrame> {
        let (w, h) = (src.pointee.width, src.pointee.height)
        let target = src.pointee.color_range == AVCOL_RANGE_JPEG ? AV_PIX_FMT_YUVJ444P : AV_PIX_FMT_YUV444P
        if converterKey != (w, h, src.pointee.format) {
            sws_freeContext(converter)
            converter = sws_getContext(w, h, AVPixelFormat(src.pointee.format), w, h, target, SWS_POINT, nil, nil, nil)
            converterKey = (w, h, src.pointee.format)
        }
        guard let converter else { throw .unsupportedPixelFormat(String(cString: av_get_pix_fmt_name(AVPixelFormat(src.pointee.format)))) }
        guard let dst = av_frame_alloc() else { throw outOfMemory("av_frame_alloc") }
        var owned: UnsafeMutablePointer<AVFrame>? = dst
        dst.pointee.format = target.rawValue
        dst.pointee.width = w
        dst.pointee.height = h
        do {
            _ = try check(av_frame_get_buffer(dst, 0), "av_frame_get_buffer")
            _ = try check(av_frame_copy_props(dst, src), "av_frame_copy_props")
            let (s, t) = (src.pointee, dst.pointee)
            let srcData: [UnsafePointer<UInt8>?] = [s.data.0, s.data.1, s.data.2, s.data.3].map { $0.map { UnsafePointer($0) } }
            let srcLines = [s.linesize.0, s.linesize.1, s.linesize.2, s.linesize.3]
            let dstData = [t.data.0, t.data.1, t.data.2, t.data.3]
            let dstLines = [t.linesize.0, t.linesize.1, t.linesize.2, t.linesize.3]
            _ = try check(sws_scale(converter, srcData, srcLines, 0, h, dstData, dstLines), "sws_scale")
        } catch {
            av_frame_free(&owned)
            throw error
        }
        return dst
    }
}
