import App
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Platform
import Postgres
import TestSupport
import Testing

/// The real router (all middleware) over a fresh database, with fixtures.
func withRouter<T: Sendable>(
    _ extra: [String: String] = [:],
    _ body: @escaping @Sendable (any TestClientProtocol, Fixtures, TestDatabase.Database, PostgresPool) async throws -> T
) async throws -> T {
    try await TestApp.withApp(extra) { configuration, pool, database in
        let fixtures = try Fixtures(database)
        do {
            let openAPI = try OpenAPIDocument(yamlFile: configuration.openAPIPath)
            let expected = try Migrator(directory: configuration.migrationsDirectory).migrations.count
            let router = try buildRouter(configuration: configuration, pool: pool, openAPI: openAPI, readiness: Readiness(), expectedMigrations: expected)
            let app = Application(router: router)
            let result = try await app.test(.router) { client in try await body(client, fixtures, database, pool) }
            try await fixtures.close()
            return result
        } catch {
            try? await fixtures.close()
            throw error
        }
    }
}

struct Reply: Sendable {
    let status: Int
    let headers: HTTPFields
    let text: String

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
    var problemType: String? { (json["type"] as? String)?.replacingOccurrences(of: "https://relance.dev/problems/", with: "") }
}

extension TestClientProtocol {
    /// Sends a request with an optional bearer and JSON body; returns status, headers, text.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, json: Any? = nil, raw csv: [UInt8]? = nil, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        var body: ByteBuffer? = nil
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        }
        if let csv {
            headers[.contentType] = "text/csv"
            body = ByteBuffer(bytes: csv)
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }

    /// Logs in and returns the bearer token.
    func login(_ user: Fixtures.User, password: String = Fixtures.password) async throws -> String {
        var body: [String: Any] = ["email": user.email, "password": password]
        if let code = Fixtures.code(user) { body["totp"] = code }
        let reply = try await call(.post, "/v1/auth/token", json: body)
        guard reply.status == 200, let token = reply.json["token"] as? String else {
            Issue.record("login failed: \(reply.status) \(reply.text)")
            return ""
        }
        return token
    }
}
