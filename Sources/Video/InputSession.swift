import CFFmpeg

/// What FFmpeg opens for an input as given: `-` is standard input (`pipe:0`).
func ffmpegURL(_ input: String) -> String { input == "-" ? "pipe:0" : input }

/// True for standard input and FFmpeg's `pipe:` inputs (read once, front to back, no seeking).
public func isPipeInput(_ input: String) -> Bool { input == "-" || input.hasPrefix("pipe:") }

/// Owns one opened `AVFormatContext` (closed in `deinit`).
final class FormatInput {
    let context: UnsafeMutablePointer<AVFormatContext>

    /// Opens `url` and reads stream information, each call bounded by `openTimeout` through the
    /// interrupt callback. `interrupt` must outlive this object (the session holds it).
    init(url given: String, options: VideoSourceOptions, interrupt: VideoInterrupt) throws(VideoError) {
        let url = ffmpegURL(given)
        // Allocate first so the interrupt callback is in place before anything blocks (PLATFORM.md).
        guard let allocated = avformat_alloc_context() else { throw outOfMemory("avformat_alloc_context") }
        allocated.pointee.interrupt_callback = AVIOInterruptCB(
            callback: { opaque in
                guard let opaque else { return 0 }
                return Unmanaged<VideoInterrupt>.fromOpaque(opaque).takeUnretainedValue().poll() ? 1 : 0
            },
            opaque: Unmanaged.passUnretained(interrupt).toOpaque())

        var dictionary: OpaquePointer?
        defer { av_dict_free(&dictionary) }
        if let seconds = protocolTimeout(url: url, options: options) {
            let micros = String(Int64(seconds * 1e6))
            av_dict_set(&dictionary, "rw_timeout", micros, 0)
            if urlScheme(url) == "udp" {
                // UDP ignores rw_timeout; its own `timeout` (µs) ends a silent read (PLATFORM.md).
                av_dict_set(&dictionary, "timeout", micros, 0)
                // A slow consumer loses packets instead of failing the whole read.
                av_dict_set(&dictionary, "overrun_nonfatal", "1", 0)
            }
        }
        for (key, value) in options.formatOptions { av_dict_set(&dictionary, key, value, 0) }

        interrupt.deadlineFired.store(false, ordering: .relaxed)
        var opened: UnsafeMutablePointer<AVFormatContext>? = allocated
        let protocolTimeout = protocolTimeout(url: url, options: options)
        try blockingCall("avformat_open_input", timeout: options.openTimeout, protocolTimeout: protocolTimeout,
                         interrupt: interrupt) {
            avformat_open_input(&opened, url, nil, &dictionary)  // frees `allocated` on failure
        }
        guard let opened else { throw outOfMemory("avformat_open_input") }
        context = opened

        let format = opened
        try blockingCall("avformat_find_stream_info", timeout: options.openTimeout, protocolTimeout: protocolTimeout,
                         interrupt: interrupt) {
            avformat_find_stream_info(format, nil)
        }
    }

    deinit {
        var c: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&c)
    }
}

/// Owns one opened `AVCodecContext` (freed in `deinit`).
final class VideoDecoder {
    let context: UnsafeMutablePointer<AVCodecContext>

    init(stream: UnsafeMutablePointer<AVStream>, codec: UnsafePointer<AVCodec>, threads: Int) throws(VideoError) {
        guard let c = avcodec_alloc_context3(codec) else { throw outOfMemory("avcodec_alloc_context3") }
        context = c
        try check(avcodec_parameters_to_context(c, stream.pointee.codecpar), "avcodec_parameters_to_context")
        c.pointee.pkt_timebase = stream.pointee.time_base
        c.pointee.thread_count = Int32(threads)
        c.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
        try check(avcodec_open2(c, codec, nil), "avcodec_open2")
    }

    deinit {
        var c: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&c)
    }
}

/// Owns one `AVPacket` (freed in `deinit`).
final class PacketBuffer {
    let packet: UnsafeMutablePointer<AVPacket>

    init() throws(VideoError) {
        guard let p = av_packet_alloc() else { throw outOfMemory("av_packet_alloc") }
        packet = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
    }
}

/// One connection to the input: the demuxer, the chosen video stream and its decoder.
/// A live input gets a new session on each reconnect.
final class InputSession {
    let input: FormatInput
    let decoder: VideoDecoder
    let stream: UnsafeMutablePointer<AVStream>
    let streamIndex: Int32
    // Keeps the callback's context alive for as long as the format context can call it.
    let interrupt: VideoInterrupt

    init(url: String, options: VideoSourceOptions, interrupt: VideoInterrupt) throws(VideoError) {
        self.interrupt = interrupt
        input = try FormatInput(url: url, options: options, interrupt: interrupt)
        let format = input.context

        var codec: UnsafePointer<AVCodec>?
        let best = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        if best == fervid_averror_stream_not_found() { throw .noVideoStream }
        if best == fervid_averror_decoder_not_found() {
            var name = "unknown"
            for i in 0 ..< Int(format.pointee.nb_streams) {
                let par = format.pointee.streams[i]!.pointee.codecpar.pointee
                if par.codec_type == AVMEDIA_TYPE_VIDEO { name = String(cString: avcodec_get_name(par.codec_id)) }
            }
            throw .noDecoder(codec: name)
        }
        try check(best, "av_find_best_stream")
        guard let codec else { throw .noVideoStream }
        streamIndex = best
        stream = format.pointee.streams[Int(best)]!
        // The demuxer drops every other stream's packets for us.
        for i in 0 ..< Int(format.pointee.nb_streams) where i != Int(best) {
            format.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        decoder = try VideoDecoder(stream: stream, codec: codec, threads: options.decoderThreads)
    }
}

/// Runs one blocking FFmpeg call under a fresh deadline and passes its code through `check`;
/// an interrupt or a timeout is reported as such, not as what the call returned for it: FFmpeg's
/// "Immediate exit requested" when the interrupt callback fired, or, when a network protocol's
/// own timeout (`protocolTimeout`) fired, ETIMEDOUT or EIO (libavformat's retry loop turns an
/// expired `rw_timeout` into EIO).
@discardableResult
func blockingCall(_ call: String, timeout: Double, protocolTimeout: Double?, interrupt: VideoInterrupt,
                  _ body: () -> Int32) throws(VideoError) -> FFResult {
    interrupt.arm(seconds: timeout)
    let started = monotonicNanos()
    let code = body()
    let elapsed = Double(monotonicNanos() - started) / 1e9
    let expired = interrupt.isExpired
    interrupt.disarm()
    do {
        return try check(code, call)
    } catch {
        if interrupt.isInterrupted { throw .interrupted }
        let fired = interrupt.deadlineFired.exchange(false, ordering: .relaxed)
        if code == averrorExit && (expired || fired) { throw .timedOut(call: call, seconds: timeout) }
        if code == averrorTimedOut { throw .timedOut(call: call, seconds: min(timeout, protocolTimeout ?? timeout)) }
        if code == fervid_averror(EIO), let protocolTimeout, elapsed >= protocolTimeout * 0.9 {
            throw .timedOut(call: call, seconds: protocolTimeout)
        }
        throw error
    }
}

/// The socket-level timeout passed to network protocols (`rw_timeout`, and UDP's `timeout`), in
/// seconds; nil for files. A backstop that ends a read even if the interrupt callback were not
/// polled: the read timeout plus a second, so the callback's deadline normally fires first.
func protocolTimeout(url: String, options: VideoSourceOptions) -> Double? {
    isNetworkURL(url) ? max(0.001, options.readTimeout) + 1 : nil
}

func outOfMemory(_ call: String) -> VideoError {
    let code = fervid_averror(ENOMEM)
    return .ffmpeg(call: call, code: code, message: ffmpegMessage(code))
}
