public import PollenML
import PollenKernels

/// The centrally trained reference model: the same model, optimiser and hyper-parameters as a federated run,
/// trained on all the federation's training rows pooled, for as many epochs as the federation's rounds times
/// local epochs. What federation would cost, measured against what pooling the data would give.
public enum CentralBaseline {
    /// Trains on `train` (standardised with its own statistics when `config.standardize`) and evaluates on `test`.
    public static func evaluate(config: TabularAppConfig, train: Dataset, test: Dataset) throws -> (evaluation: Evaluation, parameters: [Float]) {
        let standardizer = config.standardize ? Standardizer(fitting: train) : nil
        let trainSet = standardizer?.transform(train) ?? train
        let testSet = standardizer?.transform(test) ?? test
        let network = try NeuralNetwork(kind: config.model, featureCount: train.featureCount, classCount: train.classCount)
        var parameters = network.initialParameters(seed: config.seed)
        var options = config.training
        options.epochs = max(1, config.rounds * config.training.epochs)
        var generator = SeededGenerator(seed: config.seed, stream: [0x6365_6E74_7261_6C]) // "central"
        _ = try Training.train(network, parameters: &parameters, on: trainSet, options: options, generator: &generator)
        return (try Training.evaluate(network, parameters: parameters, on: testSet), parameters)
    }
}
