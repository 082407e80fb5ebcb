import CFFmpeg

// The C resources behind ``VideoEncoder``, one Swift owner each (STYLE.md 4).

/// Owns one output `AVFormatContext` and, once ``openFile()`` succeeded, its `AVIOContext`
/// (closed with ``closeFile()`` or in `deinit`).
final class OutputContainer {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String
    private var fileOpen = false

    /// The muxer is chosen from `path`'s extension.
    init(path: String) throws(VideoError) {
        var allocated: UnsafeMutablePointer<AVFormatContext>?
        let code = avformat_alloc_output_context2(&allocated, nil, nil, path)
        if code == fervid_averror(EINVAL) || (code >= 0 && allocated == nil) {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            throw .unknownContainer(name)
        }
        try check(code, "avformat_alloc_output_context2")
        guard let allocated else { throw outOfMemory("avformat_alloc_output_context2") }
        context = allocated
        self.path = path
    }

    deinit {
        closeFile()
        avformat_free_context(context)
    }

    var format: UnsafePointer<AVOutputFormat> { context.pointee.oformat }

    /// The muxer's short name, e.g. `mp4`.
    var formatName: String { String(cString: format.pointee.name) }

    /// Whether the muxer can store `codec` (libavformat's own answer: 1 yes, 0 no, <0 unknown).
    func accepts(_ codec: AVCodecID) -> Bool {
        avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL) == 1
    }

    /// Creates the file (muxers flagged `AVFMT_NOFILE` open their own).
    func openFile() throws(VideoError) {
        guard format.pointee.flags & AVFMT_NOFILE == 0, !fileOpen else { return }
        try check(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open")
        fileOpen = true
    }

    /// Flushes and closes the file; idempotent.
    func closeFile() {
        guard fileOpen else { return }
        avio_closep(&context.pointee.pb)
        fileOpen = false
    }
}

/// Owns one encoder `AVCodecContext` (freed in `deinit`).
final class EncoderContext {
    let context: UnsafeMutablePointer<AVCodecContext>
    let codec: UnsafePointer<AVCodec>

    init(codec: UnsafePointer<AVCodec>) throws(VideoError) {
        guard let c = avcodec_alloc_context3(codec) else { throw outOfMemory("avcodec_alloc_context3") }
        context = c
        self.codec = codec
    }

    deinit {
        var c: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&c)
    }

    var name: String { String(cString: codec.pointee.name) }
}

/// Owns one `AVFrame` with its own picture buffer (freed in `deinit`).
final class PictureBuffer {
    let frame: UnsafeMutablePointer<AVFrame>

    init(width: Int, height: Int, format: AVPixelFormat) throws(VideoError) {
        guard let f = av_frame_alloc() else { throw outOfMemory("av_frame_alloc") }
        frame = f
        f.pointee.width = Int32(width)
        f.pointee.height = Int32(height)
        f.pointee.format = format.rawValue
        try check(av_frame_get_buffer(f, 0), "av_frame_get_buffer")
    }

    deinit {
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
    }
}

/// Owns one `SwsContext` converting packed RGB24 at `width`×`height` to `format` at the same size
/// (freed in `deinit`).
final class RGBConverter {
    let context: OpaquePointer
    let width: Int
    let height: Int

    /// RGB is full range; the output gets BT.601 coefficients, limited range, which is what the
    /// encoder's stream is tagged with (``VideoEncoder``), so players convert it back the same way.
    init(width: Int, height: Int, format: AVPixelFormat) throws(VideoError) {
        guard let c = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24,
                                     Int32(width), Int32(height), format,
                                     SWS_BILINEAR | SWS_ACCURATE_RND, nil, nil, nil) else {
            let code = fervid_averror(EINVAL)
            throw .ffmpeg(call: "sws_getContext", code: code, message: ffmpegMessage(code))
        }
        context = c
        self.width = width
        self.height = height
        let coefficients = sws_getCoefficients(SWS_CS_ITU601)
        sws_setColorspaceDetails(c, coefficients, 1, coefficients, 0, 0, 1 << 16, 1 << 16)
    }

    deinit { sws_freeContext(context) }

    /// Converts `rgb` (`height` packed rows of `width × 3` bytes) into the top-left
    /// `width`×`height` of `frame`, which may be larger (padding is the caller's).
    func convert(_ rgb: UnsafePointer<UInt8>, into frame: UnsafeMutablePointer<AVFrame>) throws(VideoError) {
        let src: [UnsafePointer<UInt8>?] = [rgb, nil, nil, nil]
        let srcStride: [Int32] = [Int32(width * 3), 0, 0, 0]
        let f = frame.pointee
        let dst: [UnsafeMutablePointer<UInt8>?] = [f.data.0, f.data.1, f.data.2, f.data.3]
        let dstStride: [Int32] = [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3]
        try check(sws_scale(context, src, srcStride, 0, Int32(height), dst, dstStride), "sws_scale")
    }
}
