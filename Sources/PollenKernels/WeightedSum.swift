/// The weighted sum of K equally long `Float` buffers: `output[i] = Σₖ weights[k] * inputs[k][i]`.
///
/// For averaging K buffers held at once (a robust rule or a batch of updates in memory; FedAvg itself streams
/// replies into a running sum with `axpy`). It walks the output in blocks that stay in cache and adds every input
/// into a block before moving on, so the output is written once per block rather than once per input; long
/// outputs are split across cores.
public enum WeightedSum {
    /// Elements per cache block: 16 KiB of output, which with one input block fits in L1.
    static let blockElements = 4096

    /// Writes `Σₖ weights[k] * inputs[k]` into `output`.
    ///
    /// - Precondition: `inputs.count == weights.count`, and every input is exactly as long as `output`.
    public static func compute(
        _ inputs: [UnsafeBufferPointer<Float>],
        weights: [Float],
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(inputs.count == weights.count, "weighted sum: \(inputs.count) inputs but \(weights.count) weights")
        for (k, input) in inputs.enumerated() {
            precondition(input.count == output.count, "weighted sum: input \(k) has \(input.count) elements, output \(output.count)")
        }
        guard let out = output.baseAddress else { return }
        guard !inputs.isEmpty else {
            output.update(repeating: 0)
            return
        }
        let bases = inputs.map { $0.baseAddress! }
        let blocks = (output.count + blockElements - 1) / blockElements
        // Splitting pays only when each core gets at least a few blocks' worth of multiply-adds.
        let minBlocksPerChunk = max(1, 64 / inputs.count)
        ParallelFor.run(count: blocks, minChunk: minBlocksPerChunk) { blockRange in
            for block in blockRange {
                let start = block * blockElements
                let length = min(blockElements, output.count - start)
                let target = out + start
                for i in 0..<length { target[i] = weights[0] * bases[0][start + i] }
                for k in 1..<bases.count {
                    VectorOps.axpy(weights[k], bases[k] + start, target, count: length)
                }
            }
        }
    }
}
