public import PollenCore
import PollenKernels

/// The models Pollen trains on tabular data.
public enum ModelKind: Sendable, Hashable, CustomStringConvertible {
    /// Binary logistic regression: one linear output and a sigmoid.
    case logisticRegression
    /// Multinomial (softmax) regression: one linear output per class.
    case softmaxRegression
    /// A multilayer perceptron with ReLU hidden layers of the given widths; a sigmoid output for two classes,
    /// softmax otherwise.
    case mlp(hidden: [Int])

    public var description: String {
        switch self {
        case .logisticRegression: "logistic"
        case .softmaxRegression: "softmax"
        case .mlp(let hidden): "mlp(\(hidden.map(String.init).joined(separator: ",")))"
        }
    }
}

/// A feed-forward network of dense layers whose parameters live in one flat `Float` buffer.
///
/// The network is the model's shape only; parameters are passed in, so one network serves a thousand virtual
/// nodes that each hold their own parameters. Layer `l` stores its weight as `[outputs × inputs]` (row-major, as
/// PyTorch's `Linear`) followed by its bias. In an `ArrayRecord` a single-layer model's tensors are `weight` and
/// `bias`; a deeper one's are `layers.<l>.weight` and `layers.<l>.bias`.
public struct NeuralNetwork: Sendable, Hashable {
    /// One dense layer's shape and where its parameters sit in the flat buffer.
    public struct Layer: Sendable, Hashable {
        public let inputs: Int
        public let outputs: Int
        public let weightOffset: Int
        public var biasOffset: Int { weightOffset + inputs * outputs }
        public var parameterCount: Int { (inputs + 1) * outputs }
    }

    /// The model this network implements.
    public let kind: ModelKind
    /// The number of input features.
    public let featureCount: Int
    /// The number of classes.
    public let classCount: Int
    /// The dense layers, input to output.
    public let layers: [Layer]

    /// The total number of parameters.
    public var parameterCount: Int { layers.last.map { $0.biasOffset + $0.outputs } ?? 0 }

    /// A network of `kind` for `featureCount` inputs and `classCount` classes.
    ///
    /// - Throws: `MLError.invalidArgument` for logistic regression on more than two classes, or a hidden layer
    ///   with no units.
    public init(kind: ModelKind, featureCount: Int, classCount: Int) throws {
        guard featureCount > 0, classCount >= 2 else {
            throw MLError(code: .invalidArgument, message: "a model needs at least one feature and two classes")
        }
        let outputs: Int
        var widths = [featureCount]
        switch kind {
        case .logisticRegression:
            guard classCount == 2 else {
                throw MLError(
                    code: .invalidArgument,
                    message: "logistic regression is binary, but the data has \(classCount) classes; use the softmax model"
                )
            }
            outputs = 1
        case .softmaxRegression:
            outputs = classCount
        case .mlp(let hidden):
            guard !hidden.isEmpty, hidden.allSatisfy({ $0 > 0 }) else {
                throw MLError(code: .invalidArgument, message: "an MLP needs hidden layers of at least one unit, got \(hidden)")
            }
            widths += hidden
            outputs = classCount == 2 ? 1 : classCount
        }
        widths.append(outputs)
        var layers = [Layer]()
        var offset = 0
        for l in 1..<widths.count {
            let layer = Layer(inputs: widths[l - 1], outputs: widths[l], weightOffset: offset)
            layers.append(layer)
            offset += layer.parameterCount
        }
        self.kind = kind
        self.featureCount = featureCount
        self.classCount = classCount
        self.layers = layers
    }

    /// Initial parameters: zeros for the linear models (as scikit-learn starts), He-uniform weights and zero biases
    /// for an MLP, drawn from `seed`.
    public func initialParameters(seed: UInt64) -> [Float] {
        var parameters = [Float](repeating: 0, count: parameterCount)
        guard layers.count > 1 else { return parameters }
        var generator = SeededGenerator(seed: seed, stream: [0x696E_6974]) // "init"
        for layer in layers {
            let bound = Float((6.0 / Double(layer.inputs)).squareRoot())
            for i in 0..<(layer.inputs * layer.outputs) {
                parameters[layer.weightOffset + i] = (2 * generator.nextUnitFloat() - 1) * bound
            }
        }
        return parameters
    }

    /// The names and shapes of the parameter tensors, in buffer order.
    public var tensorLayout: [(name: String, shape: [Int], offset: Int)] {
        layers.enumerated().flatMap { index, layer -> [(name: String, shape: [Int], offset: Int)] in
            let prefix = layers.count == 1 ? "" : "layers.\(index)."
            return [
                (prefix + "weight", [layer.outputs, layer.inputs], layer.weightOffset),
                (prefix + "bias", [layer.outputs], layer.biasOffset),
            ]
        }
    }

    /// The parameters as an `ArrayRecord` of `float32` tensors named as in `tensorLayout`.
    public func arrayRecord(from parameters: [Float]) -> ArrayRecord {
        precondition(parameters.count == parameterCount, "\(parameters.count) parameters for a network of \(parameterCount)")
        return ArrayRecord(tensorLayout.map { entry in
            let count = entry.shape.reduce(1, *)
            // The slice matches the shape by construction of the layout, so this cannot throw.
            let tensor = try! Tensor(Array(parameters[entry.offset..<(entry.offset + count)]), shape: entry.shape)
            return (entry.name, tensor)
        })
    }

    /// The flat parameters held in `record`.
    ///
    /// - Throws: `MLError.parameterMismatch` naming the first tensor that is missing or has another shape or dtype.
    public func parameters(from record: ArrayRecord) throws -> [Float] {
        var parameters = [Float](repeating: 0, count: parameterCount)
        for entry in tensorLayout {
            guard let tensor = record[entry.name] else {
                throw MLError(
                    code: .parameterMismatch,
                    message: "the model arrays lack '\(entry.name)' (they hold \(record.keys)); the sender uses another model"
                )
            }
            guard tensor.shape == entry.shape, tensor.dtype == .float32 else {
                throw MLError(
                    code: .parameterMismatch,
                    message: "'\(entry.name)' is \(tensor.dtype) \(tensor.shape), this \(kind) model needs float32 \(entry.shape)"
                )
            }
            try tensor.withUnsafeBufferPointer(as: Float.self) { values in
                parameters.withUnsafeMutableBufferPointer { target in
                    _ = UnsafeMutableBufferPointer(rebasing: target[entry.offset..<(entry.offset + values.count)]).initialize(from: values)
                }
            }
        }
        return parameters
    }
}
