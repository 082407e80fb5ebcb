import CFFmpeg

/// What became of the audio a ``VideoEncoder`` was asked to copy.
public enum AudioCopyStatus: Sendable, Equatable, CustomStringConvertible {
    /// No audio input was given: the output is video only.
    case notRequested
    /// The input's best audio stream (`codec`, e.g. `aac`) is copied unchanged.
    case copied(codec: String)
    /// The input has no audio stream: the output is video only.
    case noAudioStream
    /// The output container cannot hold the input's audio codec (no re-encoding is done): video only.
    case unsupportedByContainer(codec: String, container: String)
    /// The input is a network stream: no second connection is opened for its audio; video only.
    case liveInput
    /// The input is a pipe (`-`, `pipe:N`), read once by the video decoder: opening it again for
    /// its audio would take bytes from the video; video only.
    case pipeInput
    /// The audio input could not be opened (`cause`): video only.
    case unreadable(cause: String)

    /// Whether the output carries an audio stream.
    public var isCopied: Bool {
        if case .copied = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .notRequested: "not requested"
        case let .copied(codec): "copied (\(codec))"
        case .noAudioStream: "the input has no audio stream"
        case let .unsupportedByContainer(codec, container): "\(codec) audio cannot be stored in \(container); not copied"
        case .liveInput: "live input; not copied"
        case .pipeInput: "the input is a pipe, read once for its video; not copied"
        case let .unreadable(cause): "not copied: \(cause)"
        }
    }
}

/// Copies one input's best audio stream into an output, packet for packet (stream copy: no
/// decoding), up to a time the video decides. The input is opened a second time with its own
/// demuxer, so the video source's reading is untouched.
final class AudioPassthrough {
    private let input: FormatInput
    // The callback context the input's interrupt callback points at; lives as long as `input`.
    private let interrupt: VideoInterrupt
    private let inStream: UnsafeMutablePointer<AVStream>
    private let inIndex: Int32
    private let outStream: UnsafeMutablePointer<AVStream>
    private let packet: PacketBuffer
    /// `packet` holds a read-ahead packet that is not written yet.
    private var pending = false
    private var exhausted = false
    let codecName: String

    private init(input: FormatInput, interrupt: VideoInterrupt, inIndex: Int32,
                 outStream: UnsafeMutablePointer<AVStream>) throws(VideoError) {
        self.input = input
        self.interrupt = interrupt
        self.inIndex = inIndex
        inStream = input.context.pointee.streams[Int(inIndex)]!
        self.outStream = outStream
        packet = try PacketBuffer()
        codecName = String(cString: avcodec_get_name(inStream.pointee.codecpar.pointee.codec_id))
    }

    /// Opens `url`, finds its best audio stream and, when `output` can hold its codec, adds a
    /// stream for it to `output` (before the header is written). Failures of the input are a
    /// status, not an error: the video is written either way. Failures of the output throw.
    static func attach(url: String, to output: OutputContainer) throws(VideoError) -> (AudioPassthrough?, AudioCopyStatus) {
        if isNetworkURL(url) { return (nil, .liveInput) }
        if isPipeInput(url) { return (nil, .pipeInput) }
        let interrupt = VideoInterrupt()
        let input: FormatInput
        do {
            input = try FormatInput(url: url, options: VideoSourceOptions(live: .file), interrupt: interrupt)
        } catch {
            return (nil, .unreadable(cause: "\(url): \(error)"))
        }
        let format = input.context
        let best = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        guard best >= 0 else { return (nil, .noAudioStream) }
        let par = format.pointee.streams[Int(best)]!.pointee.codecpar!
        let codec = String(cString: avcodec_get_name(par.pointee.codec_id))
        guard output.accepts(par.pointee.codec_id) else {
            return (nil, .unsupportedByContainer(codec: codec, container: output.formatName))
        }
        for i in 0 ..< Int(format.pointee.nb_streams) where i != Int(best) {
            format.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        guard let stream = avformat_new_stream(output.context, nil) else { throw outOfMemory("avformat_new_stream") }
        try check(avcodec_parameters_copy(stream.pointee.codecpar, par), "avcodec_parameters_copy")
        // The input container's codec tag may mean nothing in the output's; let the muxer choose.
        stream.pointee.codecpar.pointee.codec_tag = 0
        stream.pointee.time_base = format.pointee.streams[Int(best)]!.pointee.time_base
        let passthrough = try AudioPassthrough(input: input, interrupt: interrupt, inIndex: best, outStream: stream)
        return (passthrough, .copied(codec: codec))
    }

    /// Writes, interleaved, the audio packets whose decode time is at most `seconds`; with
    /// `final`, every packet that starts before `seconds` (the end of the last video frame) and
    /// then nothing more. A read error ends the audio quietly: the video matters more.
    func write(upTo seconds: Double, final: Bool = false, into output: OutputContainer) throws(VideoError) {
        let p = packet.packet
        let inBase = inStream.pointee.time_base
        while !exhausted {
            if !pending {
                let read = av_read_frame(input.context, p)
                if read < 0 {
                    exhausted = true
                    break
                }
                if p.pointee.stream_index != inIndex {
                    av_packet_unref(p)
                    continue
                }
                pending = true
            }
            let nopts = fervid_nopts_value()
            let start = p.pointee.pts != nopts ? p.pointee.pts : p.pointee.dts
            let decode = p.pointee.dts != nopts ? p.pointee.dts : start
            if start != nopts, Double(start) * av_q2d(inBase) >= seconds, final {
                exhausted = true
                break
            }
            if decode != nopts, Double(decode) * av_q2d(inBase) > seconds { break }
            av_packet_rescale_ts(p, inBase, outStream.pointee.time_base)
            p.pointee.stream_index = outStream.pointee.index
            p.pointee.pos = -1
            pending = false
            // Takes the packet's reference (and blanks it) whether it succeeds or not.
            try check(av_interleaved_write_frame(output.context, p), "av_interleaved_write_frame (audio)")
        }
        if exhausted, pending {
            av_packet_unref(p)
            pending = false
        }
    }
}
