import PollenKernels

/// An update rule that turns a gradient into a step on a flat parameter buffer.
public protocol Optimizer: Sendable {
    /// Updates `parameters` in place from `gradients` of the loss.
    mutating func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>)
}

/// The optimisers a run can choose, with their settings.
public enum OptimizerKind: Sendable, Hashable, CustomStringConvertible {
    /// Stochastic gradient descent with heavy-ball momentum (0: plain SGD).
    case sgd(momentum: Double)
    /// Adam (Kingma and Ba, 2015) with the usual betas 0.9 and 0.999.
    case adam

    /// A fresh optimiser of this kind for `parameterCount` parameters.
    public func make(learningRate: Double, parameterCount: Int) -> any Optimizer {
        switch self {
        case .sgd(let momentum): SGD(learningRate: Float(learningRate), momentum: Float(momentum), parameterCount: parameterCount)
        case .adam: Adam(learningRate: Float(learningRate), parameterCount: parameterCount)
        }
    }

    public var description: String {
        switch self {
        case .sgd(let momentum): momentum == 0 ? "sgd" : "sgd(momentum: \(momentum))"
        case .adam: "adam"
        }
    }
}

/// Stochastic gradient descent with momentum: `v = μv + g; θ -= lr·v` (PyTorch's formulation).
public struct SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    private var velocity: [Float]

    public init(learningRate: Float, momentum: Float = 0, parameterCount: Int) {
        self.learningRate = learningRate
        self.momentum = momentum
        velocity = momentum == 0 ? [] : [Float](repeating: 0, count: parameterCount)
    }

    public mutating func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        let lr = learningRate
        guard momentum != 0 else {
            VectorOps.axpy(-lr, gradients, parameters)
            return
        }
        let mu = momentum
        velocity.withUnsafeMutableBufferPointer { v in
            for i in 0..<parameters.count {
                v[i] = mu * v[i] + gradients[i]
                parameters[i] -= lr * v[i]
            }
        }
    }
}

/// Adam: per-parameter steps scaled by running estimates of the gradient's first and second moments.
public struct Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float = 0.9
    public let beta2: Float = 0.999
    public let epsilon: Float = 1e-8
    private var firstMoment: [Float]
    private var secondMoment: [Float]
    private var stepCount = 0

    public init(learningRate: Float, parameterCount: Int) {
        self.learningRate = learningRate
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = firstMoment
    }

    public mutating func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        stepCount += 1
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let correction1 = 1 - pow(b1, Float(stepCount))
        let correction2 = 1 - pow(b2, Float(stepCount))
        let stepSize = learningRate / correction1
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                for i in 0..<parameters.count {
                    let g = gradients[i]
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    parameters[i] -= stepSize * m[i] / ((v[i] / correction2).squareRoot() + eps)
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
