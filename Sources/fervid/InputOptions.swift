import ArgumentParser
import Video

/// How to open and read an input: shared by every subcommand that reads video.
struct InputOptions: ParsableArguments {
    enum Live: String, ExpressibleByArgument, CaseIterable {
        case auto, live, file
    }

    @Option(name: .customLong("live"), help: "Treat the input as live (end = disconnect, reconnect) or as a file; auto: network URLs without a duration are live.")
    var live: Live = .auto

    @Option(name: .customLong("open-timeout"), help: "Seconds each step of opening the input may block.")
    var openTimeout: Double = 10

    @Option(name: .customLong("read-timeout"), help: "Seconds one read may block before a live input counts as dropped.")
    var readTimeout: Double = 10

    @Option(name: .customLong("reconnect-attempts"), help: "Reopen attempts after a live input drops (0: none).")
    var reconnectAttempts: Int = 5

    @Option(name: .customLong("reconnect-delay"), help: "Seconds before the first reopen attempt; doubles each attempt, up to 8 s.")
    var reconnectDelay: Double = 0.5

    @Option(name: .customLong("decoder-threads"), help: "Decoder threads (0: one per core).")
    var decoderThreads: Int = 0

    func validate() throws {
        guard openTimeout > 0, openTimeout.isFinite else { throw ValidationError("--open-timeout must be positive") }
        guard readTimeout > 0, readTimeout.isFinite else { throw ValidationError("--read-timeout must be positive") }
        guard reconnectAttempts >= 0 else { throw ValidationError("--reconnect-attempts must not be negative") }
        guard reconnectDelay >= 0, reconnectDelay.isFinite else { throw ValidationError("--reconnect-delay must not be negative") }
        guard (0 ... 256).contains(decoderThreads) else {
            throw ValidationError("--decoder-threads must be a whole number from 0 (one per core) to 256")
        }
    }

    var videoSourceOptions: VideoSourceOptions {
        let mode: LiveMode = switch live {
        case .auto: .auto
        case .live: .live
        case .file: .file
        }
        return VideoSourceOptions(
            openTimeout: openTimeout, readTimeout: readTimeout,
            reconnect: ReconnectPolicy(attempts: reconnectAttempts, initialDelay: reconnectDelay,
                                       maxDelay: max(8, reconnectDelay)),
            decoderThreads: decoderThreads,
            live: mode)
    }
}
