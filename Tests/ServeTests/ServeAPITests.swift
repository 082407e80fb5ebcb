import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdWSClient
import Logging
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Collects a stream's events over a WebSocket until a status event says it ended or failed.
final class EventCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var _rows: [[String: Any]] = []
    private var _statuses: [String] = []
    private var _reasons: [String] = []
    private var _replays: [[String: Any]] = []
    var rows: [[String: Any]] { lock.withLock { _rows } }
    /// `{"type":"replay",…}` events.
    var replays: [[String: Any]] { lock.withLock { _replays } }
    var statuses: [String] { lock.withLock { _statuses } }
    var reasons: [String] { lock.withLock { _reasons } }

    func add(_ text: String) -> Bool {
        guard let event = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return false }
        return lock.withLock {
            if event["type"] as? String == "row", let row = event["row"] as? [String: Any] {
                _rows.append(row)
            } else if event["type"] as? String == "replay" {
                _replays.append(event)
            } else if event["type"] as? String == "status", let s = event["stream"] as? [String: Any],
                      let status = s["status"] as? String {
                _statuses.append(status)
                _reasons.append(s["reason"] as? String ?? "")
                return status == "ended" || status == "failed"
            }
            return false
        }
    }

    /// Runs the WebSocket client until the stream ends (or the server closes the socket).
    func run(url: String) async throws {
        try await WebSocketClient.connect(url: url, logger: Logger(label: "test-ws")) { inbound, _, _ in
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .text(let text) = message, self.add(text) { return }
            }
        }
    }
}

extension ServeSuites {
    @Suite("fervid serve: the API end to end", .serialized)
    struct ServeAPITests {
        @Test("a live HTTP stream: WebSocket rows = timeline = the file; metrics match the rows and ffprobe's frame count")
        func endToEnd() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            let server = try await ServeInstance()
            defer { server.stop() }
            // 20 s of stream (served in real time): the WebSocket must connect while the stream is
            // live. With 6 s, a loaded CI machine connected it only after the end (statuses
            // ["ended"], 0 rows).
            let clip = try sampleClip(sample, seconds: 20, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 5, "reconnect": 0],
                                                name: "wolfgang")
            let events = EventCollector()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // since=0: the rows from the stream's start are replayed, however late the socket connects.
                group.addTask { try await events.run(url: "ws://127.0.0.1:\(server.port)/streams/\(id)/events?since=0") }
                group.addTask { try await Task.sleep(for: .seconds(90)); throw ServeTestError("no end event in 90 s") }
                try await group.next()
                group.cancelAll()
            }
            let state = try await server.stream(id)
            #expect(state["status"] as? String == "ended", "\(state)")
            #expect(state["name"] as? String == "wolfgang")
            #expect(events.statuses.contains("live"))
            #expect(events.statuses.last == "ended")

            // Every frame the clip holds was read (ffprobe counts them independently).
            let read = state["framesRead"] as? Int ?? -1
            #expect(read == clip.frames, "framesRead \(read), ffprobe \(clip.frames)")

            // The timeline endpoint, the WebSocket rows and the file on disk agree.
            let jsonl = try await server.get("/streams/\(id)/timeline")
            #expect(jsonl.status == 200)
            let rows = jsonLines(jsonl.text)
            #expect(!rows.isEmpty)
            // The WebSocket (since=0) got every row of the timeline, in order, each once: the
            // replayed ones (however many the stream had when the socket connected) and the live ones.
            #expect(events.replays.count == 1 && events.replays.first?["complete"] as? Bool == true, "\(events.replays)")
            #expect(rows.count == events.rows.count, "timeline \(rows.count) rows, WebSocket \(events.rows.count)")
            for (a, b) in zip(rows, events.rows) {
                #expect(a["frame"] as? Int == b["frame"] as? Int && a["face_id"] as? Int == b["face_id"] as? Int
                        && a["happy"] as? Double == b["happy"] as? Double)
            }
            let csv = try await server.get("/streams/\(id)/timeline", headers: ["Accept": "text/csv"])
            #expect(csv.headers["content-type"]?.hasPrefix("text/csv") == true)
            let output = state["output"] as? String ?? ""
            let file = try String(contentsOfFile: output, encoding: .utf8)
            #expect(csv.text == file, "the CSV endpoint differs from the stream's file \(output)")
            #expect(output.hasPrefix(server.out + "/"))

            // since=T keeps exactly the rows at or after T.
            let timestamps = rows.compactMap { $0["timestamp"] as? Double }
            let middle = timestamps[timestamps.count / 2]
            let later = jsonLines(try await server.get("/streams/\(id)/timeline?since=\(middle)").text)
            #expect(later.count == timestamps.filter { $0 >= middle }.count)

            // The sidecar is complete.
            let sidecarData = try Data(contentsOf: URL(fileURLWithPath: output + ".json"))
            let sidecar = try JSONSerialization.jsonObject(with: sidecarData) as? [String: Any] ?? [:]
            #expect(sidecar["complete"] as? Bool == true)
            #expect((sidecar["frames"] as? [String: Any])?["read"] as? Int == clip.frames)

            // Metrics against the rows.
            let m = try await server.metrics()
            let frames = Set(rows.compactMap { $0["frame"] as? Int })
            #expect(m["fervid_frames_analyzed_total{stream=\"\(id)\"}"] == Double(frames.count))
            #expect(m["fervid_frames_read_total{stream=\"\(id)\"}"] == Double(clip.frames))
            #expect(m["fervid_rows_total{stream=\"\(id)\"}"] == Double(rows.count))
            #expect(m["fervid_frames_dropped_total{stream=\"\(id)\"}"] == Double(state["framesDropped"] as? Int ?? -1))
            #expect(m["fervid_streams{status=\"ended\"}"] == 1)
            #expect((m["fervid_latency_seconds_count"] ?? 0) == Double(frames.count))
            #expect((m["fervid_batch_size_count"] ?? 0) > 0)
            #expect((m["fervid_process_resident_memory_bytes"] ?? 0) > 10_000_000)

            // Deleting it forgets it; its files stay.
            let deleted = try await server.request("DELETE", "/streams/\(id)")
            #expect(deleted.status == 200)
            #expect(try await server.get("/streams/\(id)").status == 404)
            #expect(FileManager.default.fileExists(atPath: output))
        }

        @Test("DELETE of a running stream closes its outputs: sidecar complete with an end time, whole lines")
        func deleteRunning() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            let server = try await ServeInstance()
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 15, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 4, "format": "jsonl"])
            let live = try await server.waitStream(id) { ($0["rows"] as? Int ?? 0) > 3 }
            #expect(live["status"] as? String == "live")
            let reply = try await server.request("DELETE", "/streams/\(id)")
            #expect(reply.status == 200)
            #expect(reply.json["status"] as? String == "ended")
            #expect(reply.json["reason"] as? String == "deleted")
            let output = reply.json["output"] as? String ?? ""
            #expect(output.hasSuffix(".emotions.jsonl"))
            let text = try String(contentsOfFile: output, encoding: .utf8)
            #expect(text.hasSuffix("\n"))
            #expect(jsonLines(text).count == text.split(separator: "\n").count)
            #expect(jsonLines(text).count == reply.json["rows"] as? Int)
            let sidecar = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + ".json"))) as? [String: Any] ?? [:]
            #expect(sidecar["end_time"] is String)
            #expect(try await server.get("/streams/\(id)").status == 404)
            #expect(try await server.request("DELETE", "/streams/\(id)").status == 404)
        }

        @Test("late subscribers: SSE with since=0 gets every row once, WebSocket with last=N the newest N then the live rows",
              .enabled(if: serveToolAvailable("/usr/bin/curl"), "curl is not installed: run tools/setup-serve.sh (make test does)"))
        func lateSubscribersReplay() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
                Issue.record("curl is not installed: run tools/setup-serve.sh (make test does)")
                return
            }
            let server = try await ServeInstance()
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 8, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 5, "reconnect": 0])
            // Both join late, on purpose: more than 10 rows in.
            let joined = try await server.waitStream(id) { ($0["rows"] as? Int ?? 0) > 10 }
            let rowsAtJoin = joined["rows"] as? Int ?? 0
            #expect(rowsAtJoin > 10)
            let sseLog = server.dir + "/sse.txt"
            let sse = try Child(["curl", "-sN", "--max-time", "120", "\(server.base)/streams/\(id)/events?since=0"], log: sseLog)
            defer { sse.stop() }
            let events = EventCollector()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await events.run(url: "ws://127.0.0.1:\(server.port)/streams/\(id)/events?last=5") }
                group.addTask { try await Task.sleep(for: .seconds(90)); throw ServeTestError("no end event in 90 s") }
                try await group.next()
                group.cancelAll()
            }
            let rows = jsonLines(try await server.get("/streams/\(id)/timeline").text)
            // Deleting the stream ends the SSE response; curl exits.
            #expect(try await server.request("DELETE", "/streams/\(id)").status == 200)
            #expect(sse.wait(timeout: 30) == 0, "curl: \(sse.output.suffix(500))")
            let sseEvents = sse.output.split(separator: "\n").filter { $0.hasPrefix("data: ") }
                .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8))) as? [String: Any] }
            let sseRows = sseEvents.filter { $0["type"] as? String == "row" }.compactMap { $0["row"] as? [String: Any] }
            let sseReplay = sseEvents.first { $0["type"] as? String == "replay" }
            func key(_ r: [String: Any]) -> String { "\(r["frame"] ?? "")|\(r["face_id"] ?? "")|\(r["happy"] ?? "")" }
            // SSE, since=0: the whole timeline, in order, each row once.
            #expect(sseEvents.first?["type"] as? String == "status")
            #expect((sseReplay?["rows"] as? Int ?? 0) >= rowsAtJoin, "replayed \(sseReplay ?? [:]), \(rowsAtJoin) rows at join")
            #expect(sseReplay?["complete"] as? Bool == true)
            #expect(sseRows.map(key) == rows.map(key), "SSE \(sseRows.count) rows, timeline \(rows.count)")
            // WebSocket, last=5: 5 replayed rows, then every later row: the timeline's tail from
            // 5 rows before the point it joined, contiguous to the end.
            #expect(events.replays.first?["rows"] as? Int == 5, "\(events.replays)")
            let first = events.rows.first.map(key)
            let start = rows.firstIndex { key($0) == first } ?? rows.count
            #expect(start >= rowsAtJoin - 5, "WebSocket starts at row \(start), \(rowsAtJoin) rows at join")
            #expect(events.rows.map(key) == rows[start...].map(key), "WebSocket \(events.rows.count) rows, tail \(rows.count - start)")
            #expect(try await server.get("/streams/nope/events?since=0").status == 404)
        }

        @Test("reconnecting comes from the live reader: a loopback feed killed and restarted turns the stream reconnecting, then live")
        func reconnectingFromTheReader() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            let server = try await ServeInstance()
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 10, dir: server.dir)
            let port = freePort()
            var feed = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg-1.log")
            defer { feed.stop() }
            try await waitListening(port)
            // Reopen attempts wait 0.5, 1, 2, 4, 8 s: the feed is back well before they run out.
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 5, "reconnect": 5])
            let events = EventCollector()
            let listener = Task { try await events.run(url: "ws://127.0.0.1:\(server.port)/streams/\(id)/events") }
            defer { listener.cancel() }
            _ = try await server.waitStream(id) { ($0["rows"] as? Int ?? 0) > 5 }
            // The feed dies: the reader sees the connection end and reopens it.
            feed.stop()
            let dropped = try await server.waitStream(id, timeout: 30) { $0["status"] as? String == "reconnecting" }
            #expect(dropped["status"] as? String == "reconnecting", "\(dropped)")
            let reason = dropped["reason"] as? String ?? ""
            #expect(reason.hasPrefix("input dropped (") && reason.contains("reconnect attempt "), "reason: \(reason)")
            #expect(dropped["disconnects"] as? Int == 1)
            #expect(dropped["reconnects"] as? Int == 0)
            // It comes back on the same port: the reader reopens it, the stream is live again,
            // and rows continue.
            feed = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg-2.log")
            let rowsBefore = dropped["rows"] as? Int ?? 0
            let back = try await server.waitStream(id, timeout: 60) {
                $0["status"] as? String == "live" && ($0["rows"] as? Int ?? 0) > rowsBefore + 5
            }
            #expect(back["status"] as? String == "live", "\(back)")
            #expect(back["reconnects"] as? Int == 1)
            #expect(back["reason"] == nil || back["reason"] is NSNull)
            #expect(try await server.request("DELETE", "/streams/\(id)").status == 200)
            _ = try? await listener.value
            // The subscriber saw it: live, reconnecting (with the attempt), live again, ended.
            let statuses = events.statuses
            let firstDrop = statuses.firstIndex(of: "reconnecting")
            #expect(firstDrop != nil && statuses[..<firstDrop!].contains("live") && statuses[firstDrop!...].contains("live"),
                    "\(statuses)")
            #expect(statuses.last == "ended", "\(statuses)")
            // Stream time goes on across the outage: the file's timestamps never go back.
            let text = try String(contentsOfFile: back["output"] as? String ?? "", encoding: .utf8)
            let header = text.split(separator: "\n").first?.split(separator: ",").map(String.init) ?? []
            let tsColumn = header.firstIndex(of: "timestamp") ?? 1
            let stamps = text.split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",", omittingEmptySubsequences: false)[tsColumn]) }
            #expect(stamps.count > rowsBefore + 5)
            #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 <= $1 }, "timestamps go back across the reconnect")
        }

        @Test("a URL nobody serves fails with its reason; bad requests get 4xx JSON errors")
        func failuresAndBadRequests() async throws {
            let server = try await ServeInstance(extra: ["--max-streams", "2"])
            defer { server.stop() }
            let id = try await server.addStream("tcp://127.0.0.1:\(freePort())", options: ["reconnect": 0])
            let failed = try await server.waitStream(id, timeout: 30) { $0["status"] as? String == "failed" }
            #expect(failed["status"] as? String == "failed")
            #expect((failed["reason"] as? String ?? "").contains("Connection refused"), "\(failed)")

            func refused(_ body: Data, _ status: Int, _ fragment: String) async throws {
                let r = try await server.request("POST", "/streams", body: body)
                #expect(r.status == status, "\(String(decoding: body, as: UTF8.self)): \(r.status) \(r.text)")
                #expect(r.headers["content-type"]?.hasPrefix("application/json") == true)
                #expect((r.json["error"] as? String ?? "").contains(fragment), "\(r.text)")
                #expect(r.json["status"] as? Int == status)
            }
            func url(_ u: String) -> Data { try! JSONSerialization.data(withJSONObject: ["url": u]) }
            try await refused(url("file:///etc/passwd"), 400, "scheme 'file'")
            try await refused(url("/etc/passwd"), 400, "not a network URL")
            try await refused(url("concat:http://a|http://b"), 400, "scheme 'concat:http' is not allowed")
            try await refused(url("subfile,,start,0,end,10,,:/etc/passwd"), 400, "not a network URL")
            try await refused(url("hls+file:///tmp/x.m3u8"), 400, "not allowed")
            try await refused(Data("{not json".utf8), 400, "JSON")
            try await refused(Data("{\"name\":\"x\"}".utf8), 400, "url")
            try await refused(try JSONSerialization.data(withJSONObject: ["url": "http://127.0.0.1:1/x", "options": ["fps": -1]]), 400, "fps")
            try await refused(Data(("{\"url\":\"http://a/" + String(repeating: "x", count: 40_000) + "\"}").utf8), 413, "larger than")
            #expect(try await server.get("/streams/nope").status == 404)
            #expect(try await server.get("/streams/nope").json["error"] is String)
            #expect(try await server.get("/no/such/path").status == 404)
            #expect(try await server.get("/streams/\(id)/timeline?since=abc").status == 400)
            #expect(try await server.get("/streams/\(id)/events?last=-1").status == 400)
            #expect(try await server.get("/streams/\(id)/events?since=x").json["error"] as? String == "since must be a number of seconds (stream time)")

            // At most --max-streams running: the failed stream does not count; two that are still
            // connecting (to a socket that accepts and never sends) do, and a third is refused.
            let (fd, silent) = silentListener()
            defer { close(fd) }
            for _ in 0 ..< 2 {
                let r = try await server.post("/streams", json: ["url": "tcp://127.0.0.1:\(silent)", "options": ["timeout": 60]])
                #expect(r.status == 201, "\(r.text)")
            }
            let third = try await server.post("/streams", json: ["url": "tcp://127.0.0.1:\(silent)"])
            #expect(third.status == 429, "\(third.text)")
            #expect((third.json["error"] as? String ?? "").contains("too many streams"))
        }

        @Test("an HLS playlist on a web server cannot make the server read local files")
        func hlsLocalFileRefused() async throws {
            guard let sample = samplePath("single_face.mp4") else { return }
            let server = try await ServeInstance()
            defer { server.stop() }
            let web = server.dir + "/web"
            try FileManager.default.createDirectory(atPath: web, withIntermediateDirectories: true)
            let clip = try sampleClip(sample, seconds: 2, dir: server.dir)
            // A playlist whose segment is a local file (readable: the refusal is the whitelist's).
            let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\nfile://\(clip.path)\n#EXT-X-ENDLIST\n"
            try playlist.write(toFile: web + "/list.m3u8", atomically: true, encoding: .utf8)
            let port = freePort()
            let python = try Child(["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", web, String(port)],
                                   log: server.dir + "/http.log")
            defer { python.stop() }
            var up = false
            for _ in 0 ..< 100 where !up {
                up = (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/list.m3u8")!)) != nil
                if !up { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(up)
            let id = try await server.addStream("http://127.0.0.1:\(port)/list.m3u8", options: ["reconnect": 0])
            let state = try await server.waitStream(id, timeout: 30) { ["failed", "ended"].contains($0["status"] as? String ?? "") }
            #expect(state["status"] as? String == "failed", "\(state)")
            #expect(state["framesRead"] as? Int == 0)
        }

        @Test("--token guards every API call; off loopback it is required")
        func token() async throws {
            let server = try await ServeInstance(token: "s3cret")
            defer { server.stop() }
            let open = try await server.request("GET", "/streams", auth: false)
            #expect(open.status == 401)
            #expect(open.json["error"] is String)
            #expect(try await server.request("GET", "/metrics", auth: false).status == 401)
            #expect(try await server.request("GET", "/streams?token=wrong", auth: false).status == 401)
            #expect(try await server.request("GET", "/streams?token=s3cret", auth: false).status == 200)
            #expect(try await server.get("/streams").status == 200)
            #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
            #expect(try await server.request("GET", "/", auth: false).status == 200)

            guard let binary = serveBinary() else { return }
            let r = try Child.run([binary, "--listen", "0.0.0.0:0", "--out", server.dir + "/x"], timeout: 60)
            #expect(r.status == 1)
            #expect(r.stderr.contains("needs --token"), "\(r.stderr)")
        }

        @Test("/openapi.json is OpenAPI 3 and describes every route")
        func openAPI() async throws {
            let server = try await ServeInstance()
            defer { server.stop() }
            let doc = try await server.get("/openapi.json").json
            #expect((doc["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = doc["paths"] as? [String: [String: Any]] ?? [:]
            let expected: [String: [String]] = [
                "/streams": ["get", "post"], "/streams/{id}": ["get", "delete"], "/streams/{id}/timeline": ["get"],
                "/streams/{id}/events": ["get"], "/metrics": ["get"], "/healthz": ["get"], "/readyz": ["get"], "/openapi.json": ["get"],
            ]
            for (path, methods) in expected {
                for method in methods { #expect(paths[path]?[method] != nil, "\(method) \(path)") }
            }
            // And every documented path answers (not 404) on this server.
            for path in paths.keys where !path.contains("{") {
                #expect(try await server.get(path).status != 404, "\(path)")
            }
        }

        @Test("SIGTERM drains: streams closed (sidecar complete), subscribers told, exit 0 in bounded time")
        func sigtermDrain() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            let server = try await ServeInstance(extra: ["--drain-timeout", "10"])
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 15, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 4])
            let live = try await server.waitStream(id) { ($0["rows"] as? Int ?? 0) > 3 }
            let output = live["output"] as? String ?? ""
            let events = EventCollector()
            let listener = Task { try await events.run(url: "ws://127.0.0.1:\(server.port)/streams/\(id)/events") }
            try await Task.sleep(for: .milliseconds(500))
            let t0 = now()
            server.process.signal(SIGTERM)
            let status = server.process.wait(timeout: 60)
            let seconds = now() - t0
            #expect(status == 0, "exit \(String(describing: status)) after \(seconds) s: \(server.process.output)")
            _ = try? await listener.value
            #expect(events.statuses.last == "ended", "\(events.statuses)")
            #expect(events.reasons.last == "server shutting down")
            let sidecar = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + ".json"))) as? [String: Any] ?? [:]
            #expect(sidecar["end_time"] is String, "sidecar without end_time")
            let text = try String(contentsOfFile: output, encoding: .utf8)
            #expect(text.hasSuffix("\n"))
        }
    }
}
