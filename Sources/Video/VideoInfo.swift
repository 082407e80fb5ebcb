import CFFmpeg

/// A rational number as FFmpeg stores rates and time bases.
public struct Rational: Sendable, Equatable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init(_ numerator: Int, _ denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }

    init(_ q: AVRational) { self.init(Int(q.num), Int(q.den)) }

    /// The value as a double; nil when the denominator or numerator is zero (FFmpeg's "unknown").
    public var value: Double? {
        numerator == 0 || denominator == 0 ? nil : Double(numerator) / Double(denominator)
    }

    public var description: String { "\(numerator)/\(denominator)" }
}

/// What the container and the chosen video stream say about an input.
public struct VideoInfo: Sendable, Equatable {
    /// The URL or path as given.
    public let url: String
    /// Demuxer short name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    public let container: String
    /// Demuxer long name, e.g. `QuickTime / MOV`.
    public let containerLongName: String
    /// Index of the chosen video stream in the container.
    public let streamIndex: Int
    /// Codec short name, e.g. `h264`.
    public let codec: String
    /// Codec long name, e.g. `H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10`.
    public let codecLongName: String
    /// Decoder output pixel format, e.g. `yuv420p`.
    public let pixelFormat: String
    /// Stored (coded) picture size, as ffprobe reports `width` and `height`.
    public let width: Int
    public let height: Int
    /// How the stream's display matrix turns the stored picture (identity when it has none).
    public let orientation: DisplayOrientation
    /// Size of the frames ``VideoSource`` delivers: the displayed size when it turns frames
    /// upright (``VideoSourceOptions/autorotate``, the default), else the stored size.
    public let displayWidth: Int
    public let displayHeight: Int
    /// Whether delivered frames are turned upright by ``orientation``.
    public let autorotated: Bool
    /// Nominal frame rate (`r_frame_rate`: the lowest rate that represents every timestamp).
    public let nominalFrameRate: Rational
    /// Average frame rate (`avg_frame_rate`: frames over duration); differs from nominal for
    /// variable-frame-rate input.
    public let averageFrameRate: Rational
    /// The stream's time base: timestamps count ticks of this many seconds.
    public let timeBase: Rational
    /// Container duration in seconds; nil when unknown (live streams).
    public let duration: Double?
    /// First timestamp of the video stream in seconds, when known.
    public let startTime: Double?
    /// Frame count the container declares (`nb_frames`); the decodable count may differ (edit lists).
    public let declaredFrameCount: Int?
    /// Container bit rate in bits per second, when known.
    public let bitRate: Int?
    /// Whether the input is read as a live stream (see ``LiveMode``).
    public let isLive: Bool

    init(url: String, session: InputSession, isLive: Bool, autorotate: Bool = true) {
        let format = session.input.context.pointee
        let stream = session.stream.pointee
        let par = stream.codecpar.pointee
        let decoder = session.decoder.context.pointee
        self.url = url
        container = format.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        containerLongName = format.iformat.flatMap { $0.pointee.long_name.map { String(cString: $0) } } ?? container
        streamIndex = Int(session.streamIndex)
        codec = String(cString: avcodec_get_name(par.codec_id))
        codecLongName = avcodec_descriptor_get(par.codec_id)?.pointee.long_name.map { String(cString: $0) } ?? codec
        pixelFormat = av_get_pix_fmt_name(decoder.pix_fmt).map { String(cString: $0) } ?? "none"
        width = Int(par.width)
        height = Int(par.height)
        orientation = fervid_stream_display_matrix(session.stream).flatMap { DisplayOrientation(displayMatrix: $0) } ?? .identity
        autorotated = autorotate && !orientation.isIdentity
        (displayWidth, displayHeight) = autorotated ? orientation.displaySize(width: width, height: height) : (width, height)
        nominalFrameRate = Rational(stream.r_frame_rate)
        averageFrameRate = Rational(stream.avg_frame_rate)
        timeBase = Rational(stream.time_base)
        let nopts = fervid_nopts_value()
        if format.duration != nopts && format.duration > 0 {
            duration = Double(format.duration) / Double(AV_TIME_BASE)
        } else if stream.duration != nopts && stream.duration > 0 {
            duration = Double(stream.duration) * av_q2d(stream.time_base)
        } else {
            duration = nil
        }
        startTime = stream.start_time == nopts ? nil : Double(stream.start_time) * av_q2d(stream.time_base)
        declaredFrameCount = stream.nb_frames > 0 ? Int(stream.nb_frames) : nil
        bitRate = format.bit_rate > 0 ? Int(format.bit_rate) : nil
        self.isLive = isLive
    }
}

/// Counters a ``VideoSource`` keeps while it reads.
public struct DecodeStats: Sendable, Equatable {
    /// Frames delivered.
    public var framesDecoded = 0
    /// Packets of the video stream read from the input (all sessions).
    public var packetsRead = 0
    /// Packets (or decoder outputs) the decoder rejected; skipped.
    public var corruptPackets = 0
    /// Delivered frames the decoder flagged as corrupt (errors concealed).
    public var corruptFrames = 0
    /// Reads that failed with an error other than end of stream.
    public var readErrors = 0
    /// Blocking calls that ran past their deadline.
    public var timeouts = 0
    /// Times a live input dropped (end of stream, read error or timeout).
    public var disconnects = 0
    /// Reopen attempts made after drops.
    public var reconnectAttempts = 0
    /// Reopen attempts that succeeded.
    public var reconnects = 0
    /// The most recent error met, skipped or not.
    public var lastError: VideoError?

    public init() {}
}

/// A live input's connection changing (``VideoSource/onConnection``).
public enum ConnectionEvent: Sendable, Equatable {
    /// The input dropped: a read error or timeout (the error), or the end of the stream (nil).
    /// The frames the decoder holds are still delivered; reopen attempts follow per the policy.
    case dropped(VideoError?)
    /// Reopen attempt `attempt` of `of` begins (its delay first).
    case reconnecting(attempt: Int, of: Int)
    /// A reopen succeeded: frames follow.
    case reconnected
}

/// Why a ``VideoSource`` stopped delivering frames.
public enum EndReason: Sendable, Equatable {
    /// The input ended (a file, or a network input that is not live).
    case endOfInput
    /// A file stopped on a read error (a truncated or damaged file); every frame before it was delivered.
    case readError(VideoError)
    /// A live input dropped and every reconnect attempt failed.
    case disconnected
    /// ``VideoSource/interrupt()`` was called.
    case interrupted
}
