import CFFmpeg
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes the best video stream of a file or URL, frame by frame.
///
/// ```swift
/// let source = try VideoSource(url: "talk.mp4")
/// let scaler = FrameScaler()
/// while let frame = try source.nextFrame() {
///     let rgb = try scaler.convert(frame, to: .rgb24, width: 224, height: 224)
///     print(frame.index, frame.pts, rgb.bytes.count)
/// }
/// print(source.endReason!, source.stats)
/// ```
///
/// Frames come in decoder output order with pts from the best-effort timestamp (correct for
/// variable frame rate). Packets the decoder rejects are skipped and counted; the stream fails
/// only if nothing at all decodes.
///
/// Live inputs (``LiveMode``): an end of stream, read error or timeout is a disconnect; the input
/// is reopened per ``ReconnectPolicy`` and then ends cleanly with ``EndReason/disconnected``.
/// Their pts start at 0 and stay strictly increasing across reconnects (a reopened stream's
/// clock is rebased to continue after the last frame, by the wall-clock time the outage took),
/// and frames carry a UTC wall-clock time.
///
/// Threading: call everything but ``interrupt()`` from one thread at a time; ``interrupt()`` is
/// for any other thread and stops a blocked open or read within about 100 ms.
public final class VideoSource: @unchecked Sendable {
    /// The input as given.
    public let url: String
    public let options: VideoSourceOptions
    /// What the input said when it was first opened.
    public let info: VideoInfo
    /// Counters so far.
    public private(set) var stats = DecodeStats()
    /// Set once ``nextFrame()`` has returned nil (or thrown).
    public private(set) var endReason: EndReason?

    /// Told of a live input's connection as it changes, on the reading thread: a service shows
    /// `reconnecting` from these rather than guessing from silence. Set it before reading starts.
    public var onConnection: (@Sendable (ConnectionEvent) -> Void)?

    /// Whether the input is read as a live stream.
    public var isLive: Bool { info.isLive }

    /// Frames this source delivered that are still alive somewhere (each holds a decoder buffer).
    /// Readable from any thread; a consumer that keeps memory flat keeps this small.
    public var framesAlive: Int { lifeCounter.alive.load(ordering: .relaxed) }
    private let lifeCounter = FrameLifeCounter()

    private enum Phase {
        case reading
        /// The decoder was sent its end-of-stream; deliver what it holds, then act on `cause`.
        case draining(cause: EndReason)
        case ended
    }

    private let interruptState: VideoInterrupt
    private var session: InputSession?
    private let packet: PacketBuffer
    private var packetPending = false
    private var phase = Phase.reading
    private var spareFrame: UnsafeMutablePointer<AVFrame>?
    /// Turns frames upright when the stream has a display matrix (``VideoInfo/orientation``).
    private let orienter: FrameOrienter?
    private var failedReconnects = 0
    private var againSince: Int64?

    // Timestamp bookkeeping (seconds).
    private let frameDuration: Double
    private var lastRawPts: Double?
    private var lastPts: Double?
    private var liveOffset: Double?
    private var rebaseNextFrame = false
    private var lastDeliveryNanos: Int64 = 0

    /// Opens `url` (a path or any URL this libavformat reads) and its best video stream's decoder.
    /// Fails at once when the input cannot be opened (no reconnect attempts on the first open).
    /// - Parameter interrupt: the stop signal; pass one made beforehand to stop a blocked open
    ///   from another thread (it then throws ``VideoError/interrupted``).
    public init(url: String, options: VideoSourceOptions = VideoSourceOptions(),
                interrupt: VideoInterrupt = VideoInterrupt()) throws(VideoError) {
        FFmpegLog.configureOnce()
        interruptState = interrupt
        self.url = url
        self.options = options
        packet = try PacketBuffer()
        let first = try InputSession(url: url, options: options, interrupt: interruptState)
        session = first
        let durationKnown = first.input.context.pointee.duration != fervid_nopts_value()
            && first.input.context.pointee.duration > 0
        let live = switch options.live {
        case .live: true
        case .file: false
        case .auto: isNetworkURL(url) && !durationKnown
        }
        info = VideoInfo(url: url, session: first, isLive: live, autorotate: options.autorotate)
        orienter = info.autorotated ? FrameOrienter(info.orientation) : nil
        frameDuration = info.averageFrameRate.value.map { 1 / $0 }
            ?? info.nominalFrameRate.value.map { 1 / $0 } ?? 1.0 / 25
    }

    deinit {
        var f = spareFrame
        av_frame_free(&f)
    }

    /// Stops the source from any thread: a blocked open or read returns within about 100 ms,
    /// back-off waits end, and ``nextFrame()`` returns nil with ``EndReason/interrupted``.
    public func interrupt() {
        interruptState.interrupt()
    }

    /// The next decoded frame, or nil when the input has ended (see ``endReason``).
    /// Throws only when the input ends without a single decodable frame.
    public func nextFrame() throws(VideoError) -> DecodedFrame? {
        while true {
            if case .ended = phase { return nil }
            if interruptState.isInterrupted {
                try finish(.interrupted)
                return nil
            }
            switch try step() {
            case let .frame(frame):
                return frame
            case .continue:
                continue
            case .drained:
                // Outside step(), so that no reference keeps the old session (its socket, its
                // UDP port) open while reconnecting.
                try decoderDrained()
            }
        }
    }

    private enum Step {
        case frame(DecodedFrame)
        case `continue`
        case drained
    }

    /// One receive from the decoder, feeding it a packet when it wants one.
    private func step() throws(VideoError) -> Step {
        guard let session else { return .drained }
        if spareFrame == nil {
            spareFrame = av_frame_alloc()
            if spareFrame == nil { throw outOfMemory("av_frame_alloc") }
        }
        let received = avcodec_receive_frame(session.decoder.context, spareFrame)
        let result: FFResult
        do {
            result = try check(received, "avcodec_receive_frame")
        } catch {
            // A damaged packet surfaced at the output (frame threading reports it here).
            stats.corruptPackets += 1
            stats.lastError = error
            return .continue
        }
        switch result {
        case .ok:
            var frame: UnsafeMutablePointer<AVFrame>? = spareFrame!
            spareFrame = nil
            if let orienter {
                // The decoder's frame goes back to its pool at once; the turned copy is delivered.
                defer { av_frame_free(&frame) }
                return .frame(deliver(try orienter.turn(frame!), session: session))
            }
            return .frame(deliver(frame!, session: session))
        case .again:
            // A decoder must not ask for input after a flush; treat that as drained.
            if case .draining = phase { return .drained }
            feedDecoder(session)
            return .continue
        case .endOfStream:
            return .drained
        }
    }

    // MARK: - Reading

    /// Reads one packet of the video stream and sends it to the decoder; on the end of the
    /// input, a read error or a timeout, starts draining the decoder.
    private func feedDecoder(_ session: InputSession) {
        let p = packet.packet
        if !packetPending {
            let read: FFResult
            do {
                read = try blockingCall("av_read_frame", timeout: options.readTimeout,
                                        protocolTimeout: protocolTimeout(url: url, options: options),
                                        interrupt: interruptState) {
                    let code = av_read_frame(session.input.context, p)
                    // Demuxers report a failed read of their I/O context (a timeout, a reset
                    // connection) as end of stream; the context keeps the real error.
                    if code == averrorEOF, let io = session.input.context.pointee.pb,
                       io.pointee.error < 0, io.pointee.error != averrorEOF {
                        return io.pointee.error
                    }
                    return code
                }
            } catch .interrupted {
                return  // nextFrame sees the flag
            } catch {
                stats.lastError = error
                if case .timedOut = error { stats.timeouts += 1 } else { stats.readErrors += 1 }
                if info.isLive {
                    stats.disconnects += 1
                    onConnection?(.dropped(error))
                    beginDraining(session, cause: .disconnected)
                } else {
                    beginDraining(session, cause: .readError(error))
                }
                return
            }
            switch read {
            case .ok:
                againSince = nil
            case .again:
                // The demuxer has nothing yet. Retry, but not past the read timeout.
                let now = monotonicNanos()
                let since = againSince ?? now
                againSince = since
                if Double(now - since) / 1e9 >= options.readTimeout {
                    againSince = nil
                    let error = VideoError.timedOut(call: "av_read_frame", seconds: options.readTimeout)
                    stats.lastError = error
                    stats.timeouts += 1
                    if info.isLive {
                        stats.disconnects += 1
                        onConnection?(.dropped(error))
                    }
                    beginDraining(session, cause: info.isLive ? .disconnected : .readError(error))
                } else {
                    usleep(1000)
                }
                return
            case .endOfStream:
                if info.isLive {
                    stats.disconnects += 1
                    onConnection?(.dropped(nil))
                    beginDraining(session, cause: .disconnected)
                } else {
                    beginDraining(session, cause: endOfFile(session))
                }
                return
            }
            if p.pointee.stream_index != session.streamIndex {
                av_packet_unref(p)
                return
            }
            stats.packetsRead += 1
            packetPending = true
        }
        let sent = avcodec_send_packet(session.decoder.context, p)
        do {
            if try check(sent, "avcodec_send_packet") == .again { return }  // receive first, then resend
        } catch {
            stats.corruptPackets += 1
            stats.lastError = error
        }
        packetPending = false
        av_packet_unref(p)
    }

    /// How a file's end of stream reads: a demuxer with a full index (mp4, mov) says how many
    /// packets there should have been; fewer means the file was cut short (the mov demuxer
    /// reports a cut file as a plain end of stream).
    private func endOfFile(_ session: InputSession) -> EndReason {
        let indexed = Int(avformat_index_get_entries_count(session.stream))
        if indexed > stats.packetsRead {
            let error = VideoError.truncated(present: stats.packetsRead, indexed: indexed)
            stats.readErrors += 1
            stats.lastError = error
            return .readError(error)
        }
        return .endOfInput
    }

    private func beginDraining(_ session: InputSession, cause: EndReason) {
        if packetPending {
            av_packet_unref(packet.packet)
            packetPending = false
        }
        _ = try? check(avcodec_send_packet(session.decoder.context, nil), "avcodec_send_packet")
        phase = .draining(cause: cause)
    }

    /// The decoder has given its last frame: end, or for a dropped live input, reconnect.
    private func decoderDrained() throws(VideoError) {
        guard case let .draining(cause) = phase else {
            try finish(session == nil ? .disconnected : .endOfInput)
            return
        }
        if cause == .disconnected, reconnect() {
            phase = .reading
            return
        }
        try finish(interruptState.isInterrupted ? .interrupted : cause)
    }

    /// Reopens a dropped live input per the policy; true once a new session is open.
    private func reconnect() -> Bool {
        session = nil  // close the old connection first (frees its socket or UDP port)
        let policy = options.reconnect
        while failedReconnects < policy.attempts {
            failedReconnects += 1
            stats.reconnectAttempts += 1
            onConnection?(.reconnecting(attempt: failedReconnects, of: policy.attempts))
            guard interruptState.sleep(seconds: policy.delay(beforeAttempt: failedReconnects)) else { return false }
            do {
                session = try InputSession(url: url, options: options, interrupt: interruptState)
                stats.reconnects += 1
                rebaseNextFrame = true
                onConnection?(.reconnected)
                return true
            } catch .interrupted {
                return false
            } catch {
                stats.lastError = error
                if case .timedOut = error { stats.timeouts += 1 }
            }
        }
        return false
    }

    private func finish(_ reason: EndReason) throws(VideoError) {
        if packetPending {
            av_packet_unref(packet.packet)
            packetPending = false
        }
        phase = .ended
        endReason = reason
        session = nil
        if stats.framesDecoded == 0 && reason != .interrupted {
            let cause: String
            if case let .readError(error) = reason {
                cause = error.description
            } else if let last = stats.lastError {
                cause = last.description
            } else {
                cause = "the input holds no decodable video frame"
            }
            if isPipeInput(url), info.container.hasPrefix("mov") {
                // The usual MP4 keeps its index (moov) after the data, which a pipe cannot seek to.
                throw .nothingDecoded(cause: cause + "; an MP4/MOV read from a pipe needs its index first"
                    + " (remux with ffmpeg -movflags +faststart) or pipe MPEG-TS or Matroska instead (ffmpeg ... -f mpegts -)")
            }
            throw .nothingDecoded(cause: cause)
        }
    }

    // MARK: - Delivery

    private func deliver(_ frame: UnsafeMutablePointer<AVFrame>, session: InputSession) -> DecodedFrame {
        let best = frame.pointee.best_effort_timestamp
        let ticks: Int64? = best == fervid_nopts_value() ? nil : best
        let timeBase = av_q2d(session.stream.pointee.time_base)
        let raw = ticks.map { Double($0) * timeBase } ?? ((lastRawPts ?? -frameDuration) + frameDuration)
        lastRawPts = raw

        var pts = raw
        let now = monotonicNanos()
        if info.isLive {
            // Live clocks start at 0; a reopened stream continues after the last frame by the
            // outage's wall-clock length (at least one frame), and pts never step back.
            if liveOffset == nil {
                liveOffset = -raw
            } else if rebaseNextFrame, let lastPts {
                let gap = max(frameDuration, Double(now - lastDeliveryNanos) / 1e9)
                liveOffset = lastPts + gap - raw
            }
            pts = raw + liveOffset!
            if let lastPts, pts <= lastPts {
                liveOffset! += lastPts + frameDuration - pts
                pts = lastPts + frameDuration
            }
            rebaseNextFrame = false
            failedReconnects = 0
        }
        lastPts = pts
        lastDeliveryNanos = now

        let decoded = DecodedFrame(taking: frame, index: stats.framesDecoded, pts: pts, timestamp: ticks,
                                   wallclock: info.isLive ? Date() : nil, counter: lifeCounter)
        stats.framesDecoded += 1
        if decoded.isCorrupt { stats.corruptFrames += 1 }
        return decoded
    }
}
