// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "crmsync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "crmsync", targets: ["crmsync"]),
        .executable(name: "mock-hubspot", targets: ["mock-hubspot"]),
        .executable(name: "crmsync-bench", targets: ["crmsync-bench"]),
        .library(name: "MockHubSpot", targets: ["MockHubSpot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
        // GRDB is tested upstream on Apple platforms only; pin it so CI is its Linux coverage.
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Domain values: contacts, consent, suppression, erasure requests, configuration, import parsing, and the
        // synthetic register `crmsync demo` imports (a shipped feature, so not a test double). No I/O.
        .target(name: "SyncModel"),
        // The rules that decide a subject's consent, opt-out and restriction, in one place: which decision prevails,
        // the opt-out's agreed base, lifting an opt-out, a restriction's spread, when a decision made now is dated.
        // Pure functions of the two sides' statements, asked by the store, the importer, the planner and the checker.
        .target(name: "SubjectPolicy", dependencies: ["SyncModel"]),
        // The core's ports and the values that cross them: what the sync needs from a register (`RegisterPort`).
        // Adapters depend on it; the engine depends on it and on no adapter of the register.
        .target(name: "SyncCore", dependencies: ["SyncModel"]),
        // The canonical store on SQLite (GRDB): migrations, records, outbox, checkpoints, tombstones, the writer
        // lease; an adapter of `RegisterPort`.
        .target(
            name: "SyncStore",
            dependencies: [
                "SyncModel", "SubjectPolicy", "SyncCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                // NIOThreadPool: the threads a register's transactions wait on (`RegisterThreads`).
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The register on PostgreSQL (postgres-nio): the store's rules on a database several hosts share, its own
        // migrations, and the writer lease as a session advisory lock the server lets go of when its holder dies.
        .target(
            name: "PostgresRegister",
            dependencies: [
                "SyncModel", "SyncCore", "SyncStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HubSpot REST client: transport, rate limiter, retries, paging, typed endpoints; the adapter of the core's
        // `CRMPort` (HubSpot's JSON decoded into the core's values).
        .target(
            name: "HubSpotClient",
            dependencies: [
                "SyncModel", "SyncCore",
                .product(name: "Logging", package: "swift-log"),
                // The HTTP client: SwiftNIO's, as Foundation's URLSession spins while it waits on Linux.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Pull, match, plan, apply, erasure propagation, reports: the only module that joins register and CRM, through
        // the core's two ports; it imports no adapter of either.
        .target(
            name: "SyncEngine",
            dependencies: [
                "SyncModel", "SubjectPolicy", "SyncCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // What `crmsync run` exports for Prometheus (through swift-metrics) and its opt-in listener: /metrics, /health.
        .target(
            name: "SyncMetrics",
            dependencies: [
                "SyncModel", "SyncEngine",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test doubles (a manual clock) for the tests, the model checker and the benchmarks; never shipped, so no
        // production module or the `crmsync` executable depends on it. (The mock's typed control client lives with
        // the mock in `MockHubSpot`; the synthetic register stays in SyncModel because `crmsync demo` ships it.)
        .target(
            name: "SyncTesting",
            dependencies: [
                "SyncModel", "SyncStore", "PostgresRegister", .product(name: "Logging", package: "swift-log"),
            ]),
        // The model-based checker: generated histories of edits, syncs and crashes on both sides, and the
        // README's promises checked after every sync. Used by the tests and `crmsync-bench check`; never shipped.
        .target(
            name: "SyncChecking",
            dependencies: [
                "SyncModel", "SubjectPolicy", "SyncCore", "SyncStore", "SyncEngine", "HubSpotClient", "MockHubSpot",
                "SyncTesting", "PostgresRegister", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "crmsync",
            dependencies: [
                "SyncModel", "SyncCore", "SyncStore", "PostgresRegister", "SyncEngine", "HubSpotClient", "MockHubSpot",
                "SyncMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "crmsync-bench",
            dependencies: [
                "SyncModel", "SyncCore", "SyncStore", "PostgresRegister", "SyncEngine", "HubSpotClient", "MockHubSpot",
                "SyncChecking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The mock CRM speaks HubSpot's JSON on its own: it never imports HubSpotClient. With it, the typed client
        // of its control surface (`MockControlClient`) that the tests, the demo and the benchmarks use.
        .target(
            name: "MockHubSpot",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Mocks/MockHubSpot"
        ),
        .executableTarget(
            name: "mock-hubspot",
            dependencies: [
                "MockHubSpot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Mocks/mock-hubspot"
        ),
        .testTarget(
            name: "SyncModelTests",
            dependencies: ["SyncModel", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "SubjectPolicyTests",
            dependencies: [
                "SubjectPolicy", "SyncModel", .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        // The register port's contract, asked of every adapter.
        .testTarget(
            name: "RegisterContractTests",
            dependencies: [
                "SyncCore", "SyncStore", "PostgresRegister", "SyncModel", "SyncTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "SyncStoreTests", dependencies: ["SyncStore", "SyncCore", "SyncModel", "SyncTesting"]),
        .testTarget(
            name: "HubSpotClientTests", dependencies: ["HubSpotClient", "SyncCore", "MockHubSpot", "SyncTesting"]),
        .testTarget(
            name: "SyncEngineTests",
            dependencies: [
                "SyncEngine", "SyncCore", "SyncStore", "SyncModel", "SubjectPolicy", "HubSpotClient", "MockHubSpot",
                "SyncChecking",
                "SyncTesting",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "MockHubSpotTests",
            dependencies: [
                "MockHubSpot", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]),
        .testTarget(name: "SyncMetricsTests", dependencies: ["SyncMetrics", "SyncEngine"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["crmsync", "MockHubSpot", "SyncEngine", "SyncCore", "SyncStore", "SyncTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
