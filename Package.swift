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
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // Pure values, clocks, schema and merge rules. Foundation value types only.
        .target(
            name: "RelaisCore",
            resources: [.copy("Resources/crm-schema.json")],
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
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisCoreTests",
            dependencies: ["RelaisCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisSQLiteTests",
            dependencies: ["RelaisSQLite"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaisProtocolTests",
            dependencies: ["RelaisProtocol", "RelaisCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
