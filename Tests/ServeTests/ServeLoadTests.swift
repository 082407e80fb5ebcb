import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `wrk`'s summary of one run.
struct WrkResult {
    var requests = 0
    var perSecond = 0.0
    var non2xx = 0
    var socketErrors = 0
    var latencyP50 = ""
    var latencyP99 = ""

    init(_ text: String) {
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.contains("requests in"), let n = f.first.flatMap({ Int($0) }) { requests = n }
            if line.hasPrefix("Requests/sec:"), f.count > 1 { perSecond = Double(f[1]) ?? 0 }
            if line.hasPrefix("Non-2xx or 3xx responses:"), let n = f.last.flatMap({ Int($0) }) { non2xx = n }
            if line.hasPrefix("Socket errors:") { socketErrors = 1 }
            if line.hasPrefix("50%"), f.count > 1 { latencyP50 = String(f[1]) }
            if line.hasPrefix("99%"), f.count > 1 { latencyP99 = String(f[1]) }
        }
    }
}

extension ServeSuites {
    @Suite("fervid serve: load", .serialized,
           .enabled(if: serveToolAvailable("/usr/bin/wrk"), "wrk is not installed: run tools/setup-serve.sh (make test does)"))
    struct ServeLoadTests {
        @Test("8 live streams at once on this machine, wrk against /streams and /metrics meanwhile")
        func eightStreams() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
                Issue.record("wrk is not installed: run tools/setup-serve.sh (make test does)")
                return
            }
            let server = try await ServeInstance()
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 12, dir: server.dir)
            var ffmpegs: [Child] = []
            defer { ffmpegs.forEach { $0.stop() } }
            var ids: [String] = []
            for n in 0 ..< 8 {
                let port = freePort()
                ffmpegs.append(try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg-\(n).log"))
                try await waitListening(port)
                ids.append(try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 2, "reconnect": 0],
                                                      name: "load-\(n)"))
            }
            // Load the API while the streams run.
            _ = try await server.waitStream(ids[7]) { ($0["rows"] as? Int ?? 0) > 0 }
            let wrkStreams = try Child.run(["wrk", "-t1", "-c4", "-d4s", "--latency", server.base + "/streams"], timeout: 60)
            let wrkMetrics = try Child.run(["wrk", "-t1", "-c4", "-d4s", "--latency", server.base + "/metrics"], timeout: 60)
            let live = try await server.get("/streams").json["streams"] as? [[String: Any]] ?? []
            var report: [String: Any] = [:]
            for (name, result) in [("streams", WrkResult(wrkStreams.stdout)), ("metrics", WrkResult(wrkMetrics.stdout))] {
                #expect(result.requests > 0, "wrk /\(name): \(name == "streams" ? wrkStreams.stdout : wrkMetrics.stdout)")
                #expect(result.non2xx == 0 && result.socketErrors == 0, "wrk /\(name) errors")
                report["wrk_\(name)"] = ["requests": result.requests, "per_second": result.perSecond,
                                         "p50": result.latencyP50, "p99": result.latencyP99]
            }
            report["rss_bytes_8_streams"] = (try await server.metrics())["fervid_process_resident_memory_bytes"] ?? 0
            report["live_at_wrk"] = live.filter { $0["status"] as? String == "live" }.count
            // Every stream ends on its own (the clip ends) and reports its drops and latency.
            var streams: [[String: Any]] = []
            for id in ids {
                let s = try await server.waitStream(id, timeout: 120) { $0["status"] as? String == "ended" }
                #expect(s["status"] as? String == "ended", "\(s)")
                #expect((s["framesAnalyzed"] as? Int ?? 0) > 0)
                #expect(s["framesDropped"] is Int)
                #expect(s["latencyP95"] is Double, "latency reported for \(id)")
                streams.append(["id": id, "read": s["framesRead"] ?? 0, "analyzed": s["framesAnalyzed"] ?? 0,
                                "dropped": s["framesDropped"] ?? 0, "latency_p50": s["latencyP50"] ?? 0,
                                "latency_p95": s["latencyP95"] ?? 0])
            }
            report["streams"] = streams
            try FileManager.default.createDirectory(atPath: artefactsDirectory, withIntermediateDirectories: true)
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: artefactsDirectory + "/load.json"))
            print("load test:", String(decoding: data, as: UTF8.self))
        }
    }
}
