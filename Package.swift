// swift-tools-version: 6.1
import PackageDescription

/// One settings list for every target (grpc-swift-2's habit): Swift 6 language mode and the
/// upcoming features that keep imports and existentials explicit.
let settings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Pollen",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Pollen", targets: ["Pollen"]),
        .library(name: "PollenSimulation", targets: ["PollenSimulation"]),
        .library(name: "PollenApps", targets: ["PollenApps"]),
        .library(name: "PollenWire", targets: ["PollenWire"]),
        .library(name: "PollenNode", targets: ["PollenNode"]),
        .executable(name: "pollen", targets: ["pollen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        .target(name: "PollenKernels", swiftSettings: settings),
        .target(
            name: "PollenCore",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: settings
        ),
        .target(name: "PollenML", dependencies: ["PollenCore", "PollenKernels"], swiftSettings: settings),
        .target(
            name: "PollenWire",
            dependencies: [
                "PollenCore", "PollenKernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Generated/README.md"],
            swiftSettings: settings
        ),
        .target(name: "PollenStrategy", dependencies: ["PollenCore", "PollenKernels"], swiftSettings: settings),
        .target(
            name: "PollenStore",
            dependencies: ["PollenCore", "PollenWire", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: settings
        ),
        .target(
            name: "PollenLink",
            dependencies: [
                "PollenCore", "PollenWire", "PollenStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["FlowerApp"],
            swiftSettings: settings
        ),
        .target(
            name: "PollenNode",
            dependencies: [
                "PollenCore", "PollenWire",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: settings
        ),
        .target(
            name: "PollenSimulation",
            dependencies: ["PollenCore", "PollenStrategy", "PollenKernels"],
            swiftSettings: settings
        ),
        .target(
            name: "PollenApps",
            dependencies: ["PollenCore", "PollenML", "PollenStrategy", "PollenKernels"],
            resources: [.copy("Datasets")],
            swiftSettings: settings
        ),
        .target(
            name: "Pollen",
            dependencies: ["PollenCore", "PollenKernels", "PollenStrategy", "PollenML", "PollenSimulation"],
            swiftSettings: settings
        ),
        .target(
            name: "PollenCLI",
            dependencies: [
                "Pollen", "PollenApps", "PollenLink", "PollenNode", "PollenStore", "PollenWire",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(name: "pollen", dependencies: ["PollenCLI"], swiftSettings: settings),

        .testTarget(name: "PollenKernelsTests", dependencies: ["PollenKernels"], swiftSettings: settings),
        .testTarget(name: "PollenCoreTests", dependencies: ["PollenCore"], swiftSettings: settings),
        .testTarget(name: "PollenMLTests", dependencies: ["PollenML", "PollenApps"], swiftSettings: settings),
        .testTarget(
            name: "PollenWireTests",
            dependencies: [
                "PollenWire", .product(name: "SwiftProtobuf", package: "swift-protobuf"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Oracle"],
            swiftSettings: settings
        ),
        .testTarget(name: "PollenStoreTests", dependencies: ["PollenStore"], swiftSettings: settings),
        .testTarget(
            name: "PollenLinkTests",
            dependencies: [
                "PollenLink", "PollenWire", "PollenStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: settings
        ),
        .testTarget(name: "PollenStrategyTests", dependencies: ["PollenStrategy", "PollenKernels", "PollenWire"], swiftSettings: settings),
        .testTarget(
            name: "PollenSimulationTests",
            dependencies: ["PollenSimulation", "PollenStrategy"],
            swiftSettings: settings
        ),
        .testTarget(name: "PollenAppsTests", dependencies: ["PollenApps", "PollenSimulation"], swiftSettings: settings),
        .testTarget(
            name: "PollenCLITests",
            dependencies: [
                "PollenCLI", "PollenApps", "PollenWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: settings
        ),
        .testTarget(name: "PollenNodeTests", dependencies: ["PollenNode", "PollenCore", "PollenWire"], swiftSettings: settings),
        .testTarget(name: "EndToEndTests", dependencies: [], swiftSettings: settings),
    ]
)
