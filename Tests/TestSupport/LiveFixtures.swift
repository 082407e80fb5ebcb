import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Live sources on 127.0.0.1 for the back-pressure tests: MPEG-TS segments cut from a sample by
/// the ffmpeg CLI, the ffmpeg CLI writing a growing HLS playlist, and `tools/live_server.py`
/// (plain files, or whole segments in bursts). Every process is a ``ServerProcess``: killed by
/// pid and reaped.
public enum LiveFixtures {
    /// x264 settings that put a keyframe every 2 s (so segments cut there).
    static func encode(fps: Double?) -> [String] {
        var args = ["-an"]
        if let fps { args += ["-vf", "fps=\(fps)"] }
        return args + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                       "-force_key_frames", "expr:gte(t,n_forced*2)"]
    }

    /// A fresh temporary directory.
    public static func directory() throws -> String {
        let path = temporaryPath("-live")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The first `seconds` of `sample` (re-encoded, at `fps` when given) as `whole.mp4` and as
    /// 2-s MPEG-TS segments `seg000.ts`, `seg001.ts`, … in `directory`. Returns the number of
    /// frames, by ffprobe.
    @discardableResult
    public static func segments(of sample: String, seconds: Double, fps: Double?, into directory: String) throws -> Int {
        let whole = directory + "/whole.mp4"
        let made = try run("ffmpeg", ["-nostdin", "-v", "error", "-y", "-i", sample, "-t", "\(seconds)"]
            + encode(fps: fps) + [whole])
        guard made.status == 0 else { throw FixtureError("ffmpeg: \(made.stderr)") }
        let cut = try run("ffmpeg", ["-nostdin", "-v", "error", "-y", "-i", whole, "-c", "copy", "-f", "segment",
                                     "-segment_time", "2", "-segment_format", "mpegts", directory + "/seg%03d.ts"])
        guard cut.status == 0 else { throw FixtureError("ffmpeg segment: \(cut.stderr)") }
        return try frameCount(whole)
    }

    /// Frames of a file's video stream, decoded by ffprobe.
    public static func frameCount(_ path: String) throws -> Int {
        let probe = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                        "stream=nb_read_frames", "-of", "csv=p=0", path])
        guard let n = Int(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError("ffprobe cannot count the frames of \(path): \(probe.stderr)")
        }
        return n
    }

    /// `tools/live_server.py PORT DIRECTORY [--burst SECONDS]`, once it accepts connections.
    public static func httpServer(port: UInt16, directory: String, burst: Double? = nil) throws -> ServerProcess {
        let script = packageRoot().appendingPathComponent("tools/live_server.py").path
        var args = ["python3", script, "\(port)", directory]
        if let burst { args += ["--burst", "\(burst)"] }
        let server = try ServerProcess(args)
        guard waitForPort(port, seconds: 30) else {
            server.stop()
            throw FixtureError("tools/live_server.py did not listen on port \(port) within 30 s")
        }
        return server
    }

    /// The ffmpeg CLI reading `sample` in real time (`-re`) and writing an HLS event playlist
    /// `live.m3u8` with 2-s segments into `directory` (segments and playlist renamed into place
    /// when complete).
    public static func hlsWriter(sample: String, seconds: Double, fps: Double?, directory: String) throws -> ServerProcess {
        try ServerProcess(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", sample, "-t", "\(seconds)"] + encode(fps: fps)
            + ["-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_playlist_type", "event",
               "-hls_flags", "temp_file", "-hls_segment_filename", directory + "/live%03d.ts", directory + "/live.m3u8"])
    }

    /// The ffmpeg CLI sending `file` in real time as `format` to `url` (`-listen 1` servers for
    /// http and rtmp, a plain sender for udp).
    public static func sender(file: String, format: String, url: String, listen: Bool) throws -> ServerProcess {
        var args = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", file, "-c", "copy", "-f", format]
        if listen { args += ["-listen", "1"] }
        return try ServerProcess(args + [url])
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds within `seconds`.
    public static func waitForPort(_ port: UInt16, seconds: Double) -> Bool {
        let deadline = now() + seconds
        while now() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if rc == 0 { return true }
            usleep(100_000)
        }
        return false
    }

    /// Whether something listens on TCP port `port` (or, with `udp`, has bound UDP port `port`) on
    /// this machine within `seconds`, read from /proc/net: no connection is made, so a
    /// one-client server (`-listen 1`) is not used up.
    public static func waitForSocket(_ port: UInt16, udp: Bool = false, seconds: Double) -> Bool {
        let deadline = now() + seconds
        let hexPort = String(format: ":%04X", port)
        while now() < deadline {
            for table in udp ? ["udp", "udp6"] : ["tcp", "tcp6"] {
                guard let text = try? String(contentsOfFile: "/proc/net/\(table)", encoding: .utf8) else { continue }
                for line in text.split(separator: "\n").dropFirst() {
                    let fields = line.split(separator: " ")
                    guard fields.count > 3, fields[1].hasSuffix(hexPort) else { continue }
                    if udp || fields[3] == "0A" { return true }  // 0A: LISTEN
                }
            }
            usleep(100_000)
        }
        return false
    }

    /// Whether `path` exists within `seconds`.
    public static func waitForFile(_ path: String, seconds: Double) -> Bool {
        let deadline = now() + seconds
        while now() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(100_000)
        }
        return false
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
