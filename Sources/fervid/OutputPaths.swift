import Foundation
import Timeline

/// Where `analyze` writes, checked before any work starts.
enum OutputPaths {
    /// Fails when the folder that would hold `path` does not exist.
    static func checkWritable(_ path: String) throws {
        let dir = PathText.parent(path)
        var isDir: ObjCBool = false
        if !dir.isEmpty, !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) {
            throw CommandFailure(subject: path, cause: "output directory \(dir) does not exist")
        }
    }
}
