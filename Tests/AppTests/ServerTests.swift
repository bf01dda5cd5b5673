import App
import Foundation
import Hummingbird
import HummingbirdTesting
import Platform
import Postgres
import Testing
import TestSupport
import Web

@Suite("HTTP server: health, errors, metrics, OpenAPI")
struct ServerTests {
    func router(_ configuration: AppConfiguration, _ pool: PostgresPool, readiness: Readiness = Readiness()) throws -> Router<AppRequestContext> {
        let openAPI = try OpenAPIDocument(yamlFile: configuration.openAPIPath)
        let expected = try Migrator(directory: configuration.migrationsDirectory).migrations.count
        return try buildRouter(configuration: configuration, pool: pool, openAPI: openAPI, readiness: readiness, expectedMigrations: expected)
    }

    @Test func healthAnswersLiveAndReady() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let app = Application(router: try router(configuration, pool))
            try await app.test(.router) { client in
                try await client.execute(uri: "/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("\"ok\""))
                }
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("\"current\""))
                }
            }
        }
    }

    @Test func readinessFailsWhileDrainingAndWhenTheDatabaseIsGone() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            // setup
            let readiness = Readiness()
            let app = Application(router: try router(configuration, pool, readiness: readiness))
            try await app.test(.router) { client in
                // act + verify: draining
                readiness.startDraining()
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(String(buffer: response.body).contains("problems/draining"))
                }
                try await client.execute(uri: "/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
            // A pool that cannot reach any database.
            let dead = PostgresPool(configuration: .init(conninfo: "postgresql://x:y@127.0.0.1:1/none?connect_timeout=1", maxConnections: 1))
            let deadApp = Application(router: try router(configuration, dead))
            try await deadApp.test(.router) { client in
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("database-unavailable"))
                }
            }
            try await dead.close()
        }
    }

    @Test func readinessReportsPendingMigrations() async throws {
        try await TestApp.withApp { configuration, pool, database in
            // setup: forget a migration as the owner
            let owner = PostgresPool(configuration: .init(conninfo: database.ownerURL, maxConnections: 1))
            try await owner.execute("DELETE FROM schema_migrations WHERE version = 1")
            try await owner.close()
            let app = Application(router: try router(configuration, pool))
            try await app.test(.router) { client in
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("migrations-pending"))
                }
            }
        }
    }

    @Test func unknownRoutesAnswerProblemJSONWithTheRequestID() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let app = Application(router: try router(configuration, pool))
            try await app.test(.router) { client in
                try await client.execute(uri: "/v1/nothing-here?email=jeanne@example.fr", method: .get, headers: [.init("X-Request-ID")!: "req-42"]) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.init("X-Request-ID")!] == "req-42")
                    let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    #expect(body?["status"] as? Int == 404)
                    #expect(body?["type"] as? String == "https://relance.dev/problems/not-found")
                    #expect(body?["requestId"] as? String == "req-42")
                    #expect(!String(buffer: response.body).contains("jeanne"))
                }
                // An unsafe request ID is replaced, not echoed.
                try await client.execute(uri: "/health/live", method: .get, headers: [.init("X-Request-ID")!: "bad id\nwith newline"]) { response in
                    let id = response.headers[.init("X-Request-ID")!] ?? ""
                    #expect(id.count == 24)
                    #expect(!id.contains(" "))
                }
            }
        }
    }

    @Test func metricsExposeRequestsAndPoolUse() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let app = Application(router: try router(configuration, pool))
            try await app.test(.router) { client in
                try await client.execute(uri: "/health/ready", method: .get) { _ in }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(text.contains("relance_db_pool_connections_open"))
                    #expect(text.contains("relance_db_pool_connections_in_use"))
                    #expect(text.contains("http_server_request_duration"))
                    #expect(text.contains("http_route=\"/health/ready\""))
                }
            }
        }
    }

    @Test func metricsCanRequireAToken() async throws {
        try await TestApp.withApp(["RELANCE_METRICS_TOKEN": "s3cret-token"]) { configuration, pool, _ in
            let app = Application(router: try router(configuration, pool))
            try await app.test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .unauthorized)
                }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                    #expect(response.status == .unauthorized)
                }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer s3cret-token"]) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test func everyRouteIsInTheOpenAPIDocumentAndBack() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            // setup
            let document = try OpenAPIDocument(yamlFile: configuration.openAPIPath)
            let routes = try router(configuration, pool).routes
            // act: Hummingbird writes parameters as {id}, like OpenAPI
            let served = Set(routes.map { "\($0.method.rawValue) \($0.path.description.hasPrefix("/") ? "" : "/")\($0.path)" })
            // verify
            #expect(!served.isEmpty)
            for route in served.sorted() {
                #expect(document.operations.contains(route), "\(route) is served but missing from Docs/openapi.yaml")
            }
            for operation in document.operations.sorted() {
                #expect(served.contains(operation), "\(operation) is documented but not served")
            }
            let app = Application(router: try router(configuration, pool))
            try await app.test(.router) { client in
                try await client.execute(uri: "/openapi.json", method: .get) { response in
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    #expect((json?["openapi"] as? String)?.hasPrefix("3.1") == true)
                }
            }
        }
    }
}
