import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A local file's size and modification time, as the sidecar records them: how `--resume`
/// tells that an input is the one a complete timeline was made from.
public struct FileStamp: Sendable, Equatable {
    /// Bytes.
    public var size: Int64
    /// UTC modification time, ISO 8601 with nanoseconds (`2026-12-01T17:00:00.123456789Z`), so
    /// that two stamps compare exactly.
    public var modified: String

    public init(size: Int64, modified: String) {
        self.size = size
        self.modified = modified
    }

    /// The stamp of the regular file `path` (links followed); nil for a URL, a missing file or
    /// anything that is not a regular file.
    public static func of(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var seconds = st.st_mtim.tv_sec
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return nil }
        let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(st.st_mtim.tv_nsec))
        return FileStamp(size: Int64(st.st_size), modified: text)
    }
}
