import Core
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Postgres
import Web

/// `Idempotency-Key` on authenticated POSTs, with Stripe's semantics.
///
/// The first response is stored per caller and key with a hash of the request, in the same
/// transaction as everything the request wrote (`withRequestTransaction`); a replay gets the
/// same status and body (`Idempotent-Replayed: true`); the same key with another request gets
/// 422; a duplicate arriving while the first is still running gets 409 (the first holds the
/// key's advisory lock). A request that failed with a server error, or died with its process,
/// left nothing: its key is free. Keys live 24 hours (`IdempotencySweeper` deletes them). A
/// response that carries a secret shown once (a new API key, a TOTP secret) is not stored: its
/// replay answers 409 with the created object's location instead. ADR 0009.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pool: PostgresPool
    /// Routes whose bodies stream (placements) keep their own idempotency and are skipped.
    var streamingSuffixes: [String] = []

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, request.headers[IdempotencyKey.header] != nil, let principal = context.principal,
            !streamingSuffixes.contains(where: { request.uri.path.hasSuffix($0) })
        else {
            return try await next(request, context)
        }
        guard let key = try IdempotencyKey.of(request.headers) else { return try await next(request, context) }
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

        // The request runs in one transaction with the record of its answer: both commit, or
        // neither does. A duplicate arriving meanwhile finds the key's lock taken (409); after a
        // crash the lock is gone with the transaction, and so is everything the request wrote,
        // so a retry runs it for the first time.
        var request = request
        request.body = .init(buffer: body)
        let forwarded = request
        do {
            let outcome = try await pool.withRequestTransaction(.init(settings: Principal.system.databaseSettings)) { tx -> Outcome in
                let locked = try await tx.one("SELECT pg_try_advisory_xact_lock(hashtextextended(\(owner + "\n" + key), 7)) AS locked")
                guard try locked?.decode(Bool.self, "locked") == true else { return .inProgress }
                try await tx.execute(
                    """
                    DELETE FROM idempotency_keys WHERE principal = \(owner) AND key = \(key)
                    AND (created_at < now() - interval '24 hours' OR state = 'in_progress')
                    """)
                if let existing = try await tx.one(
                    "SELECT request_hash, state, status, content_type, location, body FROM idempotency_keys WHERE principal = \(owner) AND key = \(key)")
                {
                    return .replay(existing)
                }
                let response: Response
                do {
                    response = try await next(forwarded, context)
                } catch {
                    let problem = ProblemMiddleware.problem(for: error, context: context)
                    if problem.status >= 500 || problem.status == 401 || problem.status == 429 {
                        // Not an answer to keep: nothing the request did is kept either, and
                        // the client may retry with the same key.
                        throw error
                    }
                    try await store(
                        tx, owner: owner, key: key, hash: requestHash, status: problem.status, contentType: "application/problem+json",
                        body: Array(buffer: ProblemMiddleware.body(problem, requestID: context.requestID)))
                    return .failed(error)
                }
                var out = response
                let sensitive = out.headers[.relanceSensitive] != nil
                out.headers[.relanceSensitive] = nil
                if out.status.code >= 500 { throw RolledBack(response: out) }
                var stored: [UInt8]? = nil
                if !sensitive {
                    let collector = BodyCollector()
                    try await out.body.write(CollectingWriter(collector: collector))
                    let collected = collector.buffer
                    stored = Array(buffer: collected)
                    out.body = .init(byteBuffer: collected)
                }
                try await store(
                    tx, owner: owner, key: key, hash: requestHash, status: Int(out.status.code), contentType: out.headers[.contentType],
                    body: stored, location: out.headers[.location])
                return .answered(out)
            }
            switch outcome {
            case .inProgress:
                throw Problem(status: 409, code: "idempotency-in-progress", title: "Request in progress", detail: "A request with this Idempotency-Key is still running.")
            case .replay(let row): return try replay(row, requestHash: requestHash)
            case .failed(let error): throw error
            case .answered(let response): return response
            }
        } catch let rolledBack as RolledBack {
            return rolledBack.response
        }
    }

    /// What the request's transaction decided; the response goes out after it committed.
    enum Outcome: @unchecked Sendable {
        case inProgress
        case replay(PostgresRow)
        case failed(any Error)
        case answered(Response)
    }

    /// A server error's response: the transaction rolls back, then the response is sent.
    struct RolledBack: Error, @unchecked Sendable {
        let response: Response
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
        var headers: HTTPFields = [IdempotencyKey.replayed: "true"]
        if let type = try row.decode(String?.self, "content_type") { headers[.contentType] = type }
        if let location { headers[.location] = location }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    func store(
        _ tx: PostgresTransaction, owner: String, key: String, hash: PostgresBytes, status: Int, contentType: String?, body: [UInt8]?,
        location: String? = nil
    ) async throws {
        try await tx.execute(
            """
            INSERT INTO idempotency_keys (principal, key, request_hash, state, status, content_type, location, body)
            VALUES (\(owner), \(key), \(hash), 'done', \(status), \(contentType), \(location), \(body.map(PostgresBytes.init)))
            """)
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
