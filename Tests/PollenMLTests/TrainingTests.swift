import PollenApps
import PollenCore
import PollenKernels
import PollenML
import Testing

@Suite struct TrainingTests {
    /// The analytic gradient of every model against central finite differences of the loss.
    @Test(arguments: [ModelKind.logisticRegression, .softmaxRegression, .mlp(hidden: [5, 4])])
    func gradientsMatchFiniteDifferences(kind: ModelKind) throws {
        let classes = kind == .logisticRegression ? 2 : 3
        var generator = SeededGenerator(seed: 11)
        let rows = 6
        let features = (0..<(rows * 4)).map { _ in 2 * generator.nextUnitFloat() - 1 }
        let labels = (0..<rows).map { Int32($0 % classes) }
        let network = try NeuralNetwork(kind: kind, featureCount: 4, classCount: classes)
        var parameters = network.initialParameters(seed: 2).map { $0 + 0.1 * (2 * generator.nextUnitFloat() - 1) }
        var workspace = NeuralNetwork.Workspace(network: network, batchCapacity: rows)
        var gradients = [Float](repeating: 0, count: network.parameterCount)
        func loss(_ parameters: [Float]) -> Double {
            var scratch = [Float](repeating: 0, count: network.parameterCount)
            return network.lossAndGradient(
                parameters: parameters, input: features, labels: labels, batch: rows, gradients: &scratch, workspace: &workspace
            ) / Double(rows)
        }
        _ = network.lossAndGradient(
            parameters: parameters, input: features, labels: labels, batch: rows, gradients: &gradients, workspace: &workspace
        )
        let step: Float = 1e-2
        for i in 0..<network.parameterCount {
            let original = parameters[i]
            parameters[i] = original + step
            let up = loss(parameters)
            parameters[i] = original - step
            let down = loss(parameters)
            parameters[i] = original
            let numeric = (up - down) / Double(2 * step)
            #expect(abs(numeric - Double(gradients[i])) < 2e-3, "parameter \(i): numeric \(numeric), analytic \(gradients[i])")
        }
    }

    @Test func logisticRegressionLearnsBreastCancer() throws {
        let data = try BundledDataset.breastCancer.load()
        let split = try TrainTestSplit.split(rows: Array(0..<data.rowCount), labels: data.labels, testFraction: 0.2, seed: 1)
        let scaler = Standardizer(fitting: data.subset(split.train))
        let train = scaler.transform(data.subset(split.train))
        let test = scaler.transform(data.subset(split.test))
        let network = try NeuralNetwork(kind: .logisticRegression, featureCount: 30, classCount: 2)
        var parameters = network.initialParameters(seed: 0)
        var generator = SeededGenerator(seed: 0)
        let summary = try Training.train(
            network, parameters: &parameters, on: train, options: TrainingOptions(epochs: 20, batchSize: 32, learningRate: 0.1),
            generator: &generator
        )
        #expect(summary.exampleCount == train.rowCount)
        let evaluation = try Training.evaluate(network, parameters: parameters, on: test)
        #expect(evaluation.accuracy > 0.95)
        #expect(evaluation.rocAUC! > 0.98)
        #expect(evaluation.loss < 0.2)
    }

    @Test(arguments: [OptimizerKind.sgd(momentum: 0.9), .adam])
    func optimizersMinimiseAQuadratic(kind: OptimizerKind) {
        // f(θ) = ½‖θ - 3‖², gradient θ - 3.
        var optimizer = kind.make(learningRate: 0.05, parameterCount: 4)
        var theta = [Float](repeating: 0, count: 4)
        for _ in 0..<2_000 {
            let gradient = theta.map { $0 - 3 }
            theta.withUnsafeMutableBufferPointer { p in gradient.withUnsafeBufferPointer { optimizer.step(parameters: p, gradients: $0) } }
        }
        #expect(theta.allSatisfy { abs($0 - 3) < 1e-2 })
    }

    @Test func rocAUCMatchesHandComputedValues() {
        // Positives score 0.8, 0.4; negatives 0.6, 0.2: of four pairs, three are ordered correctly.
        #expect(ClassificationMetrics.rocAUC(scores: [0.8, 0.6, 0.4, 0.2], labels: [1, 0, 1, 0]) == 0.75)
        // A tie between a positive and a negative counts half.
        #expect(ClassificationMetrics.rocAUC(scores: [0.5, 0.5, 0.9], labels: [1, 0, 1]) == 0.75)
        #expect(ClassificationMetrics.rocAUC(scores: [0.1, 0.2], labels: [1, 1]) == nil)
    }

    @Test func parametersRoundTripThroughAnArrayRecord() throws {
        let network = try NeuralNetwork(kind: .mlp(hidden: [8]), featureCount: 5, classCount: 3)
        let parameters = network.initialParameters(seed: 7)
        let record = network.arrayRecord(from: parameters)
        #expect(record.keys == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])
        #expect(record["layers.0.weight"]?.shape == [8, 5])
        #expect(try network.parameters(from: record) == parameters)
        let other = try NeuralNetwork(kind: .softmaxRegression, featureCount: 5, classCount: 3)
        let error = #expect(throws: MLError.self) { try other.parameters(from: record) }
        #expect(error?.message.contains("'weight'") == true)
    }

    @Test func logisticRegressionRejectsMulticlassData() {
        let error = #expect(throws: MLError.self) { try NeuralNetwork(kind: .logisticRegression, featureCount: 64, classCount: 10) }
        #expect(error?.message.contains("softmax") == true)
    }

    @Test func standardizerFromSumsMatchesFitting() throws {
        let data = try BundledDataset.digits.load()
        let fitted = Standardizer(fitting: data)
        var sums = FeatureSums(data.subset(Array(0..<900)))
        sums.add(FeatureSums(data.subset(Array(900..<1_797))))
        let federated = Standardizer(sums: sums)
        for j in 0..<64 {
            #expect(abs(fitted.means[j] - federated.means[j]) < 1e-9)
            #expect(abs(fitted.standardDeviations[j] - federated.standardDeviations[j]) < 1e-6)
        }
    }
}
