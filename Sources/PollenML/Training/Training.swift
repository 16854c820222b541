public import PollenKernels

/// How a model is trained on one data set: epochs, batch size, learning rate and optimiser.
public struct TrainingOptions: Sendable, Hashable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var optimizer: OptimizerKind

    public init(epochs: Int = 1, batchSize: Int = 32, learningRate: Double = 0.1, optimizer: OptimizerKind = .sgd(momentum: 0)) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.optimizer = optimizer
    }
}

/// What one call to `Training.train` did.
public struct TrainingSummary: Sendable, Hashable {
    /// The mean loss over every row of every epoch, measured as the rows were trained on.
    public var meanLoss: Double
    /// The number of rows in the data set (Flower's `num-examples`: the weight of this update).
    public var exampleCount: Int
}

/// A model's quality on a data set.
public struct Evaluation: Sendable, Hashable {
    /// The mean cross-entropy loss.
    public var loss: Double
    /// The fraction of rows whose most probable class is their label.
    public var accuracy: Double
    /// The area under the ROC curve, for binary problems with both classes present; `nil` otherwise.
    public var rocAUC: Double?
    /// The number of rows evaluated.
    public var exampleCount: Int
}

/// Mini-batch training and evaluation of a `NeuralNetwork` on a `Dataset`.
public enum Training {
    /// Trains `parameters` in place with mini-batch gradient descent: each epoch visits the rows in an order
    /// drawn from `generator`, in batches of `options.batchSize` (the last one partial).
    public static func train(
        _ network: NeuralNetwork, parameters: inout [Float], on data: Dataset, options: TrainingOptions,
        generator: inout SeededGenerator
    ) throws -> TrainingSummary {
        try check(network, parameters: parameters, data: data)
        guard options.epochs >= 0, options.batchSize > 0, options.learningRate > 0, options.learningRate.isFinite else {
            throw MLError(
                code: .invalidArgument,
                message: "training needs epochs >= 0, batch size > 0 and a positive learning rate; got \(options.epochs), \(options.batchSize), \(options.learningRate)"
            )
        }
        let rows = data.rowCount
        guard rows > 0 else { return TrainingSummary(meanLoss: 0, exampleCount: 0) }
        let d = data.featureCount
        let batchCapacity = min(options.batchSize, rows)
        var workspace = NeuralNetwork.Workspace(network: network, batchCapacity: batchCapacity)
        var optimizer = options.optimizer.make(learningRate: options.learningRate, parameterCount: network.parameterCount)
        var gradients = [Float](repeating: 0, count: network.parameterCount)
        var batchFeatures = [Float](repeating: 0, count: batchCapacity * d)
        var batchLabels = [Int32](repeating: 0, count: batchCapacity)
        var order = Array(0..<rows)
        var lossSum = 0.0

        for _ in 0..<options.epochs {
            generator.shuffle(&order)
            var start = 0
            while start < rows {
                let batch = min(batchCapacity, rows - start)
                data.features.withUnsafeBufferPointer { all in
                    batchFeatures.withUnsafeMutableBufferPointer { target in
                        for b in 0..<batch {
                            let row = order[start + b]
                            (target.baseAddress! + b * d).update(from: all.baseAddress! + row * d, count: d)
                            batchLabels[b] = data.labels[row]
                        }
                    }
                }
                parameters.withUnsafeMutableBufferPointer { params in
                    gradients.withUnsafeMutableBufferPointer { grads in
                        lossSum += network.lossAndGradient(
                            parameters: params.baseAddress!, input: batchFeatures, labels: batchLabels, batch: batch,
                            gradients: grads.baseAddress!, workspace: &workspace
                        )
                        optimizer.step(parameters: params, gradients: UnsafeBufferPointer(grads))
                    }
                }
                start += batch
            }
        }
        let visited = rows * options.epochs
        return TrainingSummary(meanLoss: visited > 0 ? lossSum / Double(visited) : 0, exampleCount: rows)
    }

    /// Evaluates `parameters` on every row of `data`.
    public static func evaluate(_ network: NeuralNetwork, parameters: [Float], on data: Dataset) throws -> Evaluation {
        try check(network, parameters: parameters, data: data)
        let rows = data.rowCount
        guard rows > 0 else { return Evaluation(loss: 0, accuracy: 0, rocAUC: nil, exampleCount: 0) }
        let batchCapacity = min(256, rows)
        var workspace = NeuralNetwork.Workspace(network: network, batchCapacity: batchCapacity)
        let outputs = network.layers.last!.outputs
        let outputOffset = workspace.activationOffsets.last!
        var lossSum = 0.0
        var correct = 0
        var scores = [Double]()
        if outputs == 1 { scores.reserveCapacity(rows) }
        var start = 0
        while start < rows {
            let batch = min(batchCapacity, rows - start)
            parameters.withUnsafeBufferPointer { params in
                data.features.withUnsafeBufferPointer { all in
                    network.predictProbabilities(
                        parameters: params.baseAddress!, input: all.baseAddress! + start * data.featureCount, batch: batch,
                        workspace: &workspace
                    )
                }
            }
            for b in 0..<batch {
                let label = Int(data.labels[start + b])
                let probabilities = workspace.activations[(outputOffset + b * outputs)..<(outputOffset + (b + 1) * outputs)]
                let predicted: Int
                let probabilityOfLabel: Float
                if outputs == 1 {
                    let p = probabilities.first!
                    predicted = p >= 0.5 ? 1 : 0
                    probabilityOfLabel = label == 1 ? p : 1 - p
                    scores.append(Double(p))
                } else {
                    predicted = probabilities.indices.max { probabilities[$0] < probabilities[$1] }! - probabilities.startIndex
                    probabilityOfLabel = probabilities[probabilities.startIndex + label]
                }
                if predicted == label { correct += 1 }
                // Clamp as scikit-learn's log_loss does, so one confident mistake stays finite.
                lossSum -= log(Double(max(probabilityOfLabel, 1e-7)))
            }
            start += batch
        }
        let auc = outputs == 1 ? ClassificationMetrics.rocAUC(scores: scores, labels: data.labels) : nil
        return Evaluation(loss: lossSum / Double(rows), accuracy: Double(correct) / Double(rows), rocAUC: auc, exampleCount: rows)
    }

    private static func check(_ network: NeuralNetwork, parameters: [Float], data: Dataset) throws {
        guard parameters.count == network.parameterCount else {
            throw MLError(code: .parameterMismatch, message: "\(parameters.count) parameters for a network of \(network.parameterCount)")
        }
        guard data.featureCount == network.featureCount, data.classCount <= network.classCount else {
            throw MLError(
                code: .invalidArgument,
                message: "the model expects \(network.featureCount) features and \(network.classCount) classes; the data has \(data.featureCount) and \(data.classCount)"
            )
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
