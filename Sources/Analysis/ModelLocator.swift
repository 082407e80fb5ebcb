import Foundation

/// Finds a model file from a name (`mini-xception`) or a path.
///
/// A name is looked up as `NAME.safetensors` in, in order:
/// 1. `$FERVID_MODELS` (one folder; `FERVID_MODELS=./models` asks for the current directory's),
/// 2. `<folder of the executable>/../share/fervid/models` (where `make install` and the .deb put them),
/// 3. the `models` folder of the source tree the binary was built in (`.build/<config>/fervid` →
///    `models/`),
/// 4. `/usr/local/share/fervid/models`, then `/usr/share/fervid/models`.
///
/// The current directory's `./models` is not searched unless asked for: a file planted there must
/// not silently change what an installed `fervid` computes.
public enum ModelLocator {
    /// The classifier `fervid analyze` uses when none is given.
    public static let defaultModel = "mini-xception"
    /// The face detector's weights.
    public static let detectorModel = "mtcnn"

    public struct NotFound: Error, CustomStringConvertible {
        public let name: String
        public let searched: [String]
        public var description: String {
            "no such model file; looked for \(name).safetensors in \(searched.joined(separator: ", "))"
                + " (run 'make models', or set FERVID_MODELS to the folder holding it)"
        }
    }

    /// The folders searched for model names, in order.
    public static var searchPath: [String] {
        searchPath(environment: ProcessInfo.processInfo.environment, executable: executablePath)
    }

    /// The search path for a given environment and executable path (resolved through symlinks).
    public static func searchPath(environment: [String: String], executable: String?) -> [String] {
        var dirs: [String] = []
        if let env = environment["FERVID_MODELS"], !env.isEmpty { dirs.append(env) }
        if let executable {
            let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
            let binDir = exe.deletingLastPathComponent()
            dirs.append(binDir.deletingLastPathComponent().appendingPathComponent("share/fervid/models").path)
            // <root>/.build/<config>/fervid or <root>/.build/<triple>/<config>/fervid
            var dir = binDir
            for _ in 0 ..< 4 {
                if dir.lastPathComponent.hasPrefix(".build") {
                    dirs.append(dir.deletingLastPathComponent().appendingPathComponent("models").path)
                    break
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        dirs.append("/usr/local/share/fervid/models")
        dirs.append("/usr/share/fervid/models")
        var seen = Set<String>()
        return dirs.filter { seen.insert($0).inserted }
    }

    /// The running executable's path: `/proc/self/exe` on Linux (argv[0] is a bare name when the
    /// binary was found on PATH), else the bundle's.
    public static var executablePath: String? {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return path
        }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments.first
    }

    /// The file for `nameOrPath`: an existing path as is, else a name in ``searchPath``.
    public static func resolve(_ nameOrPath: String) throws(NotFound) -> String {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".safetensors") {
            return nameOrPath  // a path: opening it reports what is wrong with it
        }
        let dirs = searchPath
        for dir in dirs {
            let candidate = dir + "/" + nameOrPath + ".safetensors"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw NotFound(name: nameOrPath, searched: dirs)
    }
}
