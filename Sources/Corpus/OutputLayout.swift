import Foundation
import Timeline
#if canImport(Glibc)
import Glibc
#endif

/// Where one kind of output goes for each input: `-o`, `--summary`, `--plot` or `--annotate`.
public enum OutputTemplate: Sendable, Equatable {
    /// Standard output (`-o -`; one input only).
    case standardOutput
    /// One path (one input only).
    case file(String)
    /// A folder (`DIR/`, or an existing folder): `DIR/<relative folder>/<stem><suffix>`.
    case directory(String)
    /// A path with `{stem}` and/or `{relpath}` (the input's path below its root, without
    /// extension), e.g. `plots/{relpath}.svg`.
    case pattern(String)

    public static let placeholders = ["{stem}", "{relpath}"]

    /// Reads an option's value: `-`, a pattern, a folder (ends in `/` or exists as one), or a file.
    public init(_ value: String) {
        if value == "-" {
            self = .standardOutput
        } else if Self.placeholders.contains(where: value.contains) {
            self = .pattern(value)
        } else if value.hasSuffix("/") || Self.isExistingDirectory(value) {
            self = .directory(value)
        } else {
            self = .file(value)
        }
    }

    /// Whether the template gives each of several inputs its own path.
    public var isPerInput: Bool {
        switch self {
        case .directory, .pattern: true
        case .file, .standardOutput: false
        }
    }

    /// The path for `input` with file name suffix `suffix` (`.emotions.csv`, `.svg`, …).
    public func path(for input: CorpusInput, suffix: String) -> String {
        switch self {
        case .standardOutput: return "-"
        case let .file(path): return path
        case let .directory(dir):
            var base = dir
            while base.count > 1, base.hasSuffix("/") { base.removeLast() }
            if base == "." { return input.relativeStem + suffix }
            return (base == "/" ? "" : base) + "/" + input.relativeStem + suffix
        case let .pattern(pattern):
            return pattern.replacingOccurrences(of: "{relpath}", with: input.relativeStem)
                .replacingOccurrences(of: "{stem}", with: input.stem)
        }
    }

    static func isExistingDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

/// The outputs of one input.
public struct PlannedOutputs: Sendable, Equatable {
    public var timeline: String
    /// `<timeline>.json`; nil for standard output.
    public var sidecar: String?
    public var summary: String?
    public var plot: String?
    public var annotate: String?

    /// Every path written, with the option it comes from.
    public var all: [(option: String, path: String)] {
        var out: [(String, String)] = []
        if timeline != "-" { out.append(("-o", timeline)) }
        if let sidecar { out.append(("sidecar", sidecar)) }
        if let summary { out.append(("--summary", summary)) }
        if let plot { out.append(("--plot", plot)) }
        if let annotate { out.append(("--annotate", annotate)) }
        return out
    }

    /// ``all`` with what each path holds: fervid replaces an existing file only when it is its
    /// own output of that kind (``OutputSafety/checkOwnership(_:containerComment:)``).
    public var kinds: [(option: String, path: String, kind: OutputKind)] {
        all.map { option, path in
            let kind: OutputKind = switch option {
            case "sidecar": .sidecar
            case "--summary": .summary
            case "--plot": .plot
            case "--annotate": .annotatedVideo
            default: .timeline
            }
            return (option, path, kind)
        }
    }
}

/// Two outputs that would be one file, or an output that is an input: found before any work.
public struct OutputClash: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

public enum OutputLayout {
    /// The outputs of every input. `timelineSuffix` is `.emotions.csv` or `.emotions.jsonl`.
    public static func plan(_ inputs: [CorpusInput], output: OutputTemplate, timelineSuffix: String,
                            summary: OutputTemplate?, plot: OutputTemplate?, annotate: OutputTemplate?) -> [PlannedOutputs]
    {
        inputs.map { input in
            let timeline = output.path(for: input, suffix: timelineSuffix)
            return PlannedOutputs(
                timeline: timeline,
                // None beside standard output or a device (`-o /dev/null` makes no `/dev/null.json`).
                sidecar: TimelineSidecar.path(forOutputIfRegular: timeline),
                summary: summary?.path(for: input, suffix: ".summary.json"),
                plot: plot?.path(for: input, suffix: ".svg"),
                annotate: annotate?.path(for: input, suffix: ".annotated.mp4"))
        }
    }

    /// Fails on the first output path shared by two outputs (of one input or of two), or equal
    /// to an input file. Paths compare as absolute normalised paths with their folder's links
    /// resolved where the folder exists.
    public static func checkClashes(_ inputs: [CorpusInput], _ plans: [PlannedOutputs],
                                    cwd: String = FileManager.default.currentDirectoryPath) throws(OutputClash)
    {
        var owners: [String: String] = [:]  // path -> "input (option)"
        for input in inputs where !input.isURL {
            owners[canonical(input.location, cwd: cwd)] = "input"
        }
        for (input, plan) in zip(inputs, plans) {
            for (option, path) in plan.all {
                let key = canonical(path, cwd: cwd)
                let me = "\(option) of \(input.location)"
                if let other = owners[key] {
                    if other == "input" {
                        throw OutputClash(message: "\(path): \(me) would overwrite an input")
                    }
                    throw OutputClash(message: "\(path): \(me) and \(other) would be the same file; "
                        + "give each input its own folder (a directory or manifest root mirrors the tree) or use {relpath}")
                }
                owners[key] = me
            }
        }
    }

    /// Absolute, normalised, with the deepest existing folder's links resolved.
    static func canonical(_ path: String, cwd: String) -> String {
        let absolute = CorpusInputs.absolutePath(path, cwd: cwd)
        if let real = realpath(absolute, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        var dir = PathText.parent(absolute)
        var rest = [PathText.name(absolute)]
        while dir != "/" {
            if let real = realpath(dir, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return (base == "/" ? "" : base) + "/" + rest.reversed().joined(separator: "/")
            }
            rest.append(PathText.name(dir))
            dir = PathText.parent(dir)
        }
        return absolute
    }

    /// Creates the folder that will hold `path` (and its parents).
    public static func makeParent(of path: String) throws(CorpusInputError) {
        let dir = PathText.parent(path)
        if dir.isEmpty || OutputTemplate.isExistingDirectory(dir) { return }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw CorpusInputError(subject: dir, cause: "cannot create output folder: \((error as NSError).localizedDescription)")
        }
    }
}
