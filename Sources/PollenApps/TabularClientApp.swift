public import PollenCore
public import PollenML
import PollenKernels

/// A node's local data: rows to train on and rows held out for federated evaluation.
public struct NodeData: Sendable {
    public var train: Dataset
    public var test: Dataset

    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }
}

/// The ClientApp of the built-in tabular app: it trains and evaluates the model it is sent on the node's data,
/// and answers the feature survey that lets the ServerApp standardise features without seeing a row.
///
/// Message types: `query` (feature sums and class counts), `train` (local epochs of mini-batch training; replies
/// with the new arrays and `num-examples`, `train-loss`), `evaluate` (replies with `num-examples`, `eval-loss`,
/// `eval-accuracy` and, for binary problems, `eval-auc`). Every setting comes in the message's config record.
public enum TabularClientApp {
    /// Loads a node's data from its context (for example from its `partition-id`, or a path in its node config).
    public typealias DataProvider = @Sendable (Context) throws -> NodeData

    /// The ClientApp reading each node's data through `data`.
    public static func make(data: @escaping DataProvider) -> ClientApp {
        var app = ClientApp()
        app.on(.query) { _, context in
            let local = try data(context).train
            let sums = FeatureSums(local)
            var reply = RecordDict()
            reply[metrics: "metrics"] = [
                TabularMetrics.numExamples: .int(Int64(local.rowCount)),
                "feature-sum": .doubleList(sums.sum),
                "feature-sum-sq": .doubleList(sums.sumOfSquares),
                "class-counts": .intList(local.classCounts.map { Int64($0) }),
            ]
            return reply
        }
        app.on(.train) { message, context in
            let task = try Instructions(message)
            let local = try task.prepare(data(context).train)
            let network = try task.network(for: local)
            var parameters = try network.parameters(from: task.arrays)
            var generator = SeededGenerator(seed: task.config.seed, stream: [context.nodeID.rawValue, UInt64(task.round)])
            let summary = try Training.train(
                network, parameters: &parameters, on: local, options: task.config.training, generator: &generator
            )
            guard summary.meanLoss.isFinite, parameters.allSatisfy(\.isFinite) else {
                throw MLError(
                    code: .invalidArgument,
                    message: "training diverged (the loss is not finite) at learning-rate \(task.config.training.learningRate); lower it"
                )
            }
            var reply = RecordDict()
            reply[arrays: "arrays"] = network.arrayRecord(from: parameters)
            reply[metrics: "metrics"] = [
                TabularMetrics.numExamples: .int(Int64(summary.exampleCount)),
                TabularMetrics.trainLoss: .double(summary.meanLoss),
            ]
            return reply
        }
        app.on(.evaluate) { message, context in
            let task = try Instructions(message)
            let local = try task.prepare(data(context).test)
            let network = try task.network(for: local)
            let evaluation = try Training.evaluate(network, parameters: network.parameters(from: task.arrays), on: local)
            var reply = RecordDict()
            reply[metrics: "metrics"] = evaluation.metricRecord
            return reply
        }
        return app
    }

    /// What a train or evaluate message asks for.
    struct Instructions {
        var arrays: ArrayRecord
        var config: TabularAppConfig
        var classCount: Int
        var round: Int
        var standardizer: Standardizer?

        init(_ message: Message) throws {
            guard let content = message.content, let arrays = content[arrays: "arrays"], let record = content[config: "config"] else {
                throw CoreError(code: .invalidMessage, message: "a \(message.metadata.type) message needs 'arrays' and 'config' records")
            }
            let settings = UserConfig(uniqueKeysWithValues: record.map { ($0.key, $0.value) })
            let read = ConfigReader(settings)
            self.arrays = arrays
            config = try TabularAppConfig(runConfig: settings)
            classCount = try read.int("num-classes", default: 2, in: 2...1_000_000)
            round = try read.int("server-round", default: 0, in: 0...Int.max)
            if let means = settings["feature-mean"]?.doubleListValue, let deviations = settings["feature-std"]?.doubleListValue {
                guard means.count == deviations.count else {
                    throw AppConfigError(key: "feature-std", message: "has \(deviations.count) values for \(means.count) means")
                }
                standardizer = Standardizer(means: means, standardDeviations: deviations)
            }
        }

        /// The local rows, standardised with the federation's statistics when the message carries them.
        func prepare(_ data: Dataset) throws -> Dataset {
            guard let standardizer else { return data }
            guard standardizer.means.count == data.featureCount else {
                throw MLError(
                    code: .invalidArgument,
                    message: "the federation's statistics cover \(standardizer.means.count) features, this node's data has \(data.featureCount)"
                )
            }
            return standardizer.transform(data)
        }

        func network(for data: Dataset) throws -> NeuralNetwork {
            guard data.classCount <= classCount else {
                throw MLError(code: .invalidArgument, message: "this node's data has \(data.classCount) classes, the model \(classCount)")
            }
            return try NeuralNetwork(kind: config.model, featureCount: data.featureCount, classCount: classCount)
        }
    }
}
