import CNN

/// A model file that does not describe the model asked for (wrong architecture, layer config).
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    /// The file (path) concerned.
    public let source: String
    /// What is wrong, in one line.
    public let detail: String

    public init(source: String, detail: String) {
        self.source = source
        self.detail = detail
    }

    public var description: String { "\(source): \(detail)" }
}

/// Checks `fervid.arch` in a file's metadata.
func requireArchitecture(_ file: SafeTensorsFile, _ arch: String) throws {
    let found = file.metadata["fervid.arch"]
    guard found == arch else {
        throw ModelFileError(source: file.source,
                             detail: "not a \(arch) model (fervid.arch is \(found.map { "'\($0)'" } ?? "absent"))")
    }
}
