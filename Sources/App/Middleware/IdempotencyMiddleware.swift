import Core
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Postgres

/// `Idempotency-Key` on authenticated POSTs, with Stripe's semantics.
///
/// The first response is stored per caller and key with a hash of the request; a replay gets
/// the same status and body (`Idempotent-Replayed: true`); the same key with another request
/// gets 422; a duplicate arriving while the first is still running gets 409. Keys live 24
/// hours. A response that carries a secret shown once (a new API key, a TOTP secret) is not
/// stored: its replay answers 409 with the created object's location instead.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pool: PostgresPool
    /// Routes whose bodies stream (placements) keep their own idempotency and are skipped.
    var streamingSuffixes: [String] = []
    static let header = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, let key = request.headers[Self.header], let principal = context.principal,
            !streamingSuffixes.contains(where: { request.uri.path.hasSuffix($0) })
        else {
            return try await next(request, context)
        }
        guard (1...255).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7e }) else {
            throw Problem.validation([.init(field: "Idempotency-Key", reason: "must be 1 to 255 visible ASCII characters")])
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: context.maxBodyBytes)
        } catch {
            throw Problem.tooLarge(limit: context.maxBodyBytes)
        }
        var hasher = SHA256()
        hasher.update(data: Array("\(request.method.rawValue) \(request.uri.path)\n".utf8))
        hasher.update(data: Self.canonical(body))
        let requestHash = PostgresBytes(Array(hasher.finalize()))
        let owner = principal.key

        let claimed = try await pool.transaction(as: .system) { tx -> PostgresRow? in
            try await tx.execute(
                "DELETE FROM idempotency_keys WHERE principal = \(owner) AND key = \(key) AND created_at < now() - interval '24 hours'")
            let inserted = try await tx.execute(
                """
                INSERT INTO idempotency_keys (principal, key, request_hash, state) VALUES (\(owner), \(key), \(requestHash), 'in_progress')
                ON CONFLICT DO NOTHING
                """)
            if inserted == 1 { return nil }
            return try await tx.one(
                "SELECT request_hash, state, status, content_type, location, body FROM idempotency_keys WHERE principal = \(owner) AND key = \(key)")
        }
        if let existing = claimed {
            return try replay(existing, requestHash: requestHash)
        }

        var request = request
        request.body = .init(buffer: body)
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = ProblemMiddleware.problem(for: error, context: context)
            if (error as? PostgresError)?.kind == .commitOutcomeUnknown {
                // The work may be saved: keep the key in progress so a retry cannot repeat it.
                throw error
            }
            if problem.status >= 500 || problem.status == 401 || problem.status == 429 {
                // Nothing was done (the work's transaction rolled back): let the client retry.
                try? await release(owner: owner, key: key)
                throw error
            }
            try await store(owner: owner, key: key, status: problem.status, contentType: "application/problem+json",
                            body: Array(buffer: ProblemMiddleware.body(problem, requestID: context.requestID)))
            throw error
        }
        var out = response
        let sensitive = out.headers[.relanceSensitive] != nil
        out.headers[.relanceSensitive] = nil
        if out.status.code >= 500 {
            try? await release(owner: owner, key: key)
            return out
        }
        var stored: [UInt8]? = nil
        if !sensitive {
            let collector = BodyCollector()
            try await out.body.write(CollectingWriter(collector: collector))
            let collected = collector.buffer
            stored = Array(buffer: collected)
            out.body = .init(byteBuffer: collected)
        }
        try await store(
            owner: owner, key: key, status: Int(out.status.code), contentType: out.headers[.contentType],
            body: stored, location: out.headers[.location])
        return out
    }

    /// JSON bodies are compared as values (key order and spacing do not matter), other
    /// bodies byte for byte.
    static func canonical(_ body: ByteBuffer) -> [UInt8] {
        let bytes = Array(buffer: body)
        guard let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        else { return bytes }
        return Array(data)
    }

    func replay(_ row: PostgresRow, requestHash: PostgresBytes) throws -> Response {
        guard try row.decode(PostgresBytes.self, "request_hash") == requestHash else {
            throw Problem(
                status: 422, code: "idempotency-key-reused", title: "Idempotency key reused",
                detail: "This Idempotency-Key was used with a different request.",
                errors: [.init(field: "Idempotency-Key", reason: "was used with a different request")])
        }
        guard try row.decode(String.self, "state") == "done", let status = try row.decode(Int?.self, "status") else {
            throw Problem(status: 409, code: "idempotency-in-progress", title: "Request in progress", detail: "A request with this Idempotency-Key is still running.")
        }
        let location = try row.decode(String?.self, "location")
        guard let body = try row.decode(PostgresBytes?.self, "body") else {
            throw Problem(
                status: 409, code: "idempotent-secret-not-replayed", title: "Already created",
                detail: "The original response held a secret shown once; the object exists at \(location ?? "its location").")
        }
        var headers: HTTPFields = [Self.replayed: "true"]
        if let type = try row.decode(String?.self, "content_type") { headers[.contentType] = type }
        if let location { headers[.location] = location }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    func store(owner: String, key: String, status: Int, contentType: String?, body: [UInt8]?, location: String? = nil) async throws {
        try await pool.transaction(as: .system) { tx in
            try await tx.execute(
                """
                UPDATE idempotency_keys SET state = 'done', status = \(status), content_type = \(contentType), location = \(location),
                       body = \(body.map(PostgresBytes.init))
                WHERE principal = \(owner) AND key = \(key)
                """)
        }
    }

    func release(owner: String, key: String) async throws {
        try await pool.transaction(as: .system) { tx in
            try await tx.execute("DELETE FROM idempotency_keys WHERE principal = \(owner) AND key = \(key) AND state = 'in_progress'")
        }
    }
}

/// Gathers a response body (small JSON documents) so it can be stored and sent again.
final class BodyCollector {
    var buffer = ByteBuffer()
}

struct CollectingWriter: ResponseBodyWriter {
    let collector: BodyCollector

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        collector.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
