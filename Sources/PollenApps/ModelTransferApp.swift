public import PollenCore
public import PollenStrategy
import PollenKernels

/// The settings of the model-transfer app, read from the run configuration.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `num-server-rounds` | 3 | rounds of FedAvg |
/// | `model-parameters` | 25,000,000 | float32 parameters of the model (100 MB) |
/// | `min-available-nodes` | 2 | nodes to wait for; every one of them trains each round |
/// | `initial-model` | `zeros` | the model sent in round 1: `zeros`, or `random` (uniform in [-1, 1], seed 0: no two chunks alike) |
public struct ModelTransferConfig: Sendable, Hashable {
    public var rounds: Int
    public var parameters: Int
    public var minAvailableNodes: Int
    /// Whether the initial model is random rather than zeros.
    public var randomInitialModel: Bool

    /// The keys this app reads (besides `app`).
    public static let keys: Set<String> = ["num-server-rounds", "model-parameters", "min-available-nodes", "initial-model"]

    /// Reads and validates every key; rejects keys this app does not read.
    ///
    /// - Throws: `AppConfigError` naming the first invalid or unknown key.
    public init(runConfig: UserConfig) throws {
        for key in runConfig.keys where !Self.keys.contains(key) && key != BuiltInApp.configKey {
            throw AppConfigError(key: key, message: "the model-transfer app does not read it; it reads \(Self.keys.sorted().joined(separator: ", "))")
        }
        let read = ConfigReader(runConfig)
        rounds = try read.int("num-server-rounds", default: 3, in: 1...1_000_000)
        parameters = try read.int("model-parameters", default: 25_000_000, in: 1...1_000_000_000)
        minAvailableNodes = try read.int("min-available-nodes", default: 2, in: 1...1_000_000)
        randomInitialModel = try read.string("initial-model", default: "zeros", allowed: ["zeros", "random"]) == "random"
    }
}

/// A FedAvg run whose only work is moving a large model: the ServerApp sends `model-parameters` float32 zeros, or
/// random values (one array, `w`) to every node, each node adds 0.001 to every parameter (a stand-in for local training, so
/// that every reply differs from what was sent and must travel back) and FedAvg averages the replies.
///
/// This is the deployment benchmark's workload (`bench/transfer/`); the same app written for Flower is in
/// `bench/transfer/flower/`.
public enum ModelTransferApp {
    /// The name of the one array.
    public static let arrayName = "w"
    /// What each node adds to every parameter.
    public static let step: Float = 0.001

    /// Runs every round on `grid`; `onRound` sees each round as it ends.
    public static func run(
        config: ModelTransferConfig, grid: any Grid, onRound: @escaping @Sendable (RoundReport) -> Void = { _ in }
    ) async throws -> StrategyResult {
        let strategy = try FedAvg(
            fractionTrain: 1, fractionEvaluate: 0, minTrainNodes: config.minAvailableNodes, minEvaluateNodes: 0,
            minAvailableNodes: config.minAvailableNodes, acceptedFailureFraction: 0
        )
        return try await strategy.start(grid: grid, initialArrays: try initialModel(config), options: RunOptions(rounds: config.rounds), onRound: onRound)
    }

    /// The first and last parameter of `arrays`' model, which a run's log shows so that its outcome can be checked:
    /// each round adds `step` to every parameter of the model sent in round 1. `nil` without a float32 model.
    public static func endpoints(of arrays: ArrayRecord) -> (first: Float, last: Float)? {
        guard let model = arrays[arrayName], model.dtype == .float32, model.byteCount > 0 else { return nil }
        return try? model.withUnsafeBufferPointer(as: Float.self) { ($0[0], $0[$0.count - 1]) }
    }

    /// The model sent in round 1: zeros, or values drawn uniformly from [-1, 1] with seed 0.
    static func initialModel(_ config: ModelTransferConfig) throws -> ArrayRecord {
        guard config.randomInitialModel else { return [arrayName: try Tensor(zeros: .float32, shape: [config.parameters])] }
        return [arrayName: try Tensor(dtype: .float32, shape: [config.parameters]) { bytes in
            var generator = SeededGenerator(seed: 0)
            let values = bytes.bindMemory(to: Float.self)
            for index in values.indices { values[index] = Float.random(in: -1...1, using: &generator) }
        }]
    }

    /// The ClientApp: `train` replies with every array plus `step`, and `num-examples` 1.
    public static func clientApp() -> ClientApp {
        var app = ClientApp()
        app.on(.train) { message, _ in
            guard let arrays = message.content?[arrays: "arrays"] else {
                throw AppConfigError(key: "arrays", message: "a train message must carry the model in its 'arrays' record")
            }
            var trained = ArrayRecord()
            for (name, tensor) in arrays {
                guard tensor.dtype == .float32 else {
                    throw AppConfigError(key: name, message: "the model-transfer app trains float32 arrays, got \(tensor.dtype)")
                }
                // One pass from the received array into the new one (the received one is shared with the message).
                trained[name] = try Tensor(dtype: .float32, shape: tensor.shape) { destination in
                    let updated = destination.bindMemory(to: Float.self)
                    try tensor.withUnsafeBufferPointer(as: Float.self) { values in
                        for index in values.indices { updated[index] = values[index] + step }
                    }
                }
            }
            var reply = RecordDict()
            reply[arrays: "arrays"] = trained
            reply[metrics: "metrics"] = ["num-examples": 1]
            return reply
        }
        return app
    }
}
