/// A run or node configuration: named settings (Flower's `UserConfig`).
public typealias UserConfig = [String: ConfigValue]

/// What an app knows about where it runs (Flower's `Context`).
///
/// A ClientApp gets its node's context with every message; `state` persists across the messages of a run on that
/// node, so an app can keep, say, its optimiser's momentum between rounds.
public struct Context: Sendable {
    /// The run.
    public var runID: RunID
    /// The node the app runs on (`NodeID.superLink` for a ServerApp).
    public var nodeID: NodeID
    /// Settings the node's operator chose (for example `partition-id`, or the path of the local data).
    public var nodeConfig: UserConfig
    /// Settings of the run, from the app's config and the researcher's overrides.
    public var runConfig: UserConfig
    /// State the app keeps on this node across the messages of a run.
    public var state: RecordDict

    public init(
        runID: RunID, nodeID: NodeID, nodeConfig: UserConfig = [:], runConfig: UserConfig = [:],
        state: RecordDict = RecordDict()
    ) {
        self.runID = runID
        self.nodeID = nodeID
        self.nodeConfig = nodeConfig
        self.runConfig = runConfig
        self.state = state
    }
}
