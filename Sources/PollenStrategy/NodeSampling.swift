public import PollenCore
import PollenKernels

/// Chooses which nodes take part in a round (Flower's `sample_nodes`), reproducibly from a seed.
public enum NodeSampling {
    /// How long to wait between looks at the grid while too few nodes are connected (Flower waits 1 s).
    static let pollSeconds = 1.0

    /// Waits until at least `minimum` nodes are connected (up to `timeoutSeconds`) and returns every connected node.
    ///
    /// - Throws: `StrategyError.notEnoughNodes` when too few nodes connect in time.
    public static func waitForNodes(grid: any Grid, minimum: Int, timeoutSeconds: Double) async throws -> [NodeID] {
        try await sample(grid: grid, minimumAvailable: minimum, sampleSize: Int.max, seed: 0, stream: [], timeoutSeconds: timeoutSeconds).sorted()
    }

    /// Waits until at least `minimumAvailable` nodes are connected (up to `timeoutSeconds`), then draws
    /// `sampleSize` of them without replacement, in an order fixed by `seed` and `stream`.
    ///
    /// - Throws: `StrategyError.notEnoughNodes` when too few nodes connect in time.
    public static func sample(
        grid: any Grid, minimumAvailable: Int, sampleSize: Int, seed: UInt64, stream: [UInt64], timeoutSeconds: Double
    ) async throws -> [NodeID] {
        // `Int.max` asks for every node there is, once `minimumAvailable` are there.
        let required = sampleSize == Int.max ? minimumAvailable : max(minimumAvailable, sampleSize)
        var waited = 0.0
        var nodes = try await grid.nodeIDs()
        while nodes.count < required {
            guard waited < timeoutSeconds else {
                throw StrategyError(
                    code: .notEnoughNodes,
                    message: "\(nodes.count) nodes are connected, the strategy needs \(required); waited \(Int(waited)) s. "
                        + "Start more SuperNodes or lower min-available-nodes / min-train-nodes"
                )
            }
            try await Task.sleep(for: .seconds(pollSeconds))
            waited += pollSeconds
            nodes = try await grid.nodeIDs()
        }
        // Sorting first makes the draw depend on the set of nodes, not on the order the grid lists them in.
        var pool = nodes.sorted()
        var generator = SeededGenerator(seed: seed, stream: stream)
        // A partial Fisher–Yates shuffle: the first `sampleSize` positions are a uniform sample.
        for i in 0..<min(sampleSize, pool.count) {
            let j = i + generator.nextInt(below: pool.count - i)
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(sampleSize))
    }
}
