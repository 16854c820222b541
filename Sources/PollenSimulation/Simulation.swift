public import PollenCore

/// Runs a ServerApp and many virtual SuperNodes in one process: Pollen's simulation runtime.
///
/// The ServerApp, ClientApp and Strategy are the ones deployment runs; only the grid differs. Nodes handle
/// messages concurrently on one worker per core; a node that is not handling a message holds no memory of its own
/// beyond its id and any state its app keeps.
///
/// ```swift
/// let simulation = try Simulation(clientApp: app, options: SimulationOptions(nodeCount: 1_000, seed: 42))
/// try await simulation.run(serverApp)
/// ```
public struct Simulation: Sendable {
    /// The ClientApp every virtual node runs.
    public let clientApp: ClientApp
    /// The simulation's settings.
    public let options: SimulationOptions

    /// - Throws: `SimulationError.invalidOptions` for out-of-range options.
    public init(clientApp: ClientApp, options: SimulationOptions) throws {
        try options.validate()
        self.clientApp = clientApp
        self.options = options
    }

    /// Runs `serverApp` to completion against fresh virtual nodes, as run `runID`.
    public func run(_ serverApp: ServerApp, runID: RunID = RunID(1)) async throws {
        let nodes = VirtualNodes(count: options.nodeCount, seed: options.seed)
        let grid = SimulationGrid(runID: runID, clientApp: clientApp, options: options, nodes: nodes)
        let context = Context(runID: runID, nodeID: .superLink, runConfig: options.runConfig)
        try await serverApp.run(grid: grid, context: context)
    }
}
