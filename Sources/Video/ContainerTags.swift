import CFFmpeg

/// A media file's container-level metadata tags (`comment`, `title`, `encoder`, …), read with
/// libavformat from the file's header only (no packet is decoded).
public enum ContainerTags {
    /// The tags of the local file at `path`; nil when libavformat cannot open it as media. Only
    /// the `file` protocol is allowed (a playlist cannot make it open anything else).
    public static func read(path: String) -> [String: String]? {
        FFmpegLog.configureOnce()
        var context: UnsafeMutablePointer<AVFormatContext>?
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "protocol_whitelist", "file", 0)
        guard avformat_open_input(&context, "file:" + path, nil, &options) >= 0, context != nil else { return nil }
        defer { avformat_close_input(&context) }
        var tags: [String: String] = [:]
        var entry: UnsafeMutablePointer<AVDictionaryEntry>?
        while let next = av_dict_get(context?.pointee.metadata, "", entry, AV_DICT_IGNORE_SUFFIX) {
            tags[String(cString: next.pointee.key)] = String(cString: next.pointee.value)
            entry = next
        }
        return tags
    }

    /// The `comment` tag of the file at `path` ("" when it has none); nil when it is not media.
    /// Keys compare case-insensitively, as libavformat's do (Matroska reads it back as `COMMENT`).
    public static func comment(path: String) -> String? {
        read(path: path).map { tags in tags.first { $0.key.lowercased() == "comment" }?.value ?? "" }
    }
}
