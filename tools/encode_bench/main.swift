// Encode throughput of `VideoEncoder` (docs/video.md, "Encoding"): decodes INPUT with
// `VideoSource`, converts every frame to RGB24 at source size, and re-encodes it with the
// default settings (libx264 veryfast, crf 20) and the input's audio. Prints the encode rate
// (time inside `write` and `finish` only) and the whole loop's rate. Built with `swiftc -O`
// together with Sources/Video (see tools/encode_bench/run.sh), so it needs no package target.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: encode-bench INPUT OUTPUT [threads]\n".utf8))
    exit(2)
}
let threads = arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0
do {
    let start = Date()
    let source = try VideoSource(url: arguments[1])
    let encoder = try VideoEncoder(path: arguments[2], matching: source.info,
                                   options: VideoEncoderOptions(threads: threads))
    let scaler = FrameScaler()
    var rgb = [UInt8](repeating: 0, count: source.info.width * source.info.height * 3)
    var encodeSeconds = 0.0
    while let frame = try source.nextFrame() {
        try rgb.withUnsafeMutableBytes { buffer in
            _ = try scaler.convert(frame, to: .rgb24, width: frame.width, height: frame.height, into: buffer)
        }
        let t = Date()
        try rgb.withUnsafeBytes { try encoder.write(rgb: $0, pts: frame.pts) }
        encodeSeconds += Date().timeIntervalSince(t)
    }
    let t = Date()
    try encoder.finish()
    encodeSeconds += Date().timeIntervalSince(t)
    let total = Date().timeIntervalSince(start)
    let n = Double(encoder.framesWritten)
    print("\(arguments[1]): \(encoder.framesWritten) frames \(encoder.width)x\(encoder.height), \(encoder.encoderName), audio \(encoder.audio), threads \(threads == 0 ? "auto" : String(threads))")
    print(String(format: "encode %.0f fps (%.2f s); decode+convert+encode %.0f fps (%.2f s)",
                 n / encodeSeconds, encodeSeconds, n / total, total))
} catch {
    FileHandle.standardError.write(Data("encode-bench: \(error)\n".utf8))
    exit(1)
}
