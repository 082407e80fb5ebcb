import CFFmpeg
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FFmpeg's own logging (process-wide). The `Video` module silences it on first use, since
/// corrupt input would otherwise print a line per damaged macroblock; errors reach callers as
/// ``VideoError`` and counts in ``DecodeStats``. Set `FERVID_FFMPEG_LOG` to `error`, `warning`,
/// `info`, `verbose` or `debug` to see it again.
public enum FFmpegLog {
    /// FFmpeg log levels (`AV_LOG_*`).
    public enum Level: Int32, Sendable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48, trace = 56
    }

    /// Sets libav*'s log level for the whole process.
    public static func setLevel(_ level: Level) {
        av_log_set_level(level.rawValue)
    }

    private static let configured: Bool = {
        let name = getenv("FERVID_FFMPEG_LOG").map { String(cString: $0).lowercased() } ?? "quiet"
        let level: Level = switch name {
        case "panic": .panic
        case "fatal": .fatal
        case "error": .error
        case "warning": .warning
        case "info": .info
        case "verbose": .verbose
        case "debug": .debug
        case "trace": .trace
        default: .quiet
        }
        setLevel(level)
        return true
    }()

    /// Applies the default (or `FERVID_FFMPEG_LOG`) once per process.
    static func configureOnce() { _ = configured }
}
