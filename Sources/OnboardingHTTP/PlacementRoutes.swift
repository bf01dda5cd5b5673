import Core
import Foundation
import HTTPTypes
import Hummingbird
import Onboarding
import Web

/// Portfolio placement: upload (streamed), progress, rejects file, acknowledgement, recall.
struct PlacementRoutes {
    let placements: PlacementService
    let worker: PlacementWorker
    let uploads: UploadGate
    let uploadPace: (minBytesPerSecond: Int, window: Duration)

    func add(to routes: ModuleRoutes) {
        routes.post("/v1/creditors/{creditorId}/placements", .placementsPlace, onCreditorIn: "creditorId") { request, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
            let format = try Self.format(of: request)
            let key = try IdempotencyKey.of(request.headers)
            let mapping = try Self.mapping(of: request)
            let dryRun = try Self.dryRun(request)
            let placements = self.placements
            let requestID = context.requestID
            if dryRun {
                let result = try await paced(request, context) { body in
                    try await placements.dryRun(creditor: creditor, format: format, body: body, mapping: mapping, by: actor)
                }
                return try result.response(from: request, context: context)
            }
            let (placement, replayed) = try await paced(request, context) { body in
                try await placements.stage(
                    creditor: creditor, format: format, body: body, idempotencyKey: key, mapping: mapping, by: actor, requestID: requestID)
            }
            worker.wake()
            var response = try placement.response(from: request, context: context)
            response.status = replayed ? .ok : .accepted
            response.headers[.location] = "/v1/placements/\(placement.id.uuidString.lowercased())"
            if replayed { response.headers[IdempotencyKey.replayed] = "true" }
            return response
        }
        routes.get("/v1/creditors/{creditorId}/placements", .placementsRead, onCreditorIn: "creditorId") { request, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            let page = try Page(request)
            let before = try request.uri.queryParameters.get("before").map { text -> UUID in
                guard let id = UUID(uuidString: text) else {
                    throw Problem.validation([.init(field: "before", reason: "must be the ID of the last placement of the previous page")])
                }
                return id
            }
            let items = try await placements.list(creditor: creditor, as: actor, limit: page.limit, before: before)
            return PlacementPage(items: items, before: items.count == page.limit ? items.last?.id : nil)
        }
        routes.get("/v1/placements/{placementId}", .placementsRead) { _, context in
            try await placement(context)
        }
        routes.get("/v1/placements/{placementId}/rejects", .placementsRead) { request, context -> Response in
            let (placement, actor) = try await placementAndActor(context)
            let csv = try Self.wantsCSV(request)
            let service = placements
            return Self.stream(csv: csv, header: "row;column;reason", filename: "rejects-\(placement.id.uuidString.lowercased())") { after in
                try await service.rejects(placement.id, creditor: placement.creditorId, as: actor, afterRow: after, limit: 5000).map { row in
                    (row.0, csv ? "\(row.0);\(CSVText.quote(row.1));\(CSVText.quote(row.2))"
                          : Self.json(["row": row.0, "column": row.1, "reason": row.2]))
                }
            }
        }
        routes.get("/v1/placements/{placementId}/acknowledgement", .placementsRead) { request, context -> Response in
            let (placement, actor) = try await placementAndActor(context)
            guard placement.status == "completed" else {
                throw Problem(status: 409, code: "placement-not-completed", title: "Not merged yet", detail: "The acknowledgement is ready when the placement is completed.")
            }
            let csv = try Self.wantsCSV(request)
            let service = placements
            return Self.stream(csv: csv, header: "row;creditor_reference;outcome;claim_id;case_id", filename: "acknowledgement-\(placement.id.uuidString.lowercased())") { after in
                try await service.outcomes(placement.id, creditor: placement.creditorId, as: actor, afterRow: after, limit: 5000).map { o in
                    let claim = o.claim.uuidString.lowercased()
                    let caseID = o.case.uuidString.lowercased()
                    return (o.row, csv ? "\(o.row);\(CSVText.quote(o.reference));\(o.outcome);\(claim);\(caseID)"
                                   : Self.json(["row": o.row, "creditorReference": o.reference, "outcome": o.outcome, "claimId": claim, "caseId": caseID]))
                }
            }
        }
        routes.post("/v1/creditors/{creditorId}/recalls", .placementsPlace, onCreditorIn: "creditorId") { request, context -> Response in
            struct Recall: Decodable { let references: [String] }
            struct Result: ResponseEncodable { let recalled: [String]; let unknown: [String] }
            let (actor, creditor) = (context.principal, try context.creditor())
            let body = try await request.decodeJSON(Recall.self, context: context)
            guard (1...10_000).contains(body.references.count) else {
                throw Problem.validation([.init(field: "references", reason: "must list 1 to 10000 creditor references")])
            }
            let (recalled, unknown) = try await placements.recall(references: body.references, creditor: creditor, by: actor, requestID: context.requestID)
            return try Result(recalled: recalled, unknown: unknown).response(from: request, context: context)
        }
    }

    /// The placement of the path, for a caller `placementsRead` admitted; another creditor's
    /// placement is invisible (row-level security: 404).
    func placementAndActor(_ context: CallerContext) async throws -> (PlacementService.Placement, Principal) {
        let actor = context.principal
        let id = try context.parameters.requireUUID("placementId", what: "placement")
        guard let placement = try await placements.find(id, as: actor) else { throw Problem.notFound("placement") }
        return (placement, actor)
    }

    func placement(_ context: CallerContext) async throws -> PlacementService.Placement {
        try await placementAndActor(context).0
    }

    /// Reads an upload's body at a minimum pace, holding one of the bounded upload slots: each
    /// upload holds a database connection while its file comes in, so slow uploads cannot take
    /// every connection. Too slow: 408, and whatever `work` did is cancelled (its COPY rolled back).
    func paced<T: Sendable>(
        _ request: Request, _ context: CallerContext, _ work: @escaping @Sendable (PacedBody) async throws -> T
    ) async throws -> T {
        let permit = try uploads.admit(try context.creditor())
        defer { permit.release() }
        let pace = UploadPace(minBytesPerSecond: uploadPace.minBytesPerSecond, window: uploadPace.window)
        let body = PacedBody(base: request.body, pace: pace)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work(body) }
            group.addTask {
                try await pace.watch()
                return nil
            }
            do {
                while let next = try await group.next() {
                    if let done = next {
                        group.cancelAll()
                        return done
                    }
                }
            } catch is UploadPace.TooSlow {
                // The work is cancelled with the group: its COPY is cancelled and rolled back,
                // nothing of the file is kept.
                group.cancelAll()
                // The client may still be sending: close its connection once the answer is
                // out, rather than read the rest of a file nobody will keep.
                let channel = context.channel
                channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
                throw Problem(
                    status: 408, code: "upload-too-slow", title: "Upload too slow",
                    detail: "The file came in slower than \(uploadPace.minBytesPerSecond) bytes per second; nothing was placed. Send it again on a faster link.")
            }
            throw CancellationError()
        }
    }

    /// `?mapping=` (a JSON object, URL-encoded): a column mapping for this upload alone.
    static func mapping(of request: Request) throws -> ColumnMapping? {
        guard let text = request.uri.queryParameters.get("mapping") else { return nil }
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Problem.validation([.init(field: "mapping", reason: "must be a JSON object of source header -> field name or ignore")])
        }
        var sent: [String: String] = [:]
        for (source, target) in object {
            guard let name = target as? String else {
                throw Problem.validation([.init(field: "mapping.\(source.prefix(60))", reason: "must be a field name or ignore")])
            }
            sent[source] = name
        }
        return try ColumnMappingBook.check(sent, root: "mapping")
    }

    /// `?dryRun=true`: check the file, place nothing.
    static func dryRun(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("dryRun") {
        case nil, "false": return false
        case "true": return true
        default: throw Problem.validation([.init(field: "dryRun", reason: "must be true or false")])
        }
    }

    static func format(of request: Request) throws -> PlacementService.Format {
        let type = (request.headers[.contentType] ?? "").lowercased()
        if type.hasPrefix("text/csv") || type.hasPrefix("application/csv") { return .csv }
        if type.hasPrefix("application/x-ndjson") || type.hasPrefix("application/ndjson") { return .ndjson }
        if type.hasPrefix("application/json") { return .json }
        throw Problem(status: 415, code: "unsupported-media-type", title: "Unsupported media type",
                      detail: "Send text/csv, application/json (an array of objects) or application/x-ndjson.")
    }

    static func wantsCSV(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("format") ?? "csv" {
        case "csv": return true
        case "json": return false
        default: throw Problem.validation([.init(field: "format", reason: "must be csv or json")])
        }
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
    }

    /// Streams a long listing page by page: CSV (French Excel dialect: `;`, UTF-8 BOM) or a JSON array.
    static func stream(
        csv: Bool, header: String, filename: String, page: @escaping @Sendable (Int) async throws -> [(Int, String)]
    ) -> Response {
        var headers: HTTPFields = [:]
        headers[.contentType] = csv ? "text/csv; charset=utf-8" : "application/json"
        headers[.contentDisposition] = "attachment; filename=\"\(filename).\(csv ? "csv" : "json")\""
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var first = true
            try await writer.write(ByteBuffer(string: csv ? "\u{FEFF}\(header)\r\n" : "["))
            var after = 0
            while true {
                let rows = try await page(after)
                if rows.isEmpty { break }
                var chunk = ""
                for (row, line) in rows {
                    if csv { chunk += line + "\r\n" } else { chunk += (first ? "" : ",") + line }
                    first = false
                    after = row
                }
                try await writer.write(ByteBuffer(string: chunk))
            }
            if !csv { try await writer.write(ByteBuffer(string: "]")) }
            try await writer.finish(nil)
        })
    }
}

enum CSVText {
    /// Quotes a field for `;`-separated CSV when needed; neutralises spreadsheet formulas.
    static func quote(_ text: String) -> String {
        var t = text
        if let first = t.first, "=+-@".contains(first) { t = "'" + t }
        if t.contains(where: { $0 == ";" || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + t.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return t
    }
}

/// Newest first; `before` is the value to pass for the next (older) page.
struct PlacementPage: ResponseEncodable {
    let items: [PlacementService.Placement]
    let before: UUID?
}
