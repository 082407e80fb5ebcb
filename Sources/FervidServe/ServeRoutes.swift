import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Timeline

typealias ServeContext = BasicWebSocketRequestContext

/// JSON for every response body the API writes.
func jsonResponse(_ status: HTTPResponse.Status = .ok, _ text: String) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
             body: .init(byteBuffer: ByteBuffer(string: text)))
}

func jsonResponse<T: Encodable>(_ status: HTTPResponse.Status = .ok, encoding value: T) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return jsonResponse(status, String(decoding: data, as: UTF8.self))
}

/// `{"error": "...", "status": N}`.
func errorResponse(_ status: Int, _ message: String) -> Response {
    struct Body: Encodable { var error: String; var status: Int }
    return jsonResponse(HTTPResponse.Status(code: status), encoding: Body(error: message, status: status))
}

/// Every failure becomes a JSON error: 4xx for the client's mistakes, 500 otherwise (never a crash).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as RequestError {
            return errorResponse(error.status, error.message)
        } catch let error as HTTPError {
            let message = error.body ?? error.status.reasonPhrase
            return errorResponse(error.status.code, message)
        } catch is DecodingError {
            return errorResponse(400, "request body is not the expected JSON")
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): \(error)")
            return errorResponse(500, "internal error")
        }
    }
}

/// `--token`: every call but the page itself and the probes needs `Authorization: Bearer TOKEN`
/// (or `?token=TOKEN`, for browsers' WebSocket and EventSource, which cannot set headers).
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    static var open: Set<String> { ["/", "/healthz", "/readyz", "/favicon.ico"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token, !Self.open.contains(request.uri.path) else { return try await next(request, context) }
        var given: String?
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            given = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if let q = request.uri.queryParameters.get("token") {
            given = q
        }
        guard let given, constantTimeEqual(given, token) else {
            var response = errorResponse(401, "missing or wrong token (Authorization: Bearer TOKEN)")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }
}

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0 ..< max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}

/// `GET /streams/{id}/events`: a WebSocket when the request asks for an upgrade, else Server-Sent Events.
struct EventsUpgradeMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let upgrade: WebSocketUpgradeMiddleware<ServeContext>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.headers[.upgrade]?.lowercased() == "websocket" {
            return try await upgrade.handle(request, context: context, next: next)
        }
        return try await next(request, context)
    }
}

/// The API's routes (docs/serve.md; `GET /openapi.json` describes them).
func makeRouter(registry: StreamRegistry, ready: @escaping @Sendable () -> Bool) -> Router<ServeContext> {
    let router = Router(context: ServeContext.self)
    let config = registry.config
    router.middlewares.add(JSONErrorMiddleware())
    router.middlewares.add(TokenMiddleware(token: config.token))

    router.get("/") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                        .contentSecurityPolicy: "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:"],
                 body: .init(byteBuffer: ByteBuffer(string: Dashboard.html)))
    }
    router.get("/healthz") { _, _ in jsonResponse(.ok, "{\"status\":\"alive\"}") }
    router.get("/readyz") { _, _ in
        if registry.isDraining { return errorResponse(503, "draining") }
        return ready() ? jsonResponse(.ok, "{\"status\":\"ready\"}") : errorResponse(503, "model not loaded yet")
    }
    router.get("/openapi.json") { _, _ in jsonResponse(.ok, OpenAPIDocument.json) }
    router.get("/metrics") { _, _ in
        registry.tick()
        registry.metrics.refresh(statusCounts: registry.statusCounts())
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: registry.metrics.render())))
    }

    router.get("/streams") { _, _ in
        struct List: Encodable { var streams: [StreamSnapshot] }
        return jsonResponse(encoding: List(streams: registry.all().map { $0.snapshot() }))
    }
    router.post("/streams") { request, context in
        guard ready() else { throw RequestError(503, "model not loaded yet") }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: config.maxBody)
        } catch {
            throw RequestError(413, "request body larger than \(config.maxBody) bytes")
        }
        let create: StreamRegistry.CreateRequest
        do {
            create = try JSONDecoder().decode(StreamRegistry.CreateRequest.self, from: Data(buffer: body))
        } catch {
            throw RequestError(400, "body must be JSON {\"url\": \"…\", \"name\"?: \"…\", \"options\"?: {…}}: \(describeDecoding(error))")
        }
        let runner = try registry.create(create)
        var response = jsonResponse(.created, encoding: runner.snapshot())
        response.headers[.location] = "/streams/\(runner.id)"
        return response
    }
    router.get("/streams/:id") { _, context in
        let id = try context.parameters.require("id")
        guard let runner = registry.runner(id) else { throw RequestError(404, "no stream \(id)") }
        return jsonResponse(encoding: runner.snapshot())
    }
    router.delete("/streams/:id") { _, context in
        let id = try context.parameters.require("id")
        guard let snapshot = await registry.delete(id) else { throw RequestError(404, "no stream \(id)") }
        return jsonResponse(encoding: snapshot)
    }
    router.get("/streams/:id/timeline") { request, context in
        let id = try context.parameters.require("id")
        guard let runner = registry.runner(id) else { throw RequestError(404, "no stream \(id)") }
        var since = -Double.infinity
        if let text = request.uri.queryParameters.get("since") {
            guard let v = Double(text), v.isFinite else { throw RequestError(400, "since must be a number of seconds (stream time)") }
            since = v
        }
        let rows = try runner.rows(since: since)
        let columns = runner.columns
        let csv = (request.headers[.accept] ?? "").contains("text/csv") || request.uri.queryParameters.get("format") == "csv"
        var text = ""
        if csv {
            text = columns.names.joined(separator: ",") + "\n"
            for row in rows { text += EmotionTimelineWriter.csvLine(row, columns: columns) + "\n" }
        } else {
            for row in rows { text += EmotionTimelineWriter.jsonLine(row, columns: columns) + "\n" }
        }
        return Response(status: .ok, headers: [.contentType: csv ? "text/csv; charset=utf-8" : "application/jsonl; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    let upgrade = WebSocketUpgradeMiddleware<ServeContext>(shouldUpgrade: { request, context in
        let id = try context.parameters.require("id")
        guard registry.runner(id) != nil else { throw RequestError(404, "no stream \(id)") }
        _ = try replayRequest(request)
        return .upgrade([:])
    }, onUpgrade: { _, outbound, context in
        guard let id = context.requestContext.parameters.get("id"),
              let events = registry.subscribe(id, replay: (try? replayRequest(context.request)) ?? ReplayRequest()) else { return }
        for await event in events {
            try await outbound.write(.text(event))
        }
    })
    router.group("/streams/:id/events").add(middleware: EventsUpgradeMiddleware(upgrade: upgrade)).get { request, context in
        let id = try context.parameters.require("id")
        let replay = try replayRequest(request)
        guard let events = registry.subscribe(id, replay: replay) else { throw RequestError(404, "no stream \(id)") }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                        body: ResponseBody { writer in
                            for await event in events {
                                try await writer.write(ByteBuffer(string: "data: \(event)\n\n"))
                            }
                            try await writer.finish(nil)
                        })
    }
    return router
}

/// `events?since=T` (rows at or after stream time T) or `?last=N` (the newest N rows) to replay
/// before the live rows.
func replayRequest(_ request: Request) throws(RequestError) -> ReplayRequest {
    var replay = ReplayRequest()
    if let text = request.uri.queryParameters.get("since") {
        guard let v = Double(text), v.isFinite else { throw RequestError(400, "since must be a number of seconds (stream time)") }
        replay.since = v
    }
    if let text = request.uri.queryParameters.get("last") {
        guard let n = Int(text), n >= 0 else { throw RequestError(400, "last must be a number of rows (0 or more)") }
        replay.last = n
    }
    return replay
}

/// What was wrong with a request body, in a few words.
private func describeDecoding(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
    case DecodingError.dataCorrupted: "not valid JSON"
    default: "\(error)"
    }
}
