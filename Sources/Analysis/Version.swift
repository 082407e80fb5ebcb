import CBuildInfo

/// fervid's version: the one number `fervid --version`, the timeline sidecar, the .deb and the
/// container image report (the Makefile reads it from this file), and the commit it was built from.
public enum FervidVersion {
    /// The release number. The Makefile's `VERSION` is read from this line.
    public static let number = "0.1.0"

    /// The git commit the binary was built from (`make build` records it), e.g. `1a2b3c4d5e6f`,
    /// with `-dirty` when tracked files had changed; `unknown` for a plain `swift build`.
    public static var commit: String { String(cString: fervid_build_commit()) }

    /// What `fervid --version` prints: `0.1.0 (commit 1a2b3c4d5e6f)`.
    public static var description: String { "\(number) (commit \(commit))" }
}
