import Foundation
import Timeline
import Video

/// `--annotate`: every analyzed frame, with each face's box, id, smoothed label and class bars,
/// encoded with the frames' own timestamps (and the source's audio when it has some).
///
/// Frames arrive (``add(_:)``) before their smoothed rows (``add(rows:)``) when the smoother
/// looks ahead, so frames wait here until a row of a later frame (or the end) shows that their
/// rows are complete: at most the smoother's lookahead of frames is held.
public final class AnnotatedVideoWriter {
    public let encoder: VideoEncoder
    private let painter: FramePainter
    private let scaler = FrameScaler(algorithm: .bilinear)
    private var frames: [DecodedFrame] = []  // oldest first, waiting for their rows
    private var rows: [Int: [TimelineRow]] = [:]
    private var rgb: [UInt8]
    /// Rows have arrived for every frame before this index.
    private var completeBefore = 0
    /// Frames encoded so far.
    public private(set) var framesWritten = 0

    /// Opens `path` for frames of `source` (its size, frame rate and time base; audio copied
    /// from a file source unless `copyAudio` is false).
    public init(path: String, source: VideoInfo, copyAudio: Bool) throws(VideoError) {
        // The tag by which a later run recognises this file as fervid's own (docs/reliability.md).
        encoder = try VideoEncoder(path: path, matching: source, copyAudio: copyAudio,
                                   options: VideoEncoderOptions(metadata: ["comment": OutputSafety.annotatedVideoComment]))
        painter = FramePainter(frameHeight: source.displayHeight)
        rgb = [UInt8](repeating: 0, count: source.displayWidth * source.displayHeight * 3)
    }

    /// An analyzed frame, in frame order.
    public func add(_ frame: DecodedFrame) throws {
        frames.append(frame)
        try drain()
    }

    /// Smoothed rows as they become final, in frame order.
    public func add(rows newRows: [TimelineRow]) throws {
        for row in newRows {
            rows[row.frame, default: []].append(row)
            completeBefore = max(completeBefore, row.frame)
        }
        try drain()
    }

    /// Writes every frame still held and finalises the file. A file that received no frame (the
    /// run stopped or failed before its first) holds no picture: it is removed, not left behind
    /// as a video that does not play (docs/annotate.md).
    public func finish() throws {
        completeBefore = Int.max
        defer { if framesWritten == 0 { Self.removeIfRegular(encoder.path) } }
        try drain()
        try encoder.finish()
    }

    /// Removes `path` when it is a regular file itself (never a device such as `/dev/null`, a
    /// FIFO, or a symbolic link).
    static func removeIfRegular(_ path: String) {
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { unlink(path) }
    }

    private func drain() throws {
        var written = 0
        for frame in frames {
            guard frame.index < completeBefore else { break }
            try write(frame, rows: rows.removeValue(forKey: frame.index) ?? [])
            written += 1
        }
        frames.removeFirst(written)
    }

    private func write(_ frame: DecodedFrame, rows: [TimelineRow]) throws {
        let (w, h) = (frame.width, frame.height)
        if rgb.count != w * h * 3 { rgb = [UInt8](repeating: 0, count: w * h * 3) }
        try rgb.withUnsafeMutableBytes { buffer in
            _ = try scaler.convert(frame, to: .rgb24, width: w, height: h, into: buffer)
        }
        rgb.withUnsafeMutableBufferPointer { pixels in
            painter.paint(rows: rows, in: RGBCanvas(pixels: pixels, width: w, height: h, stride: w * 3))
        }
        try rgb.withUnsafeBytes { try encoder.write(rgb: $0, pts: frame.pts) }
        framesWritten += 1
    }
}
