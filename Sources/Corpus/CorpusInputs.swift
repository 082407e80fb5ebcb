import Foundation
import Timeline
#if canImport(Glibc)
import Glibc
#endif

/// One input of a corpus run: where to read it and where its outputs go relative to the output
/// folder.
public struct CorpusInput: Sendable, Equatable, Hashable {
    /// File path (as found: the directory or manifest entry it came from, joined) or URL.
    public var location: String
    /// The output's place below the output folder, without extension: `a/x` for `in/a/x.mp4`
    /// under the directory `in/`; a sanitised `host_port_path` for a URL.
    public var relativeStem: String
    public var isURL: Bool

    public init(location: String, relativeStem: String, isURL: Bool) {
        self.location = location
        self.relativeStem = relativeStem
        self.isURL = isURL
    }

    /// The last component of ``relativeStem``: `{stem}` in output patterns.
    public var stem: String { PathText.name(relativeStem) }
    /// The folder part of ``relativeStem`` (empty at the top).
    public var relativeDirectory: String { PathText.parent(relativeStem) }
}

/// A bad input list, reported before any work: a missing directory, an unreadable manifest, a
/// bad `--shard`.
public struct CorpusInputError: Error, CustomStringConvertible, Equatable {
    /// The argument, manifest or path the problem is about.
    public let subject: String
    public let cause: String
    public init(subject: String, cause: String) {
        self.subject = subject
        self.cause = cause
    }
    public var description: String { "\(subject): \(cause)" }
}

/// Expands the inputs of `fervid analyze` (files, URLs, directories, manifests) into one sorted
/// list, and picks a shard of it.
///
/// - A **directory** is searched recursively for video files: by extension
///   (``videoExtensions``, case-insensitive), or, with `--include` globs, for files whose name or
///   path below the directory matches one of them (case-insensitive `fnmatch`). Hidden files
///   and folders (`.name`) are skipped; symbolic links are followed, each folder once.
///   Outputs mirror the tree below the directory: `in/a/x.mp4` → `a/x`.
/// - A **manifest** (`--manifest FILE`, `-` for standard input) lists one input per line; empty
///   lines and lines starting with `#` are skipped; relative paths are relative to the current
///   directory. A line may be a file, a directory (expanded as above) or a URL. Outputs mirror
///   the paths below the deepest folder that holds every file the manifest lists.
/// - **Files** given as arguments are mirrored the same way, below the deepest folder holding
///   them all (one file: its own folder, so `x.mp4` → `x`).
/// - **URLs** are named from host, port, path and query, sanitised (``urlStem(_:)``).
///
/// The list is sorted by location (byte order) with duplicates (the same absolute path) removed,
/// so every process that expands the same arguments sees the same list: the basis of
/// ``shard(_:index:count:)``.
public enum CorpusInputs {
    /// Extensions taken from directories when no `--include` glob is given (compared
    /// case-insensitively).
    public static let videoExtensions: Set<String> = [
        "3g2", "3gp", "asf", "avi", "dv", "f4v", "flv", "m2ts", "m2v", "m4v", "mkv", "mov", "mp4",
        "mpeg", "mpg", "mts", "mxf", "ogv", "ts", "vob", "webm", "wmv",
    ]

    /// Standard input (`-`) or an FFmpeg pipe (`pipe:0`, `pipe:3`): what the Video module opens as
    /// a pipe (its `isPipeInput`).
    static func isPipe(_ s: String) -> Bool { s == "-" || s.hasPrefix("pipe:") }

    /// The output stem of a pipe: `stdin` for `-`, `pipe:` and `pipe:0`, else `pipe<N>`.
    static func pipeStem(_ s: String) -> String {
        let fd = s == "-" ? "" : String(s.dropFirst("pipe:".count))
        return fd.isEmpty || fd == "0" ? "stdin" : sanitise("pipe" + fd)
    }

    /// URL schemes that are read as network inputs (anything `scheme://` also counts).
    static func isURL(_ s: String) -> Bool {
        guard let range = s.range(of: "://") else { return false }
        let scheme = s[s.startIndex ..< range.lowerBound]
        return scheme.count > 1 && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
    }

    /// Expands `arguments` (files, directories, URLs) and the manifest lines (`manifest` is its
    /// text, named `manifestName` in messages) into one sorted, de-duplicated list.
    public static func expand(arguments: [String], manifest: String? = nil, manifestName: String = "-",
                              include: [String] = [],
                              currentDirectory: String = FileManager.default.currentDirectoryPath) throws(CorpusInputError)
        -> [CorpusInput]
    {
        var found: [CorpusInput] = []
        let cwd = currentDirectory
        // Files are mirrored per group (the arguments; the manifest) below their common folder.
        func expandGroup(_ entries: [String], source: String) throws(CorpusInputError) {
            var files: [String] = []
            for entry in entries {
                if isPipe(entry) {
                    // Standard input (`-`, `pipe:0`) or another pipe: read once, not a file.
                    found.append(CorpusInput(location: entry, relativeStem: pipeStem(entry), isURL: true))
                    continue
                }
                if isURL(entry) {
                    found.append(CorpusInput(location: entry, relativeStem: urlStem(entry), isURL: true))
                    continue
                }
                var st = stat()
                if stat(absolutePath(entry, cwd: cwd), &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    found += try directory(entry, include: include, cwd: cwd)
                } else {
                    // A missing or unreadable file is still an input: the run records why it failed.
                    files.append(entry)
                }
            }
            let absolute = files.map { absolutePath($0, cwd: cwd) }
            let root = commonDirectory(absolute)
            for (file, abs) in zip(files, absolute) {
                let relative = String(abs.dropFirst(root == "/" ? 1 : root.count + 1))
                found.append(CorpusInput(location: file, relativeStem: dropExtension(relative), isURL: false))
            }
        }
        try expandGroup(arguments, source: "arguments")
        if let manifest {
            var lines: [String] = []
            for raw in manifest.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
                let line = raw.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
                if line.isEmpty || line.hasPrefix("#") { continue }
                lines.append(line)
            }
            try expandGroup(lines, source: manifestName)
        }
        return sortedUnique(found, cwd: cwd)
    }

    /// Sorted by location (UTF-8 byte order); of several entries for one absolute path the
    /// first in that order stays.
    static func sortedUnique(_ inputs: [CorpusInput], cwd: String) -> [CorpusInput] {
        let sorted = inputs.sorted { $0.location.utf8.lexicographicallyPrecedes($1.location.utf8) }
        var seen = Set<String>()
        return sorted.filter { input in
            seen.insert(input.isURL ? input.location : absolutePath(input.location, cwd: cwd)).inserted
        }
    }

    /// Reads a manifest: a file, or standard input for `-`.
    public static func readManifest(_ path: String) throws(CorpusInputError) -> String {
        let data: Data?
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            var st = stat()
            if stat(path, &st) != 0 { throw CorpusInputError(subject: path, cause: "cannot read manifest: \(String(cString: strerror(errno)))") }
            if (st.st_mode & S_IFMT) == S_IFDIR { throw CorpusInputError(subject: path, cause: "the manifest is a directory (give it as an INPUT to search it)") }
            data = FileManager.default.contents(atPath: path)
        }
        guard let data else { throw CorpusInputError(subject: path, cause: "cannot read manifest") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CorpusInputError(subject: path, cause: "the manifest is not UTF-8 text")
        }
        return text
    }

    /// The inputs of shard `index` of `count`: those whose position in the sorted list is
    /// `index` mod `count`.
    public static func shard(_ inputs: [CorpusInput], index: Int, count: Int) -> [CorpusInput] {
        inputs.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// Parses `I/N` (0 ≤ I < N).
    public static func parseShard(_ text: String) -> (index: Int, count: Int)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        return (i, n)
    }

    // MARK: Directories

    static func directory(_ dir: String, include: [String], cwd: String) throws(CorpusInputError) -> [CorpusInput] {
        var out: [CorpusInput] = []
        var visited = Set<String>()
        let base = dir.hasSuffix("/") && dir.count > 1 ? String(dir.dropLast()) : dir
        // File system calls use the absolute path; locations keep the folder as given.
        let absoluteBase = absolutePath(dir, cwd: cwd)
        func walk(_ relative: String) throws(CorpusInputError) {
            let path = relative.isEmpty ? base : base + "/" + relative
            let absolute = relative.isEmpty ? absoluteBase : absoluteBase + "/" + relative
            guard let real = realpath(absolute, nil) else {
                throw CorpusInputError(subject: path, cause: "cannot search: \(String(cString: strerror(errno)))")
            }
            defer { free(real) }
            guard visited.insert(String(cString: real)).inserted else { return }  // a link loop
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: absolute) } catch {
                throw CorpusInputError(subject: path, cause: "cannot search: \(String(cString: strerror(EACCES)))")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let rel = relative.isEmpty ? name : relative + "/" + name
                let full = base + "/" + rel
                var st = stat()
                guard stat(absoluteBase + "/" + rel, &st) == 0 else { continue }  // a dangling link
                switch st.st_mode & S_IFMT {
                case S_IFDIR: try walk(rel)
                case S_IFREG:
                    if selects(name: name, relative: rel, include: include) {
                        out.append(CorpusInput(location: full, relativeStem: dropExtension(rel), isURL: false))
                    }
                default: continue
                }
            }
        }
        try walk("")
        return out
    }

    /// Whether a file found in a directory is an input: a video extension, or with globs, a
    /// match of any glob against the name or the path below the directory.
    public static func selects(name: String, relative: String, include: [String]) -> Bool {
        if include.isEmpty {
            let ext = PathText.fileExtension(name).lowercased()
            return videoExtensions.contains(ext)
        }
        // FNM_CASEFOLD (a GNU and BSD extension, 1 << 4 in both) is not imported into Swift.
        let casefold: Int32 = 1 << 4
        return include.contains { glob in
            fnmatch(glob, name, casefold) == 0 || fnmatch(glob, relative, casefold | FNM_PATHNAME) == 0
        }
    }

    // MARK: Names

    /// `host_port_path_query`, each character outside `[A-Za-z0-9._-]` replaced by `_`, the
    /// last path component without its extension: `http://127.0.0.1:8080/live.ts` →
    /// `127.0.0.1_8080_live`, `rtsp://cam.local/stream1?ch=2` → `cam.local_stream1_ch_2`.
    public static func urlStem(_ url: String) -> String {
        var host = "", port = "", path = "", query = ""
        if let u = URLComponents(string: url) {
            host = u.host ?? ""
            port = u.port.map(String.init) ?? ""
            path = u.path
            query = u.query ?? ""
        } else if let range = url.range(of: "://") {
            path = String(url[range.upperBound...])
        }
        var parts = path.split(separator: "/").map(String.init)
        if let last = parts.last {
            let stripped = PathText.stem(last)
            parts[parts.count - 1] = stripped.isEmpty ? last : stripped
        }
        let pieces = ([host, port] + parts + [query]).filter { !$0.isEmpty }
        let name = sanitise(pieces.joined(separator: "_"))
        return name.isEmpty ? "stream" : name
    }

    /// Characters outside `[A-Za-z0-9._-]` become `_`; runs of `_` collapse; a name of dots
    /// only becomes `_`.
    static func sanitise(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            let ok = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
            let ch: Character = ok ? Character(scalar) : "_"
            if ch == "_", out.hasSuffix("_") { continue }
            out.append(ch)
        }
        while out.hasSuffix("_") { out.removeLast() }
        while out.hasPrefix("_") { out.removeFirst() }
        if !out.isEmpty, out.allSatisfy({ $0 == "." }) { return "_" }
        return out
    }

    static func dropExtension(_ relative: String) -> String {
        let dir = PathText.parent(relative)
        let name = PathText.name(relative)
        var stem = PathText.stem(name)
        if stem.isEmpty { stem = name }
        return dir.isEmpty ? stem : dir + "/" + stem
    }

    /// `path` made absolute against `cwd` and normalised lexically (`.`, `..`, `//`), without
    /// resolving links.
    public static func absolutePath(_ path: String, cwd: String) -> String {
        let joined = path.hasPrefix("/") ? path : cwd + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The deepest folder holding every one of `paths` (absolute, normalised).
    static func commonDirectory(_ paths: [String]) -> String {
        guard let first = paths.first else { return "/" }
        var common = Array(PathText.parent(first).split(separator: "/"))
        for path in paths.dropFirst() {
            let dir = PathText.parent(path).split(separator: "/")
            var n = 0
            while n < common.count, n < dir.count, common[n] == dir[n] { n += 1 }
            common.removeLast(common.count - n)
        }
        return "/" + common.joined(separator: "/")
    }
}
