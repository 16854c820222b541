import Foundation
import PollenKernels

extension NeuralNetwork {
    /// Scratch buffers for one batch of forward and backward passes, sized once and reused for every batch, so
    /// training allocates nothing per sample or per batch.
    public struct Workspace: Sendable {
        /// The largest batch the buffers hold.
        public let batchCapacity: Int
        /// Activations of every layer, `[batch × outputs]` each, one after another.
        var activations: [Float]
        /// Where each layer's activations start in `activations`.
        let activationOffsets: [Int]
        /// Two gradient buffers, `[batch × widest layer]` each: the current layer's and the previous layer's.
        var deltas: [Float]
        var previousDeltas: [Float]

        /// Buffers for `network` and batches of up to `batchCapacity` rows.
        public init(network: NeuralNetwork, batchCapacity: Int) {
            self.batchCapacity = batchCapacity
            var offsets = [Int]()
            var total = 0
            for layer in network.layers {
                offsets.append(total)
                total += batchCapacity * layer.outputs
            }
            activations = [Float](repeating: 0, count: total)
            activationOffsets = offsets
            let widest = network.layers.map { max($0.inputs, $0.outputs) }.max() ?? 1
            deltas = [Float](repeating: 0, count: batchCapacity * widest)
            previousDeltas = deltas
        }
    }

    /// Runs the forward pass for `batch` rows of `input` and turns the output logits into probabilities (sigmoid
    /// or softmax) in place, in the last layer's activations.
    public func predictProbabilities(parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, workspace: inout Workspace) {
        forward(parameters: parameters, input: input, batch: batch, workspace: &workspace)
        let outputs = layers[layers.count - 1].outputs
        let offset = workspace.activationOffsets[layers.count - 1]
        workspace.activations.withUnsafeMutableBufferPointer { activations in
            let logits = activations.baseAddress! + offset
            if outputs == 1 {
                for row in 0..<batch { logits[row] = 1 / (1 + exp(-logits[row])) }
                return
            }
            for row in 0..<batch { Self.softmax(logits + row * outputs, count: outputs) }
        }
    }

    /// Replaces `count` logits with their softmax, subtracting the maximum first so `exp` cannot overflow;
    /// returns the log of the normalising sum of the shifted logits plus the maximum (the log-sum-exp).
    @discardableResult
    static func softmax(_ z: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var maximum = z[0]
        for j in 1..<count { maximum = max(maximum, z[j]) }
        var total: Float = 0
        for j in 0..<count {
            let e = exp(z[j] - maximum)
            z[j] = e
            total += e
        }
        let inverseTotal = 1 / total
        for j in 0..<count { z[j] *= inverseTotal }
        return log(total) + maximum
    }

    /// Runs the forward pass for `batch` rows of `input`, leaving the output logits in the last layer's
    /// activations.
    public func forward(parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, workspace: inout Workspace) {
        let offsets = workspace.activationOffsets
        workspace.activations.withUnsafeMutableBufferPointer { activations in
            let base = activations.baseAddress!
            for (l, layer) in layers.enumerated() {
                let layerInput = l == 0 ? input : UnsafePointer(base + offsets[l - 1])
                let output = base + offsets[l]
                Matrix.multiplyTransposedB(
                    layerInput, parameters + layer.weightOffset, into: output, m: batch, n: layer.outputs, k: layer.inputs
                )
                let bias = parameters + layer.biasOffset
                for row in 0..<batch {
                    for j in 0..<layer.outputs { output[row * layer.outputs + j] += bias[j] }
                }
                if l < layers.count - 1 {
                    for i in 0..<(batch * layer.outputs) where output[i] < 0 { output[i] = 0 }
                }
            }
        }
    }

    /// Runs forward and backward passes over one batch and writes the gradient of the batch's mean loss into
    /// `gradients`; returns the sum of the rows' losses.
    public func lossAndGradient(
        parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
        gradients: UnsafeMutablePointer<Float>, workspace: inout Workspace
    ) -> Double {
        forward(parameters: parameters, input: input, batch: batch, workspace: &workspace)
        let offsets = workspace.activationOffsets
        let outputLayer = layers[layers.count - 1]
        let inverseBatch = 1 / Float(batch)
        var lossSum = 0.0
        workspace.activations.withUnsafeMutableBufferPointer { activations in
            workspace.deltas.withUnsafeMutableBufferPointer { deltaBuffer in
                workspace.previousDeltas.withUnsafeMutableBufferPointer { previousBuffer in
                    let base = activations.baseAddress!
                    var delta = deltaBuffer.baseAddress!
                    var previous = previousBuffer.baseAddress!
                    lossSum = outputDeltas(
                        logits: base + offsets[layers.count - 1], labels: labels, batch: batch,
                        outputs: outputLayer.outputs, scale: inverseBatch, into: delta
                    )
                    for l in stride(from: layers.count - 1, through: 0, by: -1) {
                        let layer = layers[l]
                        let layerInput = l == 0 ? input : UnsafePointer(base + offsets[l - 1])
                        Matrix.multiplyTransposedA(
                            delta, layerInput, into: gradients + layer.weightOffset,
                            m: layer.outputs, n: layer.inputs, k: batch
                        )
                        let biasGradient = gradients + layer.biasOffset
                        biasGradient.update(repeating: 0, count: layer.outputs)
                        for row in 0..<batch {
                            VectorOps.axpy(1, delta + row * layer.outputs, biasGradient, count: layer.outputs)
                        }
                        guard l > 0 else { break }
                        Matrix.multiply(
                            delta, parameters + layer.weightOffset, into: previous,
                            m: batch, n: layer.inputs, k: layer.outputs
                        )
                        // ReLU's derivative: the gradient passes where the activation was positive.
                        let activation = base + offsets[l - 1]
                        for i in 0..<(batch * layer.inputs) where activation[i] <= 0 { previous[i] = 0 }
                        swap(&delta, &previous)
                    }
                }
            }
        }
        return lossSum
    }

    /// Turns the output layer's logits into probabilities in place, writes `∂loss/∂logit * scale` into `deltas`
    /// and returns the summed cross-entropy loss.
    private func outputDeltas(
        logits: UnsafeMutablePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, outputs: Int, scale: Float,
        into deltas: UnsafeMutablePointer<Float>
    ) -> Double {
        var lossSum = 0.0
        if outputs == 1 {
            for row in 0..<batch {
                let z = logits[row]
                let y: Float = labels[row] == 1 ? 1 : 0
                // The numerically stable form of the binary cross-entropy of a logit.
                lossSum += Double(max(z, 0) - z * y + log1p(exp(-abs(z))))
                let p = 1 / (1 + exp(-z))
                logits[row] = p
                deltas[row] = (p - y) * scale
            }
            return lossSum
        }
        for row in 0..<batch {
            let z = logits + row * outputs
            let delta = deltas + row * outputs
            let label = Int(labels[row])
            // Cross-entropy from the logit before normalising: log-sum-exp minus the label's logit.
            let labelLogit = z[label]
            let logSumExp = Self.softmax(z, count: outputs)
            for j in 0..<outputs { delta[j] = z[j] * scale }
            delta[label] -= scale
            lossSum += Double(logSumExp - labelLogit)
        }
        return lossSum
    }
}
