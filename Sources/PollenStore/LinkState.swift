public import PollenCore
public import PollenWire
import Foundation

/// A SuperNode's status as the SuperLink sees it (Flower's node states).
public enum NodeStatus: String, Sendable {
    /// Known by its public key, not connected.
    case registered
    /// Connected, heartbeats arriving in time.
    case online
    /// Deactivated, or its heartbeats stopped.
    case offline
    /// Removed; its key may not connect.
    case unregistered
}

/// What the SuperLink keeps of a node.
public struct NodeInfo: Sendable, Equatable {
    public var id: NodeID
    /// The node's public key: PEM SubjectPublicKeyInfo bytes, as Flower sends them.
    public var publicKey: [UInt8]
    public var status: NodeStatus
    /// The heartbeat interval the node declared, in seconds.
    public var heartbeatInterval: Double
    /// Seconds since 1970 until which the node counts as online without another heartbeat.
    public var onlineUntil: Double
    /// Seconds since 1970 when the node was registered.
    public var registeredAt: Double = 0
}

/// A run's lifecycle (Flower's `RunStatus`): `pending` → `starting` → `running` → `finished` with a sub-status.
public struct RunStatus: Sendable, Equatable, CustomStringConvertible {
    public var phase: String
    /// For finished runs: `completed`, `failed` or `stopped`.
    public var subStatus: String
    /// Why, for failed or stopped runs.
    public var details: String

    public init(phase: String, subStatus: String = "", details: String = "") {
        self.phase = phase
        self.subStatus = subStatus
        self.details = details
    }

    public static let pending = RunStatus(phase: "pending")
    public static let starting = RunStatus(phase: "starting")
    public static let running = RunStatus(phase: "running")
    public static func finished(_ subStatus: String, details: String = "") -> RunStatus {
        RunStatus(phase: "finished", subStatus: subStatus, details: details)
    }

    public var isFinished: Bool { phase == "finished" }
    public var description: String { subStatus.isEmpty ? phase : "\(phase):\(subStatus)" }
}

/// What the SuperLink keeps of a run.
public struct RunInfo: Sendable, Equatable {
    public var id: RunID
    public var status: RunStatus
    /// The run configuration the researcher submitted.
    public var config: ConfigRecord
    public var createdAt: Double
    /// The Control API account that submitted the run; empty when the SuperLink has no accounts.
    public var owner: String = ""
    /// The Flower App Bundle the run was submitted with (`flwr run`), `nil` for a run of Pollen's built-in apps.
    public var flowerApp: FlowerAppReference?
    /// Seconds since 1970 when the run started running and when it finished; 0 until then.
    public var runningAt: Double = 0
    public var finishedAt: Double = 0
}

/// A run's Flower App Bundle: its SHA-256, by which the bundle is stored and asked for, and its `publisher/name`
/// and version, which Flower's SuperNodes install it under (empty until the SuperLink has read them from it).
public struct FlowerAppReference: Sendable, Equatable {
    public var hash: String
    public var id: String
    public var version: String

    public init(hash: String, id: String = "", version: String = "") {
        self.hash = hash
        self.id = id
        self.version = version
    }
}

/// A message as the link state keeps it: its metadata and object tree (its content lives in the `ObjectStore`),
/// or, for a failed reply, its error.
public struct LinkMessage: Sendable, Equatable {
    public var metadata: Message.Metadata
    public var tree: ObjectTree?
    public var error: MessageError?

    public init(metadata: Message.Metadata, tree: ObjectTree?, error: MessageError? = nil) {
        self.metadata = metadata
        self.tree = tree
        self.error = error
    }
}

/// The SuperLink's state: nodes, runs, messages in flight and run logs (Flower's `LinkState`).
///
/// Every method takes the time as an argument, so liveness and TTL rules are tested without waiting.
public protocol LinkState: Sendable {
    /// Registers a node's public key and returns its new id. Throws `conflict` if the key is registered.
    func registerNode(publicKey: [UInt8], now: Double) async throws -> NodeID
    /// Marks the node with `publicKey` online. Throws `notFound` for an unknown key, `conflict` if it is online.
    func activateNode(publicKey: [UInt8], heartbeatInterval: Double, now: Double) async throws -> NodeID
    /// Marks a node offline.
    func deactivateNode(_ node: NodeID) async throws
    /// Removes a node; its key can no longer connect.
    func unregisterNode(_ node: NodeID) async throws
    /// Extends a node's online time; false if the node is unknown or unregistered.
    func heartbeat(_ node: NodeID, heartbeatInterval: Double, now: Double) async throws -> Bool
    /// The node with `id`, with its status as of `now`.
    func node(_ id: NodeID, now: Double) async throws -> NodeInfo?
    /// The node with `publicKey`.
    func node(publicKey: [UInt8], now: Double) async throws -> NodeInfo?
    /// The ids of the nodes online at `now`.
    func onlineNodes(now: Double) async throws -> [NodeID]
    /// Every node ever registered, with its status as of `now`.
    func nodes(now: Double) async throws -> [NodeInfo]
    /// Marks every online node offline: after a SuperLink restart no node is connected until it activates again.
    func markAllNodesOffline() async throws

    /// Creates a run in `pending`, submitted by the account `owner`, of the Flower App Bundle whose SHA-256 is
    /// `flowerApp` (stored with `storeFlowerApp`) or, when `nil`, of a built-in app; returns its id.
    func createRun(config: ConfigRecord, owner: String, flowerApp: String?, now: Double) async throws -> RunID
    /// Records the `publisher/name` and version of a run's Flower App Bundle.
    func setFlowerAppMetadata(_ id: RunID, appID: String, version: String) async throws
    /// Stores a Flower App Bundle (once, whoever submits it again) and returns its lowercase hex SHA-256.
    func storeFlowerApp(_ content: [UInt8]) async throws -> String
    /// The Flower App Bundle whose SHA-256 is `hash`.
    func flowerApp(hash: String) async throws -> [UInt8]?
    /// The run with `id`.
    func run(_ id: RunID) async throws -> RunInfo?
    /// Every run, oldest first.
    func runs() async throws -> [RunInfo]
    /// Moves a run to `status` at `now` (recorded as its start or end when it starts running or finishes). Throws
    /// `notFound` for an unknown run, `conflict` for a finished one.
    func setRunStatus(_ id: RunID, to status: RunStatus, now: Double) async throws

    /// Stores an instruction (its `messageID` is its tree's root) for its destination node.
    func storeInstruction(_ message: LinkMessage) async throws
    /// Whether instruction `id` was handed to `node` (and so is `node`'s to confirm).
    func wasDelivered(_ id: MessageID, to node: NodeID) async throws -> Bool
    /// Hands out up to `limit` undelivered, unexpired instructions for `node`, marking them delivered.
    func takeInstructions(for node: NodeID, limit: Int, now: Double) async throws -> [LinkMessage]
    /// Stores a reply to a delivered instruction; false if there is no such instruction or it has a reply.
    func storeReply(_ message: LinkMessage, now: Double) async throws -> Bool
    /// The replies to those of `instructions` that belong to `run` and are ready, with failure replies made up for
    /// instructions that expired or whose node went offline; each returned instruction and its reply are removed.
    func takeReplies(to instructions: [MessageID], run: RunID, now: Double) async throws -> [LinkMessage]

    /// Appends a line to a run's log, at `now` or just after its last line, whichever is later: a reader that has
    /// read the lines up to some time (`logs(run:after:)`) misses none written later, whatever its writer's clock.
    func appendLog(run: RunID, line: String, now: Double) async throws
    /// A run's log lines after `after` (seconds since 1970), oldest first.
    func logs(run: RunID, after: Double) async throws -> [(at: Double, line: String)]
}

extension LinkState {
    /// Creates a run nobody in particular owns (a SuperLink without Control API accounts).
    public func createRun(config: ConfigRecord, now: Double) async throws -> RunID {
        try await createRun(config: config, owner: "", flowerApp: nil, now: now)
    }

    /// Moves a run to `status` now.
    public func setRunStatus(_ id: RunID, to status: RunStatus) async throws {
        try await setRunStatus(id, to: status, now: Date().timeIntervalSince1970)
    }

    /// Creates a run of a built-in app, submitted by the account `owner`.
    public func createRun(config: ConfigRecord, owner: String, now: Double) async throws -> RunID {
        try await createRun(config: config, owner: owner, flowerApp: nil, now: now)
    }

    /// Flower's `HEARTBEAT_PATIENCE`: a node stays online for twice its declared interval after a heartbeat.
    public static var heartbeatPatience: Double { 2 }
}
