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
        let folder = (local as NSString).deletingLastPathComponent
        let name = (local as NSString).lastPathComponent
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
