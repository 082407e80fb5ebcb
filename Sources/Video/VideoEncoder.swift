import CFFmpeg

/// How ``VideoEncoder`` compresses.
public struct VideoEncoderOptions: Sendable, Equatable {
    /// An encoder by libavcodec name (`libx264`, `mpeg4`, …); nil picks libx264 when this
    /// libavcodec has it and the container takes H.264, else MPEG-4 part 2, else the container's
    /// default encoder.
    public var encoder: String?
    /// libx264's `preset`.
    public var preset: String
    /// libx264's constant rate factor (0–51, lower is better; 20 is visually near-lossless for
    /// annotated footage). Other encoders use a fixed quantiser (`qscale` 3) instead.
    public var crf: Int
    /// Encoder threads; 0 lets the encoder choose.
    public var threads: Int
    /// Container tags (`comment`, `title`, …) written into the file's metadata where the
    /// container stores them (MP4, MOV, Matroska, AVI, …).
    public var metadata: [String: String]

    public init(encoder: String? = nil, preset: String = "veryfast", crf: Int = 20, threads: Int = 0,
                metadata: [String: String] = [:]) {
        self.encoder = encoder
        self.preset = preset
        self.crf = crf
        self.threads = max(0, threads)
        self.metadata = metadata
    }
}

/// Writes packed RGB24 pictures to a video file: H.264 (libx264, yuv420p) where available, in the
/// container the file's extension names, with each picture at the timestamp it is given, and
/// optionally the audio of another file copied alongside.
///
/// ```swift
/// let source = try VideoSource(url: "talk.mp4")
/// let encoder = try VideoEncoder(path: "talk.annotated.mp4", matching: source.info)
/// let scaler = FrameScaler()
/// var rgb = [UInt8](repeating: 0, count: source.info.width * source.info.height * 3)
/// while let frame = try source.nextFrame() {
///     try rgb.withUnsafeMutableBytes { buffer in
///         try scaler.convert(frame, to: .rgb24, width: frame.width, height: frame.height, into: buffer)
///     }
///     // … draw on `rgb` …
///     try rgb.withUnsafeBytes { try encoder.write(rgb: $0, pts: frame.pts) }
/// }
/// try encoder.finish()
/// print(encoder.audio)   // copied (aac)
/// ```
///
/// Timestamps: a picture's `pts` (seconds) becomes the output frame's presentation time, rounded
/// to the time base (the source's, when given: then ffprobe reports the source's timestamps, so
/// variable frame rate and dropped frames are kept). Timestamps must increase; one that does not
/// after rounding is moved one tick past the previous and counted in ``adjustedTimestamps``.
/// Each frame lasts until the next one; the last lasts one frame at `frameRate`.
///
/// Size: 4:2:0 needs even dimensions. An odd width or height is padded by one column or row that
/// repeats the picture's edge (``encodedWidth``, ``encodedHeight``); nothing is scaled.
///
/// Colour: RGB is converted with BT.601 coefficients to limited range, and the stream is tagged
/// so (`smpte170m`, `tv`), so players and the ffmpeg CLI convert it back the same way.
///
/// Audio: ``AudioCopyStatus``. The input's best audio stream is copied packet for packet (no
/// re-encoding), interleaved with the video, up to the end of the last video frame. Network
/// (live) inputs are not reopened for audio.
///
/// ``finish()`` flushes the encoder and writes the container's trailer (an MP4 without it does
/// not play). Call it at the end and on Ctrl-C; if the encoder is released unfinished, `deinit`
/// finishes it and ignores errors. Threading: use an encoder from one thread at a time.
public final class VideoEncoder: @unchecked Sendable {
    /// The output file as given.
    public let path: String
    /// Size of the pictures ``write(rgb:pts:)`` takes.
    public let width: Int
    public let height: Int
    /// Size of the encoded video: ``width``×``height`` rounded up to what the pixel format needs.
    public let encodedWidth: Int
    public let encodedHeight: Int
    /// The libavcodec encoder in use, e.g. `libx264` or `mpeg4`.
    public let encoderName: String
    /// The encoder's pixel format, e.g. `yuv420p`.
    public let pixelFormatName: String
    /// The muxer, e.g. `mp4`, `matroska`.
    public let containerName: String
    /// The video stream's time base in the file (the muxer may refine the one asked for: MP4
    /// doubles a coarse one until it has at least 10,000 ticks a second, Matroska uses 1/1000).
    public let streamTimeBase: Rational
    /// Whether and which audio is copied.
    public private(set) var audio: AudioCopyStatus
    /// Pictures accepted so far.
    public private(set) var framesWritten = 0
    /// Pictures whose timestamp did not increase after rounding and was moved one tick later.
    public private(set) var adjustedTimestamps = 0
    /// Set once ``finish()`` has run (successfully or not).
    public private(set) var isFinished = false

    private let container: OutputContainer
    private let encoder: EncoderContext
    private let stream: UnsafeMutablePointer<AVStream>
    private let converter: RGBConverter
    private let picture: PictureBuffer
    private let packet: PacketBuffer
    // The packet of the newest picture, held until the next picture's timestamp gives its duration.
    private let held: PacketBuffer
    private var holding = false
    private let audioCopy: AudioPassthrough?
    private let encoderTimeBase: AVRational
    /// One frame at the nominal rate, in encoder ticks: the last frame's duration.
    private let frameTicks: Int64
    private var lastTicks: Int64?
    /// Each submitted timestamp's successor (encoder ticks), until its packet is written.
    private var successor: [Int64: Int64] = [:]
    /// End of the last video frame written, in seconds: where the copied audio stops.
    private var videoEnd = -Double.infinity

    /// Opens `path` for writing.
    /// - Parameters:
    ///   - path: the output file; its extension picks the container (`.mp4`, `.mkv`, `.mov`, …).
    ///   - width: picture width in pixels (odd sizes are padded, see the type's notes).
    ///   - height: picture height in pixels.
    ///   - frameRate: the nominal rate (the rate control's budget, and the last frame's duration).
    ///   - timeBase: the time base for timestamps, normally the source stream's
    ///     (``VideoInfo/timeBase``); nil uses 1/90000. Encoders limited to 16-bit time bases
    ///     (MPEG-4 part 2) get the nearest such one.
    ///   - audioFrom: a file whose best audio stream is copied into the output; nil for none.
    ///   - options: encoder choice and quality.
    /// - Throws: ``VideoError/writing(path:cause:)`` naming `path` and the cause: a missing
    ///   directory (`avio_open`), an unknown extension, no suitable encoder.
    public init(path: String, width: Int, height: Int, frameRate: Rational, timeBase: Rational? = nil,
                audioFrom: String? = nil, options: VideoEncoderOptions = VideoEncoderOptions()) throws(VideoError) {
        FFmpegLog.configureOnce()
        self.path = path
        self.width = width
        self.height = height
        do throws(VideoError) {
            guard width > 0, height > 0, width <= 1 << 14, height <= 1 << 14 else {
                throw VideoError.invalidOutputSize(width: width, height: height)
            }
            container = try OutputContainer(path: path)
            containerName = container.formatName
            let codec = try Self.chooseEncoder(for: container, requested: options.encoder)
            encoder = try EncoderContext(codec: codec)
            let format = Self.choosePixelFormat(codec)
            guard let desc = av_pix_fmt_desc_get(format)?.pointee else {
                throw VideoError.unsupportedPixelFormat(String(format.rawValue))
            }
            // 4:2:0 and 4:2:2 need whole chroma samples: round the size up to the chroma grid.
            let xAlign = 1 << Int(desc.log2_chroma_w), yAlign = 1 << Int(desc.log2_chroma_h)
            encodedWidth = (width + xAlign - 1) / xAlign * xAlign
            encodedHeight = (height + yAlign - 1) / yAlign * yAlign
            pixelFormatName = String(cString: desc.name)
            encoderName = encoder.name

            let rate = frameRate.value.map { $0 > 0 && $0.isFinite } == true ? frameRate : Rational(25, 1)
            let requestedBase = timeBase.flatMap { $0.value.map { $0 > 0 } == true ? $0 : nil } ?? Rational(1, 90_000)
            var base = AVRational(num: Int32(clamping: requestedBase.numerator), den: Int32(clamping: requestedBase.denominator))
            if encoder.name != "libx264" && base.den > 65_535 {
                // MPEG-4 part 2 (and H.263-family encoders) store the time base in 16 bits.
                var num: Int32 = 0, den: Int32 = 0
                av_reduce(&num, &den, Int64(base.num), Int64(base.den), 65_535)
                if num > 0 && den > 0 { base = AVRational(num: num, den: den) }
            }
            encoderTimeBase = base
            let rateQ = AVRational(num: Int32(clamping: rate.numerator), den: Int32(clamping: rate.denominator))
            frameTicks = max(1, av_rescale_q(1, av_inv_q(rateQ), base))

            let c = encoder.context
            c.pointee.width = Int32(encodedWidth)
            c.pointee.height = Int32(encodedHeight)
            c.pointee.pix_fmt = format
            c.pointee.time_base = base
            c.pointee.framerate = rateQ
            c.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
            c.pointee.color_range = AVCOL_RANGE_MPEG
            c.pointee.colorspace = AVCOL_SPC_SMPTE170M
            c.pointee.thread_count = Int32(options.threads)
            if container.format.pointee.flags & AVFMT_GLOBALHEADER != 0 {
                c.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
            }
            var settings: OpaquePointer?
            defer { av_dict_free(&settings) }
            if encoder.name == "libx264" {
                av_dict_set(&settings, "preset", options.preset, 0)
                av_dict_set(&settings, "crf", String(options.crf), 0)
            } else {
                c.pointee.flags |= AV_CODEC_FLAG_QSCALE
                c.pointee.global_quality = FF_QP2LAMBDA * 3
            }
            try check(avcodec_open2(c, codec, &settings), "avcodec_open2 (\(encoder.name))")

            guard let s = avformat_new_stream(container.context, nil) else { throw outOfMemory("avformat_new_stream") }
            stream = s
            try check(avcodec_parameters_from_context(s.pointee.codecpar, c), "avcodec_parameters_from_context")
            s.pointee.time_base = AVRational(num: Int32(clamping: requestedBase.numerator),
                                             den: Int32(clamping: requestedBase.denominator))
            s.pointee.avg_frame_rate = rateQ

            var attached: (AudioPassthrough?, AudioCopyStatus) = (nil, .notRequested)
            if let audioFrom { attached = try AudioPassthrough.attach(url: audioFrom, to: container) }
            audioCopy = attached.0
            audio = attached.1

            converter = try RGBConverter(width: width, height: height, format: format)
            picture = try PictureBuffer(width: encodedWidth, height: encodedHeight, format: format)
            packet = try PacketBuffer()
            held = try PacketBuffer()

            for (key, value) in options.metadata.sorted(by: { $0.key < $1.key }) {
                try check(av_dict_set(&container.context.pointee.metadata, key, value, 0), "av_dict_set (\(key))")
            }
            try container.openFile()
            try check(avformat_write_header(container.context, nil), "avformat_write_header")
            streamTimeBase = Rational(s.pointee.time_base)
        } catch {
            throw .writing(path: path, cause: error)
        }
    }

    /// Opens `path` for the frames of `source`: the size of its delivered frames (upright, see
    /// ``VideoInfo/displayWidth``), average (else nominal) frame rate and
    /// time base, and, when `copyAudio` and the source is not live, its audio (a live source
    /// gives ``AudioCopyStatus/liveInput``).
    public convenience init(path: String, matching source: VideoInfo, copyAudio: Bool = true,
                            options: VideoEncoderOptions = VideoEncoderOptions()) throws(VideoError) {
        let rate = source.averageFrameRate.value != nil ? source.averageFrameRate : source.nominalFrameRate
        try self.init(path: path, width: source.displayWidth, height: source.displayHeight, frameRate: rate,
                      timeBase: source.timeBase, audioFrom: copyAudio && !source.isLive ? source.url : nil,
                      options: options)
        if copyAudio && source.isLive { audio = .liveInput }
    }

    deinit {
        if !isFinished { try? finish() }
    }

    /// Encodes one picture: `rgb` holds ``height`` packed rows of ``width`` × 3 bytes (R, G, B);
    /// `pts` is its presentation time in seconds.
    public func write(rgb: UnsafeRawBufferPointer, pts: Double) throws(VideoError) {
        precondition(pts.isFinite, "VideoEncoder.write: pts must be finite")
        do throws(VideoError) {
            guard !isFinished else { throw VideoError.alreadyFinished }
            guard rgb.count == width * height * 3, let base = rgb.baseAddress else {
                throw VideoError.frameSizeMismatch(bytes: rgb.count, expectedWidth: width, expectedHeight: height)
            }
            try encode(base.assumingMemoryBound(to: UInt8.self), pts: pts)
        } catch {
            throw .writing(path: path, cause: error)
        }
    }

    /// Encodes one RGB24 picture of ``width``×``height`` at `pts` seconds.
    public func write(_ image: PixelImage, pts: Double) throws(VideoError) {
        guard image.layout == .rgb24, image.width == width, image.height == height else {
            throw .writing(path: path, cause: .frameSizeMismatch(bytes: image.bytes.count,
                                                                  expectedWidth: width, expectedHeight: height))
        }
        let result: Result<Void, VideoError> = image.bytes.withUnsafeBytes { buffer in
            do throws(VideoError) {
                return .success(try write(rgb: buffer, pts: pts))
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Flushes the encoder, copies the rest of the audio (up to the end of the last frame),
    /// writes the trailer and closes the file. Runs once; later calls do nothing.
    public func finish() throws(VideoError) {
        guard !isFinished else { return }
        isFinished = true
        do throws(VideoError) {
            defer { container.closeFile() }
            try check(avcodec_send_frame(encoder.context, nil), "avcodec_send_frame (flush)")
            try releaseHeld(duration: frameTicks)
            try drain(flushing: true)
            try releaseHeld(duration: frameTicks)
            if let audioCopy, videoEnd.isFinite {
                try audioCopy.write(upTo: videoEnd, final: true, into: container)
            }
            try check(av_write_trailer(container.context), "av_write_trailer")
        } catch {
            throw .writing(path: path, cause: error)
        }
    }

    // MARK: - Encoding

    private func encode(_ rgb: UnsafePointer<UInt8>, pts: Double) throws(VideoError) {
        var ticks = Int64((pts * Double(encoderTimeBase.den) / Double(encoderTimeBase.num)).rounded())
        if let lastTicks, ticks <= lastTicks {
            ticks = lastTicks + 1
            adjustedTimestamps += 1
        }
        let f = picture.frame
        // The encoder may still reference the previous picture's buffer.
        try check(av_frame_make_writable(f), "av_frame_make_writable")
        try converter.convert(rgb, into: f)
        padEdges(f)
        f.pointee.pts = ticks

        // The newest packet's duration is now known; write it before anything later.
        if let lastTicks {
            successor[lastTicks] = ticks
            try releaseHeld(duration: ticks - lastTicks)
        }
        lastTicks = ticks
        try check(avcodec_send_frame(encoder.context, f), "avcodec_send_frame")
        framesWritten += 1
        try drain(flushing: false)
    }

    /// Receives every packet the encoder has ready and writes it, except the newest picture's
    /// (no successor yet), which is held until its duration is known.
    private func drain(flushing: Bool) throws(VideoError) {
        let p = packet.packet
        while true {
            let result = try check(avcodec_receive_packet(encoder.context, p), "avcodec_receive_packet")
            guard result == .ok else { return }
            if let next = successor.removeValue(forKey: p.pointee.pts) {
                try writeVideo(p, duration: next - p.pointee.pts)
            } else if !flushing, !holding {
                av_packet_move_ref(held.packet, p)
                holding = true
            } else {
                try writeVideo(p, duration: frameTicks)
            }
        }
    }

    private func releaseHeld(duration: Int64) throws(VideoError) {
        guard holding else { return }
        holding = false
        successor.removeValue(forKey: held.packet.pointee.pts)
        try writeVideo(held.packet, duration: duration)
    }

    /// Writes one video packet (encoder ticks) after the audio that plays before it.
    private func writeVideo(_ p: UnsafeMutablePointer<AVPacket>, duration: Int64) throws(VideoError) {
        p.pointee.duration = duration
        let end = Double(p.pointee.pts + duration) * av_q2d(encoderTimeBase)
        videoEnd = max(videoEnd, end)
        if let audioCopy {
            let decodeTime = Double(p.pointee.dts) * av_q2d(encoderTimeBase)
            try audioCopy.write(upTo: decodeTime, into: container)
        }
        av_packet_rescale_ts(p, encoderTimeBase, stream.pointee.time_base)
        p.pointee.stream_index = stream.pointee.index
        try check(av_interleaved_write_frame(container.context, p), "av_interleaved_write_frame")
    }

    /// Repeats the last converted column and row into the padding of an odd-sized picture.
    private func padEdges(_ frame: UnsafeMutablePointer<AVFrame>) {
        guard encodedWidth != width || encodedHeight != height,
              let desc = av_pix_fmt_desc_get(AVPixelFormat(frame.pointee.format))?.pointee else { return }
        let f = frame.pointee
        let planes = [f.data.0, f.data.1, f.data.2, f.data.3]
        let strides = [Int(f.linesize.0), Int(f.linesize.1), Int(f.linesize.2), Int(f.linesize.3)]
        let components = [desc.comp.0, desc.comp.1, desc.comp.2, desc.comp.3].prefix(Int(desc.nb_components))
        for plane in 0 ..< 4 {
            guard let base = planes[plane],
                  let component = components.first(where: { Int($0.plane) == plane }) else { continue }
            let step = Int(component.step)
            let chroma = plane == 1 || plane == 2
            let sx = chroma ? Int(desc.log2_chroma_w) : 0, sy = chroma ? Int(desc.log2_chroma_h) : 0
            // Samples covered by the picture, and by the padded frame (ceil, as libswscale does).
            let w = -((-width) >> sx), h = -((-height) >> sy)
            let fullW = -((-encodedWidth) >> sx), fullH = -((-encodedHeight) >> sy)
            let stride = strides[plane]
            if fullW > w {
                for y in 0 ..< h {
                    let row = base + y * stride
                    for x in w ..< fullW { (row + x * step).update(from: row + (w - 1) * step, count: step) }
                }
            }
            for y in h ..< fullH {
                (base + y * stride).update(from: base + (h - 1) * stride, count: fullW * step)
            }
        }
    }

    // MARK: - Choices

    /// libx264 when present and the container takes H.264, else MPEG-4 part 2, else the
    /// container's default encoder if it is a software one.
    private static func chooseEncoder(for container: OutputContainer, requested: String?) throws(VideoError) -> UnsafePointer<AVCodec> {
        if let requested {
            guard let codec = avcodec_find_encoder_by_name(requested), codec.pointee.type == AVMEDIA_TYPE_VIDEO,
                  container.accepts(codec.pointee.id) else {
                throw .noEncoder(container: container.formatName, encoder: requested)
            }
            return codec
        }
        if container.accepts(AV_CODEC_ID_H264), let x264 = avcodec_find_encoder_by_name("libx264") {
            return x264
        }
        if container.accepts(AV_CODEC_ID_MPEG4), let mpeg4 = avcodec_find_encoder(AV_CODEC_ID_MPEG4) {
            return mpeg4
        }
        let fallback = container.format.pointee.video_codec
        if fallback != AV_CODEC_ID_NONE, let codec = avcodec_find_encoder(fallback),
           codec.pointee.capabilities & AV_CODEC_CAP_HARDWARE == 0 {
            return codec
        }
        throw .noEncoder(container: container.formatName, encoder: nil)
    }

    /// yuv420p when the encoder takes it (what every player decodes), else the encoder's format
    /// closest to RGB24.
    private static func choosePixelFormat(_ codec: UnsafePointer<AVCodec>) -> AVPixelFormat {
        guard let list = codec.pointee.pix_fmts else { return AV_PIX_FMT_YUV420P }
        var i = 0
        while list[i] != AV_PIX_FMT_NONE {
            if list[i] == AV_PIX_FMT_YUV420P { return AV_PIX_FMT_YUV420P }
            i += 1
        }
        return avcodec_find_best_pix_fmt_of_list(list, AV_PIX_FMT_RGB24, 0, nil)
    }
}
