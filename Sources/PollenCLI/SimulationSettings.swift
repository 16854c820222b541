public import PollenApps
public import PollenCore
public import PollenML

/// Everything `pollen simulate` needs, resolved from the embedded default, an optional `pollen.toml`,
/// `--run-config` overrides and flags, in that order, and validated once.
public struct SimulationSettings: Sendable {
    /// The app's run configuration (`[app.config]`).
    public var runConfig: UserConfig
    /// The simulation's settings (`[simulation]`).
    public var simulation: UserConfig

    /// The keys `[simulation]` may hold.
    static let simulationKeys: Set<String> = [
        "num-supernodes", "dataset", "label", "partitioner", "dirichlet-alpha", "partition-column", "test-fraction",
        "local-test-fraction", "failure-rate", "timeout-rate", "output",
    ]

    /// The embedded default.
    public static func embeddedDefault() throws -> SimulationSettings {
        let parsed = try TOMLConfig.parse(DefaultConfig.toml, source: "the embedded default")
        return SimulationSettings(runConfig: parsed.app, simulation: parsed.simulation)
    }

    /// Settings from a `pollen.toml` file laid over the embedded default.
    public static func load(path: String?) throws -> SimulationSettings {
        var settings = try embeddedDefault()
        guard let path else { return settings }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CLIError("cannot read the config file '\(path)': \(error.localizedDescription)")
        }
        let parsed = try TOMLConfig.parse(text, source: path)
        try settings.apply(app: parsed.app, simulation: parsed.simulation, source: path)
        return settings
    }

    /// Lays `app` and `simulation` values over these settings, rejecting keys no part of Pollen reads.
    public mutating func apply(app: UserConfig, simulation: UserConfig, source: String) throws {
        for key in app.keys where !TabularAppConfig.keys.contains(key) {
            throw CLIError("\(source): unknown run-config key '\(key)'; known keys: \(TabularAppConfig.keys.sorted().joined(separator: ", "))")
        }
        for key in simulation.keys where !Self.simulationKeys.contains(key) {
            throw CLIError("\(source): unknown simulation key '\(key)'; known keys: \(Self.simulationKeys.sorted().joined(separator: ", "))")
        }
        runConfig.merge(app) { $1 }
        self.simulation.merge(simulation) { $1 }
    }

    /// The validated app configuration.
    public func appConfig() throws -> TabularAppConfig { try TabularAppConfig(runConfig: runConfig) }

    /// The validated simulation plan.
    public func plan() throws -> SimulationPlan {
        let read = ConfigReader(simulation)
        let dataset = try read.string("dataset", default: "breast-cancer")
        let label = try read.string("label", default: "")
        let partitionColumn = try read.string("partition-column", default: "")
        let nodes = try read.int("num-supernodes", default: 10, in: 1...10_000_000)
        let partitioner: Partitioner
        switch try read.string("partitioner", default: "dirichlet", allowed: ["iid", "dirichlet", "column"]) {
        case "iid": partitioner = .iid(count: nodes)
        case "column":
            guard !partitionColumn.isEmpty else {
                throw AppConfigError(key: "partition-column", message: "partitioner 'column' needs the column to partition by (--partition-column)")
            }
            partitioner = .byGroup
        default:
            let alpha = try read.double("dirichlet-alpha", default: 0.5, in: 1e-6...1e6)
            // Flower's DirichletPartitioner keeps partitions of at least 10 rows.
            partitioner = .dirichlet(count: nodes, alpha: alpha, minimumSize: 10)
        }
        return SimulationPlan(
            dataset: dataset, label: label.isEmpty ? nil : label, partitionColumn: partitionColumn.isEmpty ? nil : partitionColumn,
            partitioner: partitioner,
            testFraction: try read.double("test-fraction", default: 0.2, in: 0.01...0.9),
            localTestFraction: try read.double("local-test-fraction", default: 0.2, in: 0...0.9),
            failureRate: try read.double("failure-rate", default: 0, in: 0...1),
            timeoutRate: try read.double("timeout-rate", default: 0, in: 0...1),
            outputDirectory: try read.string("output", default: "runs")
        )
    }
}

/// The simulation half of the settings, validated.
public struct SimulationPlan: Sendable {
    /// A bundled data set's name or a CSV file's path.
    public var dataset: String
    /// The label column of a CSV file.
    public var label: String?
    /// The column whose values name each row's site, for partitioning by column.
    public var partitionColumn: String?
    public var partitioner: Partitioner
    public var testFraction: Double
    public var localTestFraction: Double
    public var failureRate: Double
    public var timeoutRate: Double
    /// Where run folders are created; empty for none.
    public var outputDirectory: String

    /// Loads the data set: a bundled one by name, or a CSV file (which needs `label`).
    public func loadDataset() throws -> Dataset {
        if let bundled = BundledDataset(rawValue: dataset), label == nil || label == bundled.labelColumn {
            guard let partitionColumn else { return try bundled.load() }
            return try CSVLoader(labelColumn: bundled.labelColumn, groupColumn: partitionColumn).load(path: bundled.path)
        }
        guard let label else {
            throw AppConfigError(
                key: "label",
                message: "'\(dataset)' is not a bundled data set (\(BundledDataset.allCases.map(\.rawValue).joined(separator: ", "))); "
                    + "for a CSV file, name its label column with --label"
            )
        }
        if dataset.hasSuffix(".npy") {
            guard partitionColumn == nil else {
                throw AppConfigError(key: "partition-column", message: ".npy data sets have no columns to partition by; use iid or dirichlet")
            }
            return try NPYLoader.load(featuresPath: dataset, labelsPath: label)
        }
        return try CSVLoader(labelColumn: label, groupColumn: partitionColumn).load(path: dataset)
    }
}

import Foundation
