import Foundation
import Timeline

/// Where `analyze` writes: the timeline path for each input, checked before any work starts.
enum OutputPaths {
    static func isDirectory(_ path: String) -> Bool {
        if path.hasSuffix("/") { return true }
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// `<input name>.emotions.<csv|jsonl>`: the input's last path component without extension
    /// (for a URL, of its path; `stream` when it has none).
    static func defaultName(for input: String, format: TimelineFormat) -> String {
        var name = input
        if let url = URL(string: input), let scheme = url.scheme, scheme.count > 1 {
            name = url.path.isEmpty ? "" : url.lastPathComponent
            if name.isEmpty || name == "/" { name = url.host ?? "stream" }
        } else {
            name = (input as NSString).lastPathComponent
        }
        let stem = (name as NSString).deletingPathExtension
        return (stem.isEmpty ? "stream" : stem) + ".emotions." + (format == .csv ? "csv" : "jsonl")
    }

    /// The timeline path for `input`, or a failure naming the output and why it cannot be written.
    static func timeline(for input: String, output: String?, format: TimelineFormat) throws -> String {
        guard let output else { return defaultName(for: input, format: format) }
        if output == "-" { return "-" }
        if isDirectory(output) {
            let dir = output.hasSuffix("/") ? String(output.dropLast()) : output
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir.isEmpty ? "/" : dir, isDirectory: &isDir), isDir.boolValue else {
                throw CommandFailure(subject: output, cause: "output directory does not exist")
            }
            return (dir.isEmpty ? "" : dir) + "/" + defaultName(for: input, format: format)
        }
        try checkWritable(output)
        return output
    }

    /// Fails when the folder that would hold `path` does not exist.
    static func checkWritable(_ path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        if !dir.isEmpty, !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) {
            throw CommandFailure(subject: path, cause: "output directory \(dir) does not exist")
        }
    }
}
