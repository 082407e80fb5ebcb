/// How often, and how patiently, a live input is reopened after it drops.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Consecutive reopen attempts before the stream ends; 0 never reconnects. The count starts
    /// again once a reopened input delivers a frame.
    public var attempts: Int
    /// Wait before the first attempt, in seconds.
    public var initialDelay: Double
    /// Cap on the wait between attempts, in seconds.
    public var maxDelay: Double
    /// Each wait is the previous one times this.
    public var multiplier: Double

    public init(attempts: Int = 5, initialDelay: Double = 0.5, maxDelay: Double = 8, multiplier: Double = 2) {
        self.attempts = max(0, attempts)
        self.initialDelay = max(0, initialDelay)
        self.maxDelay = max(0, maxDelay)
        self.multiplier = max(1, multiplier)
    }

    /// Five attempts waiting 0.5, 1, 2, 4, 8 s.
    public static let standard = ReconnectPolicy()
    /// Never reconnect: the first drop ends the stream.
    public static let never = ReconnectPolicy(attempts: 0)

    /// The wait before attempt `n` (1-based), in seconds.
    public func delay(beforeAttempt n: Int) -> Double {
        var d = initialDelay
        for _ in 1 ..< max(1, n) { d = min(maxDelay, d * multiplier) }
        return min(maxDelay, d)
    }
}

/// Whether an input is treated as live (end of stream = disconnect; reconnect; rebased timestamps
/// and wall-clock times).
public enum LiveMode: Sendable, Equatable {
    /// Live when the URL's scheme is a network protocol (http, https, tcp, udp, rtp, rtsp, rtmp,
    /// srt, hls, …) and the container reports no duration; a file on a web server with a known
    /// duration is read like a file.
    case auto
    /// Always live.
    case live
    /// Never live: the end of the stream is the end.
    case file
}

/// How ``VideoSource`` opens and reads an input.
public struct VideoSourceOptions: Sendable, Equatable {
    /// Limit on each blocking call while opening (`avformat_open_input`, `avformat_find_stream_info`), seconds.
    public var openTimeout: Double
    /// Limit on each blocking read (`av_read_frame`), seconds. Also passed to network protocols as
    /// `rw_timeout`, and to UDP as its own `timeout` (UDP ignores `rw_timeout`).
    public var readTimeout: Double
    /// Reopening policy for live inputs.
    public var reconnect: ReconnectPolicy
    /// Decoder threads; 0 lets libavcodec choose (one per core, frame and slice threading).
    public var decoderThreads: Int
    /// Live or file semantics.
    public var live: LiveMode
    /// Extra options for `avformat_open_input` (demuxer and protocol AVOptions), applied last.
    public var formatOptions: [String: String]
    /// Turn frames upright by the stream's display matrix (rotation by multiples of 90° and
    /// mirrors), as the ffmpeg command line does by default.
    public var autorotate = true

    public init(openTimeout: Double = 10, readTimeout: Double = 10, reconnect: ReconnectPolicy = .standard,
                decoderThreads: Int = 0, live: LiveMode = .auto, formatOptions: [String: String] = [:]) {
        self.openTimeout = openTimeout
        self.readTimeout = readTimeout
        self.reconnect = reconnect
        self.decoderThreads = max(0, decoderThreads)
        self.live = live
        self.formatOptions = formatOptions
    }
}

/// URL schemes of network protocols whose inputs may be live streams.
let networkSchemes: Set<String> = [
    "http", "https", "tcp", "udp", "rtp", "rtsp", "rtsps", "rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte",
    "rtmpts", "srt", "hls", "mmsh", "mmst", "tls", "rist", "unix",
]

/// The lower-cased scheme of `url` (`hls+http` gives `hls+http`), or nil for a plain path.
func urlScheme(_ url: String) -> String? {
    guard let range = url.range(of: "://") else { return nil }
    let scheme = url[..<range.lowerBound]
    guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." })
    else { return nil }
    return scheme.lowercased()
}

/// Whether `url` names a network protocol (any `+`-joined part of its scheme).
func isNetworkURL(_ url: String) -> Bool {
    guard let scheme = urlScheme(url) else { return false }
    return scheme.split(separator: "+").contains { networkSchemes.contains(String($0)) }
}
