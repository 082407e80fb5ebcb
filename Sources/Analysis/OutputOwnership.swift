import Timeline
import Video

extension OutputSafety {
    /// ``checkOwnership(_:containerComment:)`` with annotated videos recognised by their
    /// container's `comment` tag (read with libavformat): throws the first output path that holds
    /// a file fervid did not write, or not of that kind. Run it before any work; `--overwrite`
    /// skips it (docs/reliability.md).
    public static func checkReplaceable(_ outputs: [(role: String, path: String, kind: OutputKind)]) throws(ForeignOutput) {
        try checkOwnership(outputs, containerComment: ContainerTags.comment(path:))
    }
}
