import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two paths of one run that are the same file: an output that would overwrite an input, or two
/// outputs that would overwrite each other.
public struct PathClash: Error, CustomStringConvertible, Equatable, Sendable {
    /// The output that would be written (as given) and what it is (`-o`, `--plot`, `sidecar`, …).
    public let output: String
    public let outputRole: String
    /// The input or the other output it resolves to.
    public let other: String
    public let otherRole: String
    /// True when `other` is an input (else another output).
    public let otherIsInput: Bool

    /// What is wrong, without the output's name: "is the input clip.mp4 (the same file); …".
    public var cause: String {
        let what = otherIsInput ? "is the \(otherRole) \(other)" : "is also the \(otherRole) output \(other)"
        return "\(what) (the same file); refusing to run, nothing was written"
    }

    public var description: String { "\(outputRole) \(output) \(cause)" }
}

/// Checks, before any work, that no output of a run is one of its inputs or another of its
/// outputs — by resolved path (symbolic links, `.` and `..`) and, for files that exist, by
/// device and inode (hard links, bind mounts).
///
/// ```swift
/// try OutputSafety.check(inputs: [("input", "talk.mp4"), ("--model", modelPath)],
///                        outputs: [("-o", "talk.mp4")])   // throws PathClash
/// ```
/// `-` counts as the file standard output (for an output) or standard input (for an input, also
/// `pipe:0`) is redirected to, when that is a regular file: `fervid analyze - -o x.mp4 < x.mp4`
/// is refused too.
/// Outputs that exist and are not regular files (`/dev/null`, a FIFO, a terminal) never clash:
/// writing them destroys nothing. URLs (`scheme://…`) are not files and are skipped.
public enum OutputSafety {
    /// What makes two paths the same file.
    public struct Identity: Sendable, Equatable {
        /// The absolute path with every symbolic link resolved (the folder's, for a new file).
        public var path: String?
        /// Device and inode, for a path that exists.
        public var device: UInt64?
        public var inode: UInt64?

        public func sameFile(as other: Identity) -> Bool {
            if let device, let inode, let d = other.device, let i = other.inode { return device == d && inode == i }
            if let path, let p = other.path { return path == p }
            return false
        }
    }

    /// The identity of `path`, or nil when it cannot clash: a URL, or an existing non-regular
    /// file (device, FIFO, socket); `-` is the file of `stream` (standard output for outputs,
    /// standard input for inputs) when that is a regular file.
    public static func identity(of path: String, stream: Int32 = STDOUT_FILENO) -> Identity? {
        var st = stat()
        if path == "-" || (stream == STDIN_FILENO && path == "pipe:0") {
            guard fstat(stream, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            return Identity(path: nil, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        }
        var local = path
        if let range = path.range(of: "://") {
            let scheme = path[..<range.lowerBound]
            guard scheme == "file" else { return nil }
            local = String(path[range.upperBound...])
        }
        if stat(local, &st) == 0 {
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFREG || kind == S_IFDIR else { return nil }
            return Identity(path: resolved(local), device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        }
        // Not there yet: the resolved folder plus the name.
        let folder = PathText.parent(local)
        let name = PathText.name(local)
        guard let dir = resolved(folder.isEmpty ? "." : folder) else { return Identity(path: local, device: nil, inode: nil) }
        return Identity(path: (dir == "/" ? "" : dir) + "/" + name, device: nil, inode: nil)
    }

    private static func resolved(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// Throws the first clash: an output that is an input, or two outputs that are one file.
    /// Each entry is (role, path), the role naming it in the message (`-o`, `--plot`, `input`).
    public static func check(inputs: [(role: String, path: String)],
                             outputs: [(role: String, path: String)]) throws(PathClash) {
        let ins = inputs.map { ($0, identity(of: $0.path, stream: STDIN_FILENO)) }
        var seen: [((role: String, path: String), Identity)] = []
        for output in outputs {
            guard let id = identity(of: output.path) else { continue }
            for (input, inputID) in ins {
                if let inputID, id.sameFile(as: inputID) {
                    throw PathClash(output: output.path, outputRole: output.role, other: input.path,
                                      otherRole: input.role, otherIsInput: true)
                }
            }
            for (other, otherID) in seen where id.sameFile(as: otherID) {
                throw PathClash(output: output.path, outputRole: output.role, other: other.path,
                                  otherRole: other.role, otherIsInput: false)
            }
            seen.append((output, id))
        }
    }
}

/// What fervid writes. An existing file is replaced only when it is recognisably fervid's own
/// output of the kind about to be written (``OutputSafety/foreignContent(at:kind:containerComment:)``).
public enum OutputKind: String, Sendable, CaseIterable {
    /// A timeline (`-o`): CSV whose first line is a fervid header, or JSON Lines whose first line
    /// is an object with a fervid row's keys (either format: a run may switch `--format`).
    case timeline
    /// A timeline's `<output>.json`: a JSON object with `schema_version` and `fervid_version`.
    case sidecar
    /// `--summary`: a JSON object with `fervid_output: "summary"` (or, written before that key,
    /// exactly a summary's keys).
    case summary
    /// `--plot`, `fervid plot -o`: an SVG carrying ``TimelinePlot/marker``.
    case plot
    /// `--annotate`: a video whose container's `comment` tag is ``OutputSafety/annotatedVideoComment``.
    case annotatedVideo = "annotated video"
    /// `fervid collect -o`: CSV with the corpus table's header (`input,status,reason,detail,…`),
    /// or JSON Lines objects with `input`, `status` and `fervid_version`.
    case corpusTable = "corpus table"
    /// `fervid collect --rows`: a timeline's columns after an `input` column.
    case corpusRows = "corpus rows table"
    /// `fervid models run --output`: a safetensors file holding only `logits` and/or
    /// `probabilities`, with `fervid.*` metadata (never a model file, which has other tensors).
    case tensorOutput = "tensor output"
}

/// An output path that holds a file fervid did not write (or not of that kind): refused before
/// any work unless the user forces it (`--overwrite`).
public struct ForeignOutput: Error, CustomStringConvertible, Equatable, Sendable {
    /// The option that names it (`-o`, `--summary`, `sidecar`, …) and the path as given.
    public let role: String
    public let path: String
    public let kind: OutputKind
    /// What was found there instead: "its first line is not a fervid timeline header", …
    public let finding: String

    /// What is wrong, without the path: "exists and is not a fervid summary (…); …".
    public var cause: String {
        "exists and is not a fervid \(kind.rawValue) (\(finding)); refusing to replace it, nothing was written "
            + "(--overwrite replaces it)"
    }

    public var description: String { "\(role) \(path) \(cause)" }
}

extension OutputSafety {
    /// The `comment` tag of every annotated video fervid writes (its container's metadata).
    public static let annotatedVideoComment = "fervid_output: annotated video"

    /// The most bytes read from an existing file to recognise it (a summary or sidecar is read
    /// whole up to this; a timeline, chart or table only its start).
    static let recognitionLimit = 16 << 20

    /// Why writing a `kind` output to `path` would destroy data fervid did not write there, or
    /// nil when it may be replaced: the path does not exist, is not a regular file (a device or
    /// FIFO is written in place, never replaced), is empty (nothing to lose), or holds fervid's
    /// own output of that kind. `containerComment` reads a video file's `comment` tag (nil when
    /// it is not a video libavformat can open); without it no existing video is recognised.
    public static func foreignContent(at path: String, kind: OutputKind,
                                      containerComment: ((String) -> String?)? = nil) -> String? {
        var st = stat()
        guard path != "-", stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return "it is a directory"
        case S_IFREG: break
        default: return nil
        }
        if st.st_size == 0 { return nil }
        if kind == .annotatedVideo {
            guard let comment = containerComment?(path) else { return "not a video file fervid can read" }
            return comment == annotatedVideoComment ? nil : "its container has no fervid tag"
        }
        let limit = kind == .summary || kind == .sidecar || kind == .tensorOutput ? recognitionLimit : 1 << 16
        guard let head = readHead(path, limit: limit) else { return "it cannot be read: \(String(cString: strerror(errno)))" }
        switch kind {
        case .timeline:
            return recognisedTimeline(firstLine(head)) ? nil : "its first line is not a fervid timeline header or row"
        case .sidecar:
            guard let object = jsonObject(head), object["schema_version"] is NSNumber, object["fervid_version"] is String
            else { return "not a JSON object with fervid's schema_version and fervid_version" }
            return nil
        case .summary:
            guard let object = jsonObject(head) else { return "not a fervid summary's JSON" }
            if object["fervid_output"] as? String == TimelineSummary.marker { return nil }
            // Summaries from before the marker: exactly a summary's keys.
            let legacy: Set = ["frames", "frames_without_face", "no_face_share", "start", "end", "tracks"]
            return Set(object.keys) == legacy ? nil : "no fervid_output: \(TimelineSummary.marker) key"
        case .plot:
            guard let text = String(data: head, encoding: .utf8), text.contains("<svg") else { return "not an SVG" }
            if text.contains(TimelinePlot.marker) { return nil }
            // Charts from before the marker: fervid's own layout.
            let legacy = text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<svg ")
                && text.contains("<text class=\"subtitle\"") && text.contains("<g class=\"legend\">")
            return legacy ? nil : "an SVG without fervid's chart marker"
        case .corpusTable:
            let line = firstLine(head)
            if line.hasPrefix("input,status,reason,detail,") { return nil }
            if let object = jsonObject(Data(line.utf8)), object["input"] != nil, object["status"] != nil,
               object["fervid_version"] != nil { return nil }
            return "its first line is not a fervid corpus table header or record"
        case .corpusRows:
            let line = firstLine(head)
            if line.hasPrefix("input,"), recognisedTimeline(String(line.dropFirst("input,".count))) { return nil }
            if var object = jsonObject(Data(line.utf8)), object.removeValue(forKey: "input") != nil,
               recognisedTimeline(keys: Set(object.keys)) { return nil }
            return "its first line is not a fervid rows table header or row"
        case .tensorOutput:
            return recognisedTensorOutput(head) ? nil : "not a safetensors file of fervid's logits and probabilities"
        case .annotatedVideo:
            return nil  // handled above
        }
    }

    /// Throws the first output that exists and is not fervid's own output of its kind.
    public static func checkOwnership(_ outputs: [(role: String, path: String, kind: OutputKind)],
                                      containerComment: ((String) -> String?)? = nil) throws(ForeignOutput) {
        for output in outputs {
            if let finding = foreignContent(at: output.path, kind: output.kind, containerComment: containerComment) {
                throw ForeignOutput(role: output.role, path: output.path, kind: output.kind, finding: finding)
            }
        }
    }

    /// Whether a timeline's first line is fervid's: the CSV header, or a JSON Lines row's keys,
    /// of this schema version or an earlier one (version 1 had no `box` column).
    static func recognisedTimeline(_ line: String) -> Bool {
        if line.hasPrefix("{") {
            guard let object = jsonObject(Data(line.utf8)) else { return false }
            return recognisedTimeline(keys: Set(object.keys))
        }
        let names = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return TimelineColumns.all.contains { $0.names == names } || isVersion1(names)
    }

    /// Schema version 1: the current columns without `box`.
    private static func isVersion1(_ names: [String]) -> Bool {
        TimelineColumns.all.contains { $0.names.filter { $0 != "box" } == names }
    }

    /// A safetensors header (8-byte little-endian length, then JSON) whose tensors are only
    /// `logits` / `probabilities` and whose metadata keys start with `fervid.`.
    static func recognisedTensorOutput(_ data: Data) -> Bool {
        guard data.count >= 8 else { return false }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length > 0, length <= UInt64(data.count - 8),
              var header = jsonObject(data.subdata(in: 8 ..< 8 + Int(length))) else { return false }
        guard let metadata = header.removeValue(forKey: "__metadata__") as? [String: Any], !metadata.isEmpty,
              metadata.keys.allSatisfy({ $0.hasPrefix("fervid.") }) else { return false }
        return !header.isEmpty && Set(header.keys).isSubset(of: ["logits", "probabilities"])
    }

    static func recognisedTimeline(keys: Set<String>) -> Bool {
        TimelineColumns.all.contains { c in
            [Set(c.jsonKeys), Set(c.names)].contains { $0 == keys || $0.subtracting(["box"]) == keys }
        }
    }

    private static func firstLine(_ data: Data) -> String {
        let line = data.prefix { $0 != UInt8(ascii: "\n") }
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        return text
    }

    private static func jsonObject(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// Up to `limit` bytes from the start of `path`; nil (errno set) when it cannot be read.
    private static func readHead(_ path: String, limit: Int) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while data.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, limit - data.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0 ..< n])
        }
        return data
    }
}
