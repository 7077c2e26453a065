// swift-tools-version:6.2

import PackageDescription

/// Every target builds in Swift 6 language mode with strict concurrency.
/// `ExistentialAny` and `InternalImportsByDefault` keep the public surface deliberate:
/// a module re-exports nothing unless it says `public import`.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "relais",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "relais", targets: ["relais"]),
        .executable(name: "relais-hub", targets: ["relais-hub"]),
        .library(name: "RelaisCore", targets: ["RelaisCore"]),
        .library(name: "RelaisProtocol", targets: ["RelaisProtocol"]),
        .library(name: "RelaisClient", targets: ["RelaisClient"]),
        .library(name: "RelaisHub", targets: ["RelaisHub"]),
    ],
    dependencies: [
        // Command lines of `relais` and `relais-hub`.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // `relais-hub serve` settings from RELAIS_* variables and a JSON file (Deploy/README.md). Already
        // in the graph through AsyncHTTPClient; its default JSON trait adds the file provider.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        // FilePath, which swift-configuration's file provider takes; already in the graph through it.
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        // SHA-256 for token hashes and batch digests (Foundation has none on Linux).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // The wire format's runtime; the generated code is committed (scripts/generate-protocol.sh).
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        // The hub's HTTP server and, through it, AsyncHTTPClient for the replica's sync.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // Server-rendered admin pages that work without JavaScript.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Already in the graph through Hummingbird and AsyncHTTPClient; declared because our code
        // imports their modules directly (byte buffers, HTTP status types, TLS configuration).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Already in the graph through Hummingbird: the HTTP request parts the hub's connection guard
        // (header and body timeouts) reads in the channel pipeline.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // The scale-out hub store: several hub processes on one PostgreSQL database (DESIGN §7).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Pure values, clocks, schema and merge rules. Foundation value types only.
        .target(
            name: "RelaisCore",
            resources: [.copy("Resources/crm-schema.json"), .copy("Resources/crm-schema-v1.json")],
            swiftSettings: swiftSettings
        ),
        // System libraries: the storage and compression base.
        .systemLibrary(name: "CRelaisSQLite", path: "Sources/CRelaisSQLite"),
        .systemLibrary(name: "CRelaisZlib", path: "Sources/CRelaisZlib"),
        // A thin, typed layer over the SQLite C API shared by the replica and the hub store.
        .target(
            name: "RelaisSQLite",
            dependencies: ["CRelaisSQLite"],
            swiftSettings: swiftSettings
        ),
        // Wire messages (generated from Protocol/relais.proto), zlib framing, limits and codecs.
        .target(
            name: "RelaisProtocol",
            dependencies: [
                "RelaisCore",
                "CRelaisZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // The salesperson's offline replica: a plain SQLite file, change capture, pending queue, sync.
        .target(
            name: "RelaisClient",
            dependencies: [
                "RelaisCore",
                "RelaisProtocol",
                "RelaisSQLite",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // TLS 1.2 at least and the firm's own CA (HubSecurity); already under AsyncHTTPClient.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The hub: HTTP routes, identity and access, push/pull, conflict reports, stores.
        .target(
            name: "RelaisHub",
            dependencies: [
                // Snapshots are built with the laptop's own apply code (docs/SYNC.md "Snapshot bootstrap").
                "RelaisClient",
                "RelaisCore",
                "RelaisProtocol",
                "RelaisSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            resources: [.copy("Web/Templates"), .copy("Web/Static")],
            swiftSettings: swiftSettings
        ),
        // The seeded week in the field that `relais-hub demo` runs: real replicas syncing with a real hub.
        .target(
            name: "RelaisDemo",
            dependencies: ["RelaisClient", "RelaisCore", "RelaisHub"],
            swiftSettings: swiftSettings
        ),
        // Fixtures shared by the test targets: temporary folders, a live hub on loopback, enrolled replicas.
        .target(
            name: "RelaisTesting",
            dependencies: [
                "RelaisCore", "RelaisClient", "RelaisHub", "RelaisProtocol", "RelaisSQLite",
                // WireClient: the hub's wire protocol over HTTP, for tests below the client library.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // Throwaway databases for the PostgreSQL store's tests (PostgresTesting.swift).
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "relais",
            dependencies: [
                "RelaisClient",
                "RelaisCore",
                "RelaisProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "relais-hub",
            dependencies: [
                "RelaisHub",
                "RelaisClient",
                "RelaisCore",
                "RelaisDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A test-support program the crash tests run as a child process and kill with SIGKILL.
        .executableTarget(
            name: "relais-fault",
            dependencies: ["RelaisClient", "RelaisCore", "RelaisProtocol", "RelaisSQLite"],
            path: "Tests/Support/relais-fault",
            swiftSettings: swiftSettings
        ),
        // The seeded fault simulation's soak command (docs/RELIABILITY.md).
        .executableTarget(
            name: "relais-sim",
            dependencies: ["RelaisClient", "RelaisCore", "RelaisHub", "RelaisProtocol", "RelaisTesting"],
            path: "Tests/Support/relais-sim",
            swiftSettings: swiftSettings
        ),
        // The SQLite session extension, the peer relais-bench measures Relais against (C: the session
        // API is declared only under macros that the product's SQLite module does not set). Links the
        // system libsqlite3 and zlib the product already uses.
        .target(
            name: "CSessionPeer",
            path: "Benchmarks/CSessionPeer",
            linkerSettings: [.linkedLibrary("sqlite3"), .linkedLibrary("z")]
        ),
        // Benchmarks against same-run baselines (docs/PERFORMANCE.md). Adds no dependency.
        .executableTarget(
            name: "relais-bench",
            dependencies: [
                "CSessionPeer", "RelaisClient", "RelaisCore", "RelaisHub", "RelaisProtocol", "RelaisSQLite",
                "RelaisTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Benchmarks/relais-bench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisCoreTests",
            dependencies: ["RelaisCore", "RelaisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisSQLiteTests",
            dependencies: ["RelaisSQLite"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisProtocolTests",
            dependencies: ["RelaisProtocol", "RelaisCore", "RelaisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisClientTests",
            dependencies: [
                "RelaisClient", "RelaisCore", "RelaisHub", "RelaisProtocol", "RelaisSQLite", "RelaisTesting",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisHubTests",
            dependencies: [
                "RelaisHub",
                "RelaisClient",
                "RelaisCore",
                "RelaisProtocol",
                "RelaisSQLite",
                "RelaisTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisSimulationTests",
            dependencies: [
                "RelaisClient", "RelaisCore", "RelaisHub", "RelaisProtocol", "RelaisSQLite", "RelaisTesting",
            ],
            swiftSettings: swiftSettings
        ),
        // Tests that run the built executables as a user would (end to end, command lines, crashes by
        // SIGKILL), and tests at full size (a 100,000-row import, the demo's week).
        .testTarget(
            name: "RelaisIntegrationTests",
            dependencies: [
                "RelaisClient", "RelaisCore", "RelaisDemo", "RelaisHub", "RelaisProtocol", "RelaisSQLite",
                "RelaisTesting",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
