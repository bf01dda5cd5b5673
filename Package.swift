// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "relance",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "relance", targets: ["relance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // libpq, the PostgreSQL C client library (Debian: libpq-dev).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Our database layer: connections, pool, bound SQL, rows, errors, COPY, migrator.
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Domain-neutral building blocks shared by every module.
        .target(
            name: "Core",
            dependencies: [
                "Postgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Users, sessions, API keys, passwords, TOTP, login throttling.
        .target(
            name: "Identity",
            dependencies: [
                "Core",
                "Postgres",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The one owner of debtors, cases and claims: their vocabulary and the rules every
        // module that changes them uses (case totals).
        .target(
            name: "Portfolio",
            dependencies: ["Core", "Postgres"],
            swiftSettings: swiftSettings
        ),
        // Creditors (the tenants), mandates, fee schedules, placements.
        .target(
            name: "Onboarding",
            dependencies: [
                "Core", "Portfolio", "Postgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Case assignment: teams, agent profiles and absences, rules, the assigner, reassignment.
        .target(
            name: "Assignment",
            dependencies: [
                "Core", "Postgres", "Portfolio",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agent's working day: the queue and its leases, the compliance gate, activities.
        .target(
            name: "WorkQueue",
            dependencies: [
                "Core", "Postgres", "Portfolio",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP kernel every module's HTTP target uses: the request context, access checks,
        // JSON input, lists and pages, the HTTPModule protocol. No domain in it.
        .target(
            name: "Web",
            dependencies: [
                "Core",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Identity over HTTP: login, sessions, the caller's account, staff, creditor users, API keys.
        .target(
            name: "IdentityHTTP",
            dependencies: [
                "Core", "Identity", "Onboarding", "Postgres", "Web",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        // Onboarding over HTTP: creditors, contracts, placements (and the upload's limits).
        .target(
            name: "OnboardingHTTP",
            dependencies: [
                "Core", "Onboarding", "Postgres", "Web",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Assignment over HTTP: teams, agents, rules, the unassigned queue, reassignment, history.
        .target(
            name: "AssignmentHTTP",
            dependencies: [
                "Assignment", "Core", "Postgres", "Web",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The work queue over HTTP: next case, leases, activities, contact rules and preferences.
        .target(
            name: "WorkQueueHTTP",
            dependencies: [
                "WorkQueue", "Core", "Postgres", "Web",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Cases over HTTP: the list and one case.
        .target(
            name: "PortfolioHTTP",
            dependencies: [
                "Core", "Portfolio", "Postgres", "Web",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // The service's own endpoints: health, metrics, the OpenAPI document.
        .target(
            name: "Platform",
            dependencies: [
                "Core", "Postgres", "Web",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP application: configuration, middleware, routes, buildApplication.
        .target(
            name: "App",
            dependencies: [
                "Assignment",
                "AssignmentHTTP",
                "Core",
                "Identity",
                "IdentityHTTP",
                "Onboarding",
                "OnboardingHTTP",
                "Platform",
                "PortfolioHTTP",
                "Postgres",
                "Web",
                "WorkQueue",
                "WorkQueueHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "relance",
            dependencies: [
                "App", "Assignment", "Core", "Identity", "Onboarding", "Platform", "Postgres", "WorkQueue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: ["Postgres", "App", "Assignment", "Core", "Identity", "Onboarding"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IdentityTests",
            dependencies: ["Identity", "Core", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OnboardingTests",
            dependencies: ["Onboarding", "Core", "Postgres", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PortfolioTests",
            dependencies: ["Portfolio", "Onboarding", "Core", "Postgres", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AssignmentTests",
            dependencies: [
                "Assignment", "Portfolio", "Onboarding", "Core", "Postgres", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WorkQueueTests",
            dependencies: ["WorkQueue", "Assignment", "Portfolio", "Onboarding", "Core", "Postgres", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AppTests",
            dependencies: [
                "App", "Platform", "TestSupport", "Web", "WorkQueue",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
