// swift-tools-version: 6.1
import PackageDescription

// Pollen's benchmarks, a package of their own so that the main package carries no benchmark dependency.
let package = Package(
    name: "PollenBench",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Pollen", path: "..")],
    targets: [
        .executableTarget(
            name: "SimulationBench",
            dependencies: [
                .product(name: "Pollen", package: "Pollen"),
                .product(name: "PollenApps", package: "Pollen"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
