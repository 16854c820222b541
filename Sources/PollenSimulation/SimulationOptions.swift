public import PollenCore

/// The settings of an in-process simulation: how many virtual nodes, what each is told, and what fails.
public struct SimulationOptions: Sendable {
    /// The number of virtual SuperNodes.
    public var nodeCount: Int
    /// The seed of node ids and failure injection.
    public var seed: UInt64
    /// The share of a round's messages whose ClientApp fails (a `clientAppRaisedException` reply).
    public var failureRate: Double
    /// The share of a round's messages whose reply does not arrive in time (a `replyMessageUnavailable` reply).
    public var timeoutRate: Double
    /// Concurrent workers; defaults to one per core. Results do not depend on it.
    public var workerCount: Int
    /// The run configuration every app sees.
    public var runConfig: UserConfig
    /// The node configuration of virtual node `index`; by default Flower's `partition-id` and `num-partitions`.
    public var nodeConfig: @Sendable (_ index: Int, _ nodeCount: Int) -> UserConfig
    /// Called after each batch of a round's messages is handled, with the messages handled so far and in all.
    public var onProgress: (@Sendable (_ handled: Int, _ total: Int) -> Void)?

    public init(
        nodeCount: Int, seed: UInt64 = 0, failureRate: Double = 0, timeoutRate: Double = 0,
        workerCount: Int = SimulationOptions.defaultWorkerCount, runConfig: UserConfig = [:],
        nodeConfig: @escaping @Sendable (_ index: Int, _ nodeCount: Int) -> UserConfig = SimulationOptions.partitionConfig,
        onProgress: (@Sendable (_ handled: Int, _ total: Int) -> Void)? = nil
    ) {
        self.nodeCount = nodeCount
        self.seed = seed
        self.failureRate = failureRate
        self.timeoutRate = timeoutRate
        self.workerCount = workerCount
        self.runConfig = runConfig
        self.nodeConfig = nodeConfig
        self.onProgress = onProgress
    }

    /// One worker per active core.
    public static var defaultWorkerCount: Int { ParallelWorkers.coreCount }

    /// Flower's simulation node config: `partition-id` (0-based) and `num-partitions`.
    @Sendable
    public static func partitionConfig(index: Int, nodeCount: Int) -> UserConfig {
        ["partition-id": .int(Int64(index)), "num-partitions": .int(Int64(nodeCount))]
    }

    func validate() throws {
        guard nodeCount >= 1 else {
            throw SimulationError(code: .invalidOptions, message: "a simulation needs at least 1 node, got \(nodeCount)")
        }
        for (name, rate) in [("failure rate", failureRate), ("timeout rate", timeoutRate)] where !(0...1).contains(rate) {
            throw SimulationError(code: .invalidOptions, message: "the \(name) must be between 0 and 1, got \(rate)")
        }
        guard failureRate + timeoutRate <= 1 else {
            throw SimulationError(code: .invalidOptions, message: "failure rate plus timeout rate exceed 1")
        }
        guard workerCount >= 1 else {
            throw SimulationError(code: .invalidOptions, message: "a simulation needs at least 1 worker, got \(workerCount)")
        }
    }
}

/// The error thrown by `PollenSimulation`.
public struct SimulationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A simulation option is out of range.
        public static let invalidOptions = Code("invalid options")
        /// A message is addressed to a node the simulation does not have.
        public static let unknownNode = Code("unknown node")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
