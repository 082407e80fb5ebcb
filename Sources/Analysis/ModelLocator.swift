import Foundation

/// Finds a model file from a name (`mini-xception`) or a path.
///
/// A name is looked up as `NAME.safetensors` in, in order: `$FERVID_MODELS`, `./models`, the
/// `models` folder of the source tree the binary was built in (`.build/<config>/fervid` →
/// `models/`), and `/usr/local/share/fervid/models`.
public enum ModelLocator {
    /// The classifier `fervid analyze` uses when none is given.
    public static let defaultModel = "mini-xception"
    /// The face detector's weights.
    public static let detectorModel = "mtcnn"

    public struct NotFound: Error, CustomStringConvertible {
        public let name: String
        public let searched: [String]
        public var description: String {
            "no such model file; looked for \(name).safetensors in \(searched.joined(separator: ", ")) (run 'make models')"
        }
    }

    /// The folders searched for model names, in order.
    public static var searchPath: [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["FERVID_MODELS"], !env.isEmpty { dirs.append(env) }
        dirs.append(FileManager.default.currentDirectoryPath + "/models")
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        // <root>/.build/<config>/fervid or <root>/.build/<triple>/<config>/fervid
        var dir = exe.deletingLastPathComponent()
        for _ in 0 ..< 4 {
            if dir.lastPathComponent.hasPrefix(".build") {
                dirs.append(dir.deletingLastPathComponent().appendingPathComponent("models").path)
                break
            }
            dir = dir.deletingLastPathComponent()
        }
        dirs.append("/usr/local/share/fervid/models")
        var seen = Set<String>()
        return dirs.filter { seen.insert($0).inserted }
    }

    /// The file for `nameOrPath`: an existing path as is, else a name in ``searchPath``.
    public static func resolve(_ nameOrPath: String) throws(NotFound) -> String {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".safetensors") {
            return nameOrPath  // a path: opening it reports what is wrong with it
        }
        for dir in searchPath {
            let candidate = dir + "/" + nameOrPath + ".safetensors"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw NotFound(name: nameOrPath, searched: searchPath)
    }
}
