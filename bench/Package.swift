// swift-tools-version: 6.1
import PackageDescription

// Pollen's benchmarks, a package of their own so that the main package carries no benchmark dependency.
let package = Package(
    name: "PollenBench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Pollen", path: ".."),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "SimulationBench",
            dependencies: [
                .product(name: "Pollen", package: "Pollen"),
                .product(name: "PollenApps", package: "Pollen"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "FleetThroughputBench",
            dependencies: [
                .product(name: "PollenNode", package: "Pollen"),
                .product(name: "PollenWire", package: "Pollen"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
