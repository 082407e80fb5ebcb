@testable import FervidServe
import Foundation
import Testing

/// What keeps a stream's memory small (docs/serve.md, "What a stream costs").
@Suite struct ServeMemoryTests {
    #if canImport(Glibc)
    /// The start-up call reaches glibc's mallopt (a build where the C shim did not see glibc
    /// silently did nothing).
    @Test func mallocArenaLimitReachesGlibc() {
        // glibc's own bound (8 per core on 64-bit): the test process's malloc is left as it was.
        #expect(MallocArenas.limit(8 * ProcessInfo.processInfo.activeProcessorCount))
    }
    #endif

    @Test func streamsDecodeOnOneThreadUnlessTold() throws {
        let registry = StreamRegistry(config: ServeConfiguration(), metrics: ServeMetrics())
        let spec = try registry.spec(for: .init(url: "http://127.0.0.1:9/live.ts"))
        #expect(spec.video.decoderThreads == 1)
        var config = ServeConfiguration()
        config.decoderThreads = 0
        let auto = try StreamRegistry(config: config, metrics: ServeMetrics()).spec(for: .init(url: "http://127.0.0.1:9/live.ts"))
        #expect(auto.video.decoderThreads == 0)
    }
}
