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

/// Headless Chromium (Debian's `chromium`, installed by tools/setup-serve.sh) driven through its
/// DevTools protocol over a WebSocket. `--remote-debugging-port=0` makes it pick a port and
/// write it, with the browser target's WebSocket path, to `DevToolsActivePort` in the profile;
/// the test connects there and opens its page with `Target.createTarget` + `attachToTarget`
/// (flat sessions). No HTTP to DevTools: its `/json/list` answers headers without a space after
/// the colon, which Foundation's URLSession refuses ("Failed writing header").
final class Browser: @unchecked Sendable {
    let process: Child
    let dir: String
    let devtoolsPort: Int
    /// `ws://127.0.0.1:PORT/devtools/browser/…`
    let browserSocket: String

    static var binary: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(binary: String) async throws {
        dir = try temporaryDirectory("chromium")
        process = try Child([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--remote-allow-origins=*", "--window-size=1280,900", "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=0", "--user-data-dir=\(dir)/profile", "about:blank"],
                            log: dir + "/chromium.log", group: true)
        var found: (Int, String)?
        for _ in 0 ..< 600 {  // 60 s: a first start on a loaded machine
            if let text = try? String(contentsOfFile: dir + "/profile/DevToolsActivePort", encoding: .utf8) {
                let lines = text.split(separator: "\n").map(String.init)
                if lines.count >= 2, let p = Int(lines[0]), lines[1].hasPrefix("/devtools/browser/") {
                    found = (p, lines[1])
                    break
                }
            }
            if process.exited { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let found else {
            process.stop()
            throw ServeTestError("chromium did not start (no DevToolsActivePort): \(process.output.suffix(2000))")
        }
        devtoolsPort = found.0
        browserSocket = "ws://127.0.0.1:\(found.0)\(found.1)"
    }

    func close() {
        process.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { close() }
}

/// Where test artefacts (the dashboard screenshot) are kept: `FERVID_ARTEFACTS`, else `out/test-artefacts`.
var artefactsDirectory: String {
    ProcessInfo.processInfo.environment["FERVID_ARTEFACTS"].flatMap { $0.isEmpty ? nil : $0 }
        ?? packageRoot().appendingPathComponent("out/test-artefacts").path
}

extension ServeSuites {
    @Suite("fervid serve: the dashboard in a real browser", .serialized,
           .enabled(if: serveToolAvailable("/usr/bin/chromium"), "chromium is not installed: run tools/setup-serve.sh (make test does)"))
    struct ServeDashboardTests {
        @Test("the page lists the streams, its chart grows, the form adds a stream and Remove deletes it; screenshot kept")
        func dashboard() async throws {
            guard let sample = samplePath("WolfgangLanger_Pexels.mp4") else { return }
            let server = try await ServeInstance()
            defer { server.stop() }
            let clip = try sampleClip(sample, seconds: 18, dir: server.dir)
            let port = freePort()
            let ffmpeg = try ffmpegHTTPServer(file: clip.path, port: port, log: server.dir + "/ffmpeg.log")
            defer { ffmpeg.stop() }
            try await waitListening(port)
            let id = try await server.addStream("http://127.0.0.1:\(port)/live.ts", options: ["fps": 5], name: "wolfgang")
            _ = try await server.waitStream(id) { $0["status"] as? String == "live" }
            let (fd, silent) = silentListener()
            defer { close(fd) }

            guard let chromium = Browser.binary else {
                Issue.record("chromium is not installed (/usr/bin/chromium): run tools/setup-serve.sh (make test does)")
                return
            }
            let browser = try await Browser(binary: chromium)
            defer { browser.close() }
            let results = Locked([String: Any]())
            let base = server.base
            let devtools = browser.browserSocket
            try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
            try await WebSocketClient.connect(url: devtools, configuration: .init(maxFrameSize: 1 << 26),
                                              logger: Logger(label: "cdp")) { inbound, outbound, _ in
                var messages = inbound.messages(maxSize: 1 << 27).makeAsyncIterator()
                var nextID = 0
                var session: String?
                func call(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
                    nextID += 1
                    let id = nextID
                    var message: [String: Any] = ["id": id, "method": method, "params": params]
                    if let session { message["sessionId"] = session }
                    let text = String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self)
                    try await outbound.write(.text(text))
                    while let message = try await messages.next() {
                        guard case .text(let t) = message,
                              let reply = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any],
                              reply["id"] as? Int == id else { continue }
                        if let error = reply["error"] { throw ServeTestError("\(method): \(error)") }
                        return reply["result"] as? [String: Any] ?? [:]
                    }
                    throw ServeTestError("DevTools closed")
                }
                // A page of our own, and a flat session on it: later calls go to the page.
                let target = try await call("Target.createTarget", ["url": "about:blank"])
                guard let targetID = target["targetId"] as? String else { throw ServeTestError("createTarget: \(target)") }
                let attached = try await call("Target.attachToTarget", ["targetId": targetID, "flatten": true])
                guard let sessionID = attached["sessionId"] as? String else { throw ServeTestError("attachToTarget: \(attached)") }
                session = sessionID
                func evaluate(_ js: String) async throws -> Any? {
                    let r = try await call("Runtime.evaluate", ["expression": js, "returnByValue": true, "awaitPromise": true])
                    return (r["result"] as? [String: Any])?["value"]
                }
                func waitFor(_ js: String, seconds: Double = 30) async throws -> Bool {
                    let end = now() + seconds
                    while now() < end {
                        if try await evaluate(js) as? Bool == true { return true }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    return false
                }
                _ = try await call("Page.enable")
                _ = try await call("Page.navigate", ["url": base + "/"])
                let listed = try await waitFor("document.querySelectorAll('.card').length === 1 && document.querySelector('.card .name').textContent === 'wolfgang'")
                // The chart's points grow while the stream runs (rows arrive over the WebSocket).
                _ = try await waitFor("(state['\(id)'] || {points: []}).points.length > 2")
                // The page joined a running stream: its chart starts at the stream's first row
                // (replayed with events?since=), not where the page came in.
                let firstPoint = try await evaluate("state['\(id)'].points[0][0]") as? Double ?? -1
                let before = try await evaluate("state['\(id)'].points.length") as? Int ?? 0
                try await Task.sleep(for: .seconds(3))
                let after = try await evaluate("state['\(id)'].points.length") as? Int ?? 0
                let painted = try await evaluate("""
                    (() => { const c = document.querySelector('#s-\(id) canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()
                    """) as? Int ?? 0
                // Add a stream through the form.
                _ = try await evaluate("""
                    document.querySelector('input[name=url]').value = 'tcp://127.0.0.1:\(silent)';
                    document.querySelector('input[name=name]').value = 'from-the-form';
                    document.getElementById('add').requestSubmit(); true
                    """)
                let added = try await waitFor("document.querySelectorAll('.card').length === 2")
                // The server's side of it: the form's stream, with the form's URL and name.
                let listedByServer = try await server.get("/streams").json["streams"] as? [[String: Any]] ?? []
                let formStream = listedByServer.contains {
                    $0["name"] as? String == "from-the-form" && $0["url"] as? String == "tcp://127.0.0.1:\(silent)"
                }
                let shot = try await call("Page.captureScreenshot", ["format": "png"])
                // Remove the form's stream with its button.
                _ = try await evaluate("[...document.querySelectorAll('.card')].find(c => c.querySelector('.name').textContent === 'from-the-form').querySelector('button').click(); true")
                let removed = try await waitFor("document.querySelectorAll('.card').length === 1")
                results.withLock {
                    $0 = ["listed": listed, "before": before, "after": after, "painted": painted, "added": added,
                          "formStream": formStream, "removed": removed, "firstPoint": firstPoint, "png": shot["data"] as? String ?? ""]
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            }
            // Bounded: past 180 s the browser is killed, which ends the DevTools socket.
            group.addTask {
                try await Task.sleep(for: .seconds(180))
                browser.close()
                throw ServeTestError("the browser session took over 180 s")
            }
            try await group.next()
            group.cancelAll()
            }
            let r = results.withLock { $0 }
            #expect(r["listed"] as? Bool == true, "the page did not list the stream")
            #expect(r["firstPoint"] as? Double == 0, "the chart starts at t = \(r["firstPoint"] ?? "?") s, not the stream's start")
            #expect((r["after"] as? Int ?? 0) > (r["before"] as? Int ?? 0), "chart points \(r["before"] ?? "?") -> \(r["after"] ?? "?")")
            #expect((r["painted"] as? Int ?? 0) > 500, "the chart canvas is blank")
            #expect(r["added"] as? Bool == true, "the form did not add a stream")
            #expect(r["formStream"] as? Bool == true, "the server has no stream from the form")
            #expect(r["removed"] as? Bool == true, "Remove did not delete the stream")
            let streams = try await server.get("/streams").json["streams"] as? [[String: Any]] ?? []
            #expect(streams.count == 1)
            // The screenshot is a PNG, kept as an artefact.
            let png = Data(base64Encoded: r["png"] as? String ?? "") ?? Data()
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            try FileManager.default.createDirectory(atPath: artefactsDirectory, withIntermediateDirectories: true)
            let shotPath = artefactsDirectory + "/dashboard.png"
            try png.write(to: URL(fileURLWithPath: shotPath))
            print("dashboard screenshot: \(shotPath)")
        }
    }
}
