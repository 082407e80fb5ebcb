import Foundation

/// Path pieces without NSString, whose `deletingLastPathComponent` traps on one-character
/// strings in this Foundation (`("w" as NSString).deletingLastPathComponent`: `-o w` crashed).
/// Use these everywhere a path is taken apart.
public enum PathText {
    /// Everything before the last `/` ("" when there is none; "/" for a top-level path).
    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Everything after the last `/`.
    public static func name(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `name` inside `folder` (one `/` between them; `folder` "" is the current folder).
    public static func appending(_ name: String, to folder: String) -> String {
        folder.isEmpty ? name : folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// The name without its last `.extension` (a leading dot is not an extension).
    public static func stem(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// The extension after the last dot ("" when there is none).
    public static func fileExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }
}
