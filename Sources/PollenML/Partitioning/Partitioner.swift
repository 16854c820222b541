import PollenKernels

/// How to divide a data set's rows among a federation's nodes: each partition is one node's rows.
///
/// Every partitioner is deterministic for a given seed. The shapes follow Flower Datasets' partitioners, so a
/// Flower user gets the splits they expect.
public enum Partitioner: Sendable, Hashable {
    /// Rows shuffled and dealt into `count` near-equal parts.
    case iid(count: Int)
    /// Label skew: for each class, its rows are divided among `count` nodes in proportions drawn from a symmetric
    /// Dirichlet distribution with concentration `alpha` (small alpha: each node sees few classes). Draws repeat
    /// until every node has at least `minimumSize` rows (Flower's `DirichletPartitioner`).
    case dirichlet(count: Int, alpha: Double, minimumSize: Int = 10)
    /// One partition per distinct value of the data set's group column (for example a `site` column), in sorted
    /// order of the values: the natural split of data that already lives at several sites.
    case byGroup

    /// The row indices of each partition.
    ///
    /// - Throws: `MLError.invalidArgument` when the partition count or alpha is out of range, the data set is too
    ///   small, `byGroup` is used on data without a group column, or no Dirichlet draw meets `minimumSize`.
    public func partition(_ dataset: Dataset, seed: UInt64) throws -> [[Int]] {
        var generator = SeededGenerator(seed: seed, stream: [0x7061_7274]) // "part"
        switch self {
        case .iid(let count):
            try Partitioner.check(count: count, rows: dataset.rowCount)
            var order = Array(0..<dataset.rowCount)
            generator.shuffle(&order)
            return (0..<count).map { part in
                Array(order[(order.count * part / count)..<(order.count * (part + 1) / count)])
            }
        case .dirichlet(let count, let alpha, let minimumSize):
            try Partitioner.check(count: count, rows: dataset.rowCount)
            guard alpha > 0, alpha.isFinite else {
                throw MLError(code: .invalidArgument, message: "Dirichlet alpha must be a positive number, got \(alpha)")
            }
            guard minimumSize * count <= dataset.rowCount else {
                throw MLError(
                    code: .invalidArgument,
                    message: "\(count) partitions of at least \(minimumSize) rows need \(minimumSize * count) rows; the data has \(dataset.rowCount)"
                )
            }
            return try Partitioner.dirichlet(dataset, count: count, alpha: alpha, minimumSize: minimumSize, generator: &generator)
        case .byGroup:
            guard !dataset.groups.isEmpty else {
                throw MLError(
                    code: .invalidArgument,
                    message: "partitioning by column needs a group column; load the data with a group column (for example --partition-column site)"
                )
            }
            var rowsByGroup = [String: [Int]]()
            for (row, group) in dataset.groups.enumerated() { rowsByGroup[group, default: []].append(row) }
            return rowsByGroup.keys.sorted().map { rowsByGroup[$0]! }
        }
    }

    /// The number of partitions this partitioner makes of `dataset` (for `byGroup`, the number of distinct groups).
    public func partitionCount(of dataset: Dataset) -> Int {
        switch self {
        case .iid(let count), .dirichlet(let count, _, _): count
        case .byGroup: Set(dataset.groups).count
        }
    }

    /// Attempts before a Dirichlet partitioner gives up on meeting its minimum size (Flower's default is 10).
    static let dirichletAttempts = 100

    private static func check(count: Int, rows: Int) throws {
        guard count >= 1 else { throw MLError(code: .invalidArgument, message: "the number of partitions must be at least 1, got \(count)") }
        guard count <= rows else {
            throw MLError(code: .invalidArgument, message: "cannot split \(rows) rows into \(count) partitions; use fewer nodes")
        }
    }

    private static func dirichlet(
        _ dataset: Dataset, count: Int, alpha: Double, minimumSize: Int, generator: inout SeededGenerator
    ) throws -> [[Int]] {
        var rowsByClass = Array(repeating: [Int](), count: dataset.classCount)
        for (row, label) in dataset.labels.enumerated() { rowsByClass[Int(label)].append(row) }
        var smallest = 0
        for _ in 0..<dirichletAttempts {
            var partitions = Array(repeating: [Int](), count: count)
            for var rows in rowsByClass where !rows.isEmpty {
                generator.shuffle(&rows)
                let proportions = generator.nextDirichlet(alpha: alpha, count: count)
                var cumulative = 0.0
                var start = 0
                for node in 0..<count {
                    cumulative += proportions[node]
                    let end = node == count - 1 ? rows.count : min(rows.count, Int((cumulative * Double(rows.count)).rounded()))
                    partitions[node].append(contentsOf: rows[start..<max(start, end)])
                    start = max(start, end)
                }
            }
            smallest = partitions.map(\.count).min() ?? 0
            if smallest >= minimumSize {
                return partitions.map { $0.sorted() }
            }
        }
        throw MLError(
            code: .invalidArgument,
            message: "no Dirichlet(alpha: \(alpha)) split of \(dataset.rowCount) rows into \(count) partitions gave every partition "
                + "\(minimumSize) rows in \(dirichletAttempts) draws (the smallest had \(smallest)); raise alpha or use fewer nodes"
        )
    }
}
