import CFFmpeg
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the `Video` module failed. Every FFmpeg call goes through ``check(_:_:)``, the one place a
/// negative return code becomes an error; "try again" and "end of stream" are not errors but
/// ``FFResult`` values.
public enum VideoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An FFmpeg call failed: the call's name, its code, and FFmpeg's own message (`av_strerror`).
    case ffmpeg(call: String, code: Int32, message: String)
    /// A blocking call ran past its deadline (the `call` named, after `seconds`).
    case timedOut(call: String, seconds: Double)
    /// ``VideoSource/interrupt()`` was called.
    case interrupted
    /// The input has no video stream.
    case noVideoStream
    /// libavcodec has no decoder for the stream's codec.
    case noDecoder(codec: String)
    /// Nothing at all could be decoded; `cause` is the last error seen.
    case nothingDecoded(cause: String)
    /// A file ended before all the packets its index lists: `present` of `indexed` video packets were read.
    case truncated(present: Int, indexed: Int)
    /// A crop rectangle that is empty or not inside the frame.
    case invalidCrop(PixelRect, frameWidth: Int, frameHeight: Int)
    /// A pixel format this module cannot crop or convert (hardware or bitstream formats).
    case unsupportedPixelFormat(String)
    /// An output size that is not positive, or a destination buffer of the wrong size.
    case invalidOutputSize(width: Int, height: Int)
    /// No muxer for the output's file name (its extension names no container this libavformat has).
    case unknownContainer(String)
    /// No video encoder this libavcodec has suits the container (`encoder` names the one asked for, if any).
    case noEncoder(container: String, encoder: String?)
    /// A picture handed to ``VideoEncoder`` that is not the size it was opened for (`bytes` given).
    case frameSizeMismatch(bytes: Int, expectedWidth: Int, expectedHeight: Int)
    /// ``VideoEncoder/write(rgb:pts:)`` after ``VideoEncoder/finish()``.
    case alreadyFinished
    /// Writing the output file `path` failed; `cause` says why.
    indirect case writing(path: String, cause: VideoError)

    public var description: String {
        switch self {
        case let .ffmpeg(call, code, message):
            if code == fervid_averror_protocol_not_found() {
                return "unsupported URL scheme: \(message) (\(call))"
            }
            return "\(message) (\(call))"
        case let .timedOut(call, seconds):
            return "timed out after \(formatSeconds(seconds)) s (\(call))"
        case .interrupted:
            return "interrupted"
        case .noVideoStream:
            return "no video stream"
        case let .noDecoder(codec):
            return "no decoder for codec \(codec)"
        case let .nothingDecoded(cause):
            return "no frame could be decoded: \(cause)"
        case let .truncated(present, indexed):
            return "the input ends early (truncated?): \(present) of the \(indexed) video packets its index lists are present"
        case let .invalidCrop(rect, width, height):
            return "crop \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is not inside the \(width)x\(height) frame"
        case let .unsupportedPixelFormat(name):
            return "unsupported pixel format \(name)"
        case let .invalidOutputSize(width, height):
            return "invalid output size \(width)x\(height)"
        case let .unknownContainer(name):
            return "no container format for the file name \(name) (use an extension such as .mp4, .mkv, .mov)"
        case let .noEncoder(container, encoder):
            if let encoder { return "no video encoder \(encoder) for the \(container) container in this FFmpeg" }
            return "no video encoder for the \(container) container in this FFmpeg"
        case let .frameSizeMismatch(bytes, width, height):
            return "a picture of \(bytes) bytes is not \(width)x\(height) RGB24 (\(width * height * 3) bytes)"
        case .alreadyFinished:
            return "the output was already finished"
        case let .writing(path, cause):
            return "cannot write \(path): \(cause)"
        }
    }

    /// FFmpeg's error code when this is an FFmpeg error.
    public var ffmpegCode: Int32? {
        if case let .ffmpeg(_, code, _) = self { return code }
        if case let .writing(_, cause) = self { return cause.ffmpegCode }
        return nil
    }
}

/// The ordinary, non-error outcomes of a call that may have nothing for us yet.
enum FFResult: Equatable {
    case ok
    /// `AVERROR(EAGAIN)`: feed more input or drain output first.
    case again
    /// `AVERROR_EOF`: the end of the stream (or of the decoder's output).
    case endOfStream
}

/// FFmpeg's message for an error code (`av_strerror`, into our own buffer: `av_err2str` is a macro).
func ffmpegMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 {
        return "unknown error \(code)"
    }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

let averrorAgain: Int32 = fervid_averror(EAGAIN)
let averrorEOF: Int32 = fervid_averror_eof()
let averrorExit: Int32 = fervid_averror_exit()
let averrorTimedOut: Int32 = fervid_averror(ETIMEDOUT)

/// The choke point: every FFmpeg return code passes through here.
/// EAGAIN and EOF are ordinary results; any other negative code throws ``VideoError/ffmpeg(call:code:message:)``.
@discardableResult
func check(_ code: Int32, _ call: @autoclosure () -> String) throws(VideoError) -> FFResult {
    if code >= 0 { return .ok }
    if code == averrorAgain { return .again }
    if code == averrorEOF { return .endOfStream }
    throw .ffmpeg(call: call(), code: code, message: ffmpegMessage(code))
}

func formatSeconds(_ s: Double) -> String {
    let tenths = (s * 10).rounded()
    return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
}
