import PollenCore
public import PollenML

/// How a data set is divided for a simulated federation: a stratified global test split held by the ServerApp,
/// the rest partitioned among the nodes, and each node's part split again into local training and test rows.
///
/// Each node holds only its row indices; its rows are copied out when it handles a message.
public struct FederatedSplit: Sendable {
    /// The whole data set, loaded once and shared by every virtual node.
    public let dataset: Dataset
    /// Each node's training rows.
    public let nodeTrainRows: [[Int]]
    /// Each node's held-out rows, for federated evaluation.
    public let nodeTestRows: [[Int]]
    /// The global test rows, for central evaluation of both the federated and the centrally trained model.
    public let testRows: [Int]

    /// Splits `dataset`: `testFraction` of it (stratified) as the global test set, the rest divided by
    /// `partitioner`, and `localTestFraction` of each node's part held out on that node.
    public init(dataset: Dataset, partitioner: Partitioner, testFraction: Double, localTestFraction: Double, seed: UInt64) throws {
        let global = try TrainTestSplit.split(
            rows: Array(0..<dataset.rowCount), labels: dataset.labels, testFraction: testFraction, seed: seed
        )
        let pool = dataset.subset(global.train)
        let parts = try partitioner.partition(pool, seed: seed)
        var train = [[Int]]()
        var test = [[Int]]()
        for (node, part) in parts.enumerated() {
            let rows = part.map { global.train[$0] }
            let local = try TrainTestSplit.split(
                rows: rows, labels: dataset.labels, testFraction: localTestFraction, seed: seed &+ UInt64(node) &+ 1
            )
            train.append(local.train)
            test.append(local.test)
        }
        self.dataset = dataset
        nodeTrainRows = train
        nodeTestRows = test
        testRows = global.test
    }

    /// The number of nodes.
    public var nodeCount: Int { nodeTrainRows.count }

    /// Node `partition`'s data.
    public func nodeData(partition: Int) -> NodeData {
        NodeData(train: dataset.subset(nodeTrainRows[partition]), test: dataset.subset(nodeTestRows[partition]))
    }

    /// Every node's training rows together: what a central model trains on for a fair comparison.
    public var pooledTrain: Dataset { dataset.subset(nodeTrainRows.flatMap { $0 }.sorted()) }

    /// The global test set.
    public var testSet: Dataset { dataset.subset(testRows) }

    /// A data provider for `TabularClientApp` that serves each node the partition named by its `partition-id`.
    public var dataProvider: TabularClientApp.DataProvider {
        { [self] context in
            let partition = try ConfigReader(context.nodeConfig).int("partition-id", default: -1, in: -1...Int.max)
            guard (0..<nodeCount).contains(partition) else {
                throw AppConfigError(key: "partition-id", message: "node config needs a partition-id in 0..<\(nodeCount), got \(partition)")
            }
            return nodeData(partition: partition)
        }
    }
}
