public import PollenCore
public import PollenML

/// The settings of the built-in tabular FL app, read from the run configuration (Flower's `run_config`, keys in
/// kebab-case as in a `pollen.toml`'s `[app.config]`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `num-server-rounds` | 20 | rounds of FedAvg |
/// | `fraction-train` / `fraction-evaluate` | 1.0 | share of nodes sampled per round |
/// | `min-train-nodes` / `min-evaluate-nodes` / `min-available-nodes` | 2 | FedAvg's minimums |
/// | `accepted-failure-fraction` | 0.5 | most failed replies a round tolerates |
/// | `model` | `logistic` | `logistic`, `softmax` or `mlp` |
/// | `hidden-layers` | `"64"` | MLP hidden widths, comma-separated |
/// | `optimizer` | `sgd` | `sgd` or `adam` |
/// | `momentum` | 0.0 | SGD momentum |
/// | `learning-rate` | 0.1 | local learning rate |
/// | `local-epochs` | 1 | local epochs per round |
/// | `batch-size` | 32 | local mini-batch size |
/// | `standardize` | true | standardise features with federated statistics |
/// | `seed` | 42 | seed of initial weights, sampling and shuffles |
public struct TabularAppConfig: Sendable, Hashable {
    public var rounds: Int
    public var fractionTrain: Double
    public var fractionEvaluate: Double
    public var minTrainNodes: Int
    public var minEvaluateNodes: Int
    public var minAvailableNodes: Int
    public var acceptedFailureFraction: Double
    public var model: ModelKind
    public var training: TrainingOptions
    public var standardize: Bool
    public var seed: UInt64

    /// Reads and validates every key; unknown keys are left for other apps.
    ///
    /// - Throws: `AppConfigError` naming the first invalid key.
    public init(runConfig: UserConfig) throws {
        let read = ConfigReader(runConfig)
        rounds = try read.int("num-server-rounds", default: 20, in: 0...1_000_000)
        fractionTrain = try read.double("fraction-train", default: 1, in: 0...1)
        fractionEvaluate = try read.double("fraction-evaluate", default: 1, in: 0...1)
        minTrainNodes = try read.int("min-train-nodes", default: 2, in: 0...Int.max)
        minEvaluateNodes = try read.int("min-evaluate-nodes", default: 2, in: 0...Int.max)
        minAvailableNodes = try read.int("min-available-nodes", default: 2, in: 0...Int.max)
        acceptedFailureFraction = try read.double("accepted-failure-fraction", default: 0.5, in: 0...1)
        switch try read.string("model", default: "logistic", allowed: ["logistic", "softmax", "mlp"]) {
        case "softmax": model = .softmaxRegression
        case "mlp": model = .mlp(hidden: try read.positiveIntList("hidden-layers", default: [64]))
        default: model = .logisticRegression
        }
        let optimizer: OptimizerKind
        switch try read.string("optimizer", default: "sgd", allowed: ["sgd", "adam"]) {
        case "adam": optimizer = .adam
        default: optimizer = .sgd(momentum: try read.double("momentum", default: 0, in: 0...0.999))
        }
        training = TrainingOptions(
            epochs: try read.int("local-epochs", default: 1, in: 1...10_000),
            batchSize: try read.int("batch-size", default: 32, in: 1...1_000_000),
            learningRate: try read.double("learning-rate", default: 0.1, in: 1e-9...100),
            optimizer: optimizer
        )
        standardize = try read.bool("standardize", default: true)
        seed = UInt64(try read.int("seed", default: 42, in: 0...Int.max))
    }

    /// The keys this app reads, for validating a configuration's spelling.
    public static let keys: Set<String> = [
        "num-server-rounds", "fraction-train", "fraction-evaluate", "min-train-nodes", "min-evaluate-nodes",
        "min-available-nodes", "accepted-failure-fraction", "model", "hidden-layers", "optimizer", "momentum",
        "learning-rate", "local-epochs", "batch-size", "standardize", "seed",
    ]
}

extension TabularAppConfig {
    /// The configuration as run-config entries, the inverse of `init(runConfig:)`: what the ServerApp sends
    /// nodes in every message's config record.
    public var runConfig: UserConfig {
        var config: UserConfig = [
            "num-server-rounds": .int(Int64(rounds)),
            "fraction-train": .double(fractionTrain),
            "fraction-evaluate": .double(fractionEvaluate),
            "min-train-nodes": .int(Int64(minTrainNodes)),
            "min-evaluate-nodes": .int(Int64(minEvaluateNodes)),
            "min-available-nodes": .int(Int64(minAvailableNodes)),
            "accepted-failure-fraction": .double(acceptedFailureFraction),
            "learning-rate": .double(training.learningRate),
            "local-epochs": .int(Int64(training.epochs)),
            "batch-size": .int(Int64(training.batchSize)),
            "standardize": .bool(standardize),
            "seed": .int(Int64(seed)),
        ]
        switch model {
        case .logisticRegression: config["model"] = "logistic"
        case .softmaxRegression: config["model"] = "softmax"
        case .mlp(let hidden):
            config["model"] = "mlp"
            config["hidden-layers"] = .intList(hidden.map { Int64($0) })
        }
        switch training.optimizer {
        case .adam: config["optimizer"] = "adam"
        case .sgd(let momentum):
            config["optimizer"] = "sgd"
            config["momentum"] = .double(momentum)
        }
        return config
    }
}
