public import AsyncHTTPClient
public import Crypto
public import Logging
public import PollenCore
public import ServiceLifecycle
import Foundation
import NIOCore
import PollenWire
import SwiftProtobuf

/// A SuperNode's settings.
public struct SuperNodeConfiguration: Sendable {
    /// The SuperLink's base URL: `http://host:port` (with `--insecure`) or `https://host:port`.
    public var superLinkURL: String
    /// Settings of this site that its ClientApp reads (for example the path of the local data).
    public var nodeConfig: UserConfig
    /// The heartbeat interval the node declares, in seconds (Flower's default: 30).
    public var heartbeatInterval: Double
    /// How long one pull waits for a message, in seconds (Flower polls every 3 s). A Pollen SuperLink holds each
    /// pull up to this long and answers as soon as a message comes (`LongPoll`), so an idle node costs it one
    /// request per `pollSeconds` and a message is picked up at once. Against a SuperLink that answers at once
    /// (Flower's), the node pulls again after 0.05 s, doubling the pause up to this.
    public var pollSeconds: Double
    /// The longest wait between reconnection attempts, in seconds (Flower's cap: 20).
    public var maximumBackoffSeconds: Double

    public init(
        superLinkURL: String, nodeConfig: UserConfig = [:], heartbeatInterval: Double = 30, pollSeconds: Double = 1,
        maximumBackoffSeconds: Double = 20
    ) {
        self.superLinkURL = superLinkURL
        self.nodeConfig = nodeConfig
        self.heartbeatInterval = heartbeatInterval
        self.pollSeconds = pollSeconds
        self.maximumBackoffSeconds = maximumBackoffSeconds
    }
}

/// A SuperNode: it connects to the SuperLink (never the other way round), pulls the messages addressed to it,
/// runs its ClientApp on them and pushes the replies, deduplicating objects both ways.
///
/// It survives a SuperLink restart or a network loss: every failed call is retried with exponential backoff,
/// and the node activates itself again. A message is handed out once by the SuperLink and run once here.
public struct SuperNode: Sendable {
    public let configuration: SuperNodeConfiguration
    /// Runs the ClientApp on each message: in this process, or isolated in one of its own.
    public let clientApp: any ClientAppRunner
    /// Runs the messages of runs of researchers' Flower App Bundles with their own ClientApps; `nil` answers them
    /// with the built-in app the run's `app` setting names, as every other run.
    public let flowerClientApp: (any FlowerClientAppRunner)?
    let client: FleetClient
    let logger: Logger

    public init(
        configuration: SuperNodeConfiguration, clientApp: any ClientAppRunner, flowerClientApp: (any FlowerClientAppRunner)? = nil,
        key: P384.Signing.PrivateKey, http: HTTPClient, logger: Logger
    ) {
        self.configuration = configuration
        self.clientApp = clientApp
        self.flowerClientApp = flowerClientApp
        client = FleetClient(baseURL: configuration.superLinkURL, key: key, http: http)
        self.logger = logger
    }

    /// The first wait between pulls after a message.
    static let shortestPollSeconds = 0.05
    /// Objects fetched or sent at once for one message.
    static let objectsInFlight = 4

    /// Runs until a graceful shutdown (SIGTERM in the daemon's `ServiceGroup`) or cancellation. On a graceful
    /// shutdown it starts no new pull, finishes the message in hand and pushes its reply, then deactivates the node
    /// (a pull the SuperLink is holding at that moment ends within `pollSeconds`, and a message it brings is the one
    /// in hand: cutting the request short could lose a message already taken); cancellation (the group's grace
    /// period over) also stops the ClientApp in hand.
    public func run() async throws {
        guard var node = try await connect() else { return }
        let states = NodeStates()
        let current = CurrentNode(node)
        await withGracefulShutdownHandler {
            await serve(from: &node, states: states, current: current)
        } onGracefulShutdown: { [logger] in
            logger.info("shutdown requested: pulling no more messages, finishing the one in hand")
        }
        logger.info("stopping: deactivating the node", metadata: ["pollen.node.id": "\(node)"])
        // Sent even when the shutdown's grace ran out and this task is cancelled: the SuperLink must not wait on the node.
        // A SuperLink that is gone would hold the call up to the HTTP client's connect timeout (10 s): give up sooner.
        await Task { [client, node] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    _ = try? await client.call("deactivate-node", Flwr_Proto_DeactivateNodeRequest.with { $0.nodeID = node.rawValue },
                                               as: Flwr_Proto_DeactivateNodeResponse.self)
                }
                group.addTask { try? await Task.sleep(for: .seconds(Self.deactivationSeconds)) }
                await group.next()
                group.cancelAll()
            }
        }.value
    }

    /// How long a stopping node tries to tell its SuperLink that it is going offline.
    static let deactivationSeconds = 3.0

    /// Pulls and handles messages until the node is asked to stop, reconnecting (and updating `node`) as needed.
    private func serve(from node: inout NodeID, states: NodeStates, current: CurrentNode) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await heartbeat(current, states: states) }
            var backoff = 0.5
            var wait = min(Self.shortestPollSeconds, configuration.pollSeconds)
            polling: while !Self.stopping {
                do {
                    switch try await pullAndHandle(node, states: states) {
                    case .handled, .nothing(held: true):
                        wait = min(Self.shortestPollSeconds, configuration.pollSeconds)
                    case .nothing(held: false):
                        guard await pause(wait) else { break polling }
                        wait = min(wait * 2, configuration.pollSeconds)
                    }
                    backoff = 0.5
                } catch let error as FleetClientError where error.isTransient || error.status == 401 || error.status == 412 {
                    logger.warning("SuperLink unavailable; reconnecting", metadata: ["error": "\(error)", "retry.seconds": "\(backoff)"])
                    guard await pause(backoff) else { break polling }
                    backoff = min(backoff * 2, configuration.maximumBackoffSeconds)
                    if let reconnected = try? await connect() {
                        node = reconnected
                        await current.set(node)
                    }
                } catch is CancellationError {
                    break polling
                } catch {
                    // Anything else concerns one message (its run stopped: 403; a malformed object): drop it, keep serving.
                    logger.error("a message was dropped", metadata: ["error": "\(error)"])
                    guard await pause(configuration.pollSeconds) else { break polling }
                }
            }
            group.cancelAll()
        }
    }

    /// Whether the node was asked to stop: a graceful shutdown, or cancellation.
    static var stopping: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    /// Waits `seconds`, cut short by a request to stop; false when the node should stop.
    private func pause(_ seconds: Double) async -> Bool {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
        return !Self.stopping
    }

    /// Registers (once) and activates the node, retrying with backoff until the SuperLink answers; `nil` when the
    /// node is asked to stop first.
    func connect() async throws -> NodeID? {
        var backoff = 0.5
        while !Self.stopping {
            do {
                // A shutdown cuts an attempt short: the HTTP client retries an unreachable SuperLink up to its
                // connect timeout (10 s) before the call fails.
                let node = try await cancelWhenGracefulShutdown { try await self.registerAndActivate() }
                logger.info("connected to the SuperLink", metadata: ["pollen.node.id": "\(node)", "superlink": "\(configuration.superLinkURL)"])
                return node
            } catch is CancellationError {
                return nil
            } catch let error as FleetClientError where error.isTransient || error.status == 412 {
                // 412 on activation: the SuperLink still sees this node online from before a crash; it goes offline
                // after two missed heartbeats.
                logger.warning("cannot connect yet", metadata: ["error": "\(error)", "retry.seconds": "\(backoff)"])
                guard await pause(backoff) else { return nil }
                backoff = min(backoff * 2, configuration.maximumBackoffSeconds)
            }
        }
        return nil
    }

    /// Registers the node (a SuperLink that knows it already, or leaves registration to its operator, answers 412)
    /// and activates it.
    private func registerAndActivate() async throws -> NodeID {
        do {
            _ = try await client.call("register-node", Flwr_Proto_RegisterNodeFleetRequest.with { $0.publicKey = client.publicKey },
                                      as: Flwr_Proto_RegisterNodeFleetResponse.self)
        } catch let error as FleetClientError where error.status == 412 {
            // Already registered (a restart), or registration is the operator's job: activate either way.
        }
        let response = try await client.call("activate-node", Flwr_Proto_ActivateNodeRequest.with {
            $0.publicKey = client.publicKey
            $0.heartbeatInterval = configuration.heartbeatInterval
        }, as: Flwr_Proto_ActivateNodeResponse.self)
        return NodeID(response.nodeID)
    }

    /// Sends heartbeats at 70–90% of (interval − 5 s), as Flower's SuperNode does, for the node's current id.
    func heartbeat(_ current: CurrentNode, states: NodeStates) async {
        while !Task.isCancelled {
            let period = (configuration.heartbeatInterval - 5) * Double.random(in: 0.7...0.9)
            guard (try? await Task.sleep(for: .seconds(max(period, 1)))) != nil else { return }
            let node = await current.id
            _ = try? await client.call("send-node-heartbeat", Flwr_Proto_SendNodeHeartbeatRequest.with {
                $0.node = .with { $0.nodeID = node.rawValue }
                $0.heartbeatInterval = configuration.heartbeatInterval
            }, as: Flwr_Proto_SendNodeHeartbeatResponse.self)
            await forgetFinishedRuns(states, node: node)
        }
    }

    /// Drops what this node keeps for runs that have finished, or that the SuperLink no longer serves (`get-run`
    /// answers 403 or 404, as Flower's does for a finished run), so that a long-lived node does not hold every past
    /// run's `Context.state`, which may carry arrays. A run the SuperLink cannot be asked about now is kept.
    func forgetFinishedRuns(_ states: NodeStates, node: NodeID) async {
        for run in await states.known {
            let finished: Bool
            do {
                let response = try await client.call("get-run", Flwr_Proto_GetRunRequest.with {
                    $0.node = .with { $0.nodeID = node.rawValue }
                    $0.runID = run.rawValue
                }, as: Flwr_Proto_GetRunResponse.self)
                finished = response.run.status.status == "finished"
            } catch let error as FleetClientError where error.status == 403 || error.status == 404 {
                finished = true
            } catch {
                continue
            }
            guard finished else { continue }
            await states.forget(run)
            logger.info("forgot a finished run's state", metadata: ["pollen.run.id": "\(run)"])
        }
    }

    /// What one pull came to.
    enum PullOutcome: Equatable {
        /// A message was handled and its reply pushed.
        case handled
        /// No message came; `held` when the SuperLink waited for one before answering (`LongPoll`).
        case nothing(held: Bool)
    }

    /// Pulls one message (the SuperLink waiting up to `pollSeconds` for one), handles it and pushes the reply.
    func pullAndHandle(_ node: NodeID, states: NodeStates) async throws -> PullOutcome {
        let nodeMessage = Flwr_Proto_Node.with { $0.nodeID = node.rawValue }
        let (pulled, held) = try await client.poll("pull-messages", Flwr_Proto_PullMessagesRequest.with { $0.node = nodeMessage },
                                                   waitSeconds: configuration.pollSeconds, as: Flwr_Proto_PullMessagesResponse.self)
        guard let header = pulled.messagesList.first, let treeProto = pulled.messageObjectTrees.first else { return .nothing(held: held) }
        let tree = try ObjectTree(proto: treeProto)
        let runID = header.metadata.runID
        // Each large buffer is let go as soon as it has served: the pulled objects once decoded, the instruction
        // once the ClientApp has answered it, the reply once encoded. A node then holds two copies of a model at
        // most, not four.
        var pending: PollenCore.Message? = try await instruction(tree, node: nodeMessage, runID: runID)
        let asked = pending!.metadata
        // The header is what the SuperLink checked; the objects must say the same, or the message is not run.
        let pulledMetadata = PollenCore.Message.Metadata(proto: header.metadata)
        guard asked.runID == pulledMetadata.runID, asked.destination == node, asked.source == pulledMetadata.source else {
            throw FleetClientError(status: 400, detail: "message \(tree.id) names another run, sender or destination in its objects than in its header")
        }
        logger.info("received a message", metadata: ["pollen.run.id": "\(runID)", "message.type": "\(asked.type)"])
        // Everything the ClientApp needs is fetched before the message is confirmed (and so deleted upstream).
        let run = try await run(runID, node: nodeMessage, states: states)
        let runConfig = UserConfigProto.decode(run.overrideConfig)
        let flowerBundle: [UInt8]? = BuiltInAppsBundle.isFlowerApp(run) && flowerClientApp != nil
            ? try await bundle(of: run, node: nodeMessage, states: states) : nil
        _ = try await client.call("confirm-message-received", Flwr_Proto_ConfirmMessageReceivedRequest.with {
            $0.node = nodeMessage
            $0.runID = runID
            $0.messageObjectID = tree.id.rawValue
        }, as: Flwr_Proto_ConfirmMessageReceivedResponse.self)

        let started = Date()
        var context = Context(
            runID: asked.runID, nodeID: node, nodeConfig: configuration.nodeConfig,
            runConfig: runConfig,
            state: await states.state(for: asked.runID)
        )
        var reply: PollenCore.Message
        if let flowerBundle, let flowerClientApp {
            reply = await flowerClientApp.handle(pending.take()!, context: &context, run: run, bundle: flowerBundle)
        } else {
            reply = await clientApp.handle(pending.take()!, context: &context)
        }
        await states.set(context.state, for: asked.runID)
        let now = Date().timeIntervalSince1970
        reply.metadata.createdAt = now
        // The reply lives exactly as long as the instruction had left (Flower's rule).
        reply.metadata.ttlSeconds = max(asked.createdAt + asked.ttlSeconds - now, 1)
        logger.info("handled a message", metadata: [
            "pollen.run.id": "\(runID)", "message.type": "\(asked.type)", "failed": "\(reply.hasError)",
            "clientapp": flowerBundle == nil ? "built-in" : "flower \(run.fabID)",
        ])
        let runtime = Date().timeIntervalSince(started)
        let encoded = try Self.encodeForPushing(consume reply)
        // The message is confirmed and run; its reply must not be lost to a passing network failure.
        var backoff = 0.5
        while true {
            do {
                // Each attempt is made even when a shutdown's grace ran out meanwhile (a stopped ClientApp's failure
                // reply included); only the waits between attempts end with the node.
                try await Task { try await push(encoded, node: nodeMessage, runtime: runtime) }.value
                return .handled
            } catch let error as FleetClientError where error.isTransient && backoff <= configuration.maximumBackoffSeconds {
                logger.warning("pushing a reply failed; retrying", metadata: ["error": "\(error)", "retry.seconds": "\(backoff)"])
                try await Task.sleep(for: .seconds(backoff))
                backoff *= 2
            }
        }
    }

    /// The run (its configuration and app bundle), fetched once per run with `get-run`.
    private func run(_ runID: UInt64, node: Flwr_Proto_Node, states: NodeStates) async throws -> Flwr_Proto_Run {
        if let known = await states.run(RunID(runID)) { return known }
        let response = try await client.call("get-run", Flwr_Proto_GetRunRequest.with {
            $0.node = node
            $0.runID = runID
        }, as: Flwr_Proto_GetRunResponse.self)
        await states.setRun(response.run, for: RunID(runID))
        return response.run
    }

    /// The app bundle of `run`, fetched once per run with `get-fab`.
    private func bundle(of run: Flwr_Proto_Run, node: Flwr_Proto_Node, states: NodeStates) async throws -> [UInt8] {
        if let known = await states.bundle(of: RunID(run.runID)) { return known }
        let response = try await client.call("get-fab", Flwr_Proto_GetFabRequest.with {
            $0.node = node
            $0.runID = run.runID
            $0.hashStr = run.fabHash
        }, as: Flwr_Proto_GetFabResponse.self)
        let content = [UInt8](response.fab.content)
        // Installed by the node's own Flower only if it is the bundle the run names.
        guard FlowerObject.hash(ByteBuffer(bytes: content)).rawValue == run.fabHash else {
            throw FleetClientError(status: 400, detail: "the app bundle of run \(run.runID) does not hash to \(run.fabHash)")
        }
        await states.setBundle(content, for: RunID(run.runID))
        return content
    }

    /// Fetches the objects of the message `tree` and decodes it; the objects are let go on return.
    private func instruction(_ tree: ObjectTree, node: Flwr_Proto_Node, runID: UInt64) async throws -> PollenCore.Message {
        let objects = try await pullObjects(tree.postOrder, node: node, runID: runID)
        return try MessageCodec.decode(root: tree.id) { objects[$0] }
    }

    /// Fetches `ids`, `objectsInFlight` at a time.
    private func pullObjects(_ ids: [ObjectID], node: Flwr_Proto_Node, runID: UInt64) async throws -> [ObjectID: FlowerObject] {
        let fetched = try await concurrentMap(ids, atMost: Self.objectsInFlight) { id in try await pullObject(id, node: node, runID: runID) }
        return Dictionary(fetched.map { ($0.id, $0) }) { first, _ in first }
    }

    /// Fetches one object; one its sender is still uploading is waited for, by the SuperLink (`LongPoll`) or here.
    private func pullObject(_ id: ObjectID, node: Flwr_Proto_Node, runID: UInt64) async throws -> FlowerObject {
        var wait = 0.05
        while true {
            let (pulled, held) = try await client.poll("pull-object", Flwr_Proto_PullObjectRequest.with {
                $0.node = node
                $0.runID = runID
                $0.objectID = id.rawValue
            }, waitSeconds: configuration.pollSeconds, carrying: Flwr_Proto_PullObjectResponse.self)
            let response = pulled.message
            if response.objectAvailable {
                // The SuperLink checked the object's hash when it was pushed, and this node runs what its SuperLink
                // sends anyway; hashing it again here would check the channel TLS already protects (Flower's
                // SuperNode checks only the head, as `stored` does).
                return try FlowerObject(stored: pulled.object ?? ByteBuffer(), id: id)
            }
            guard response.objectFound else {
                throw FleetClientError(status: 404, detail: "object \(id) of a pulled message is unknown to the SuperLink")
            }
            // Its sender is still uploading it (a ServerApp stores an instruction before its objects).
            guard !held else { continue }
            try await Task.sleep(for: .seconds(wait))
            wait = min(wait * 2, 1)
        }
    }

    /// Encodes `reply` once for every attempt to push it, keeping its metadata and error but not its content: the
    /// objects hold that.
    private static func encodeForPushing(_ reply: consuming PollenCore.Message) throws -> EncodedMessage {
        var encoded = try MessageCodec.encode(reply)
        if encoded.message.content != nil { encoded.message.body = .content(RecordDict()) }
        return encoded
    }

    private func push(_ encoded: EncodedMessage, node: Flwr_Proto_Node, runtime: Double) async throws {
        let reply = encoded.message
        var message = Flwr_Proto_Message()
        message.metadata = reply.metadata.proto
        if let error = reply.error { message.error = error.proto } else { message.content = Flwr_Proto_RecordDict() }
        let response = try await client.call("push-messages", Flwr_Proto_PushMessagesRequest.with {
            $0.node = node
            $0.messagesList = [message]
            // Flower's SuperLink reads the first tree of every push, an error reply's (its message object alone) too.
            $0.messageObjectTrees = [encoded.tree.proto]
            $0.clientappRuntimeList = [runtime]
        }, as: Flwr_Proto_PushMessagesResponse.self)
        let wanted = Set(response.objectsToPush)
        let runID = reply.metadata.runID.rawValue
        _ = try await concurrentMap(encoded.objects.filter { wanted.contains($0.id.rawValue) }, atMost: Self.objectsInFlight) { object in
            try await client.call("push-object", Flwr_Proto_PushObjectRequest.with {
                $0.node = node
                $0.runID = runID
                $0.objectID = object.id.rawValue
                $0.sessionID = response.sessionID
            }, object: object.buffer, as: Flwr_Proto_PushObjectResponse.self)
        }
    }
}

/// A SuperNode is one service of its daemon's `ServiceGroup`, which turns SIGTERM into a graceful shutdown.
extension SuperNode: Service {}

/// The node's id, which a reconnection may change, shared with the heartbeat task.
actor CurrentNode {
    private(set) var id: NodeID
    init(_ id: NodeID) { self.id = id }
    func set(_ id: NodeID) { self.id = id }
}

/// What this node keeps per run: the `Context.state` its ClientApp carries between messages, the run as `get-run`
/// describes it (its configuration, its app bundle's name) and, for a Flower app this node runs, the bundle. A
/// run's entry goes once the run has finished (`SuperNode.forgetFinishedRuns`).
actor NodeStates {
    private var states: [RunID: RecordDict] = [:]
    private var runs: [RunID: Flwr_Proto_Run] = [:]
    private var bundles: [RunID: [UInt8]] = [:]
    func state(for run: RunID) -> RecordDict { states[run] ?? RecordDict() }
    func set(_ state: RecordDict, for run: RunID) { states[run] = state }
    func run(_ id: RunID) -> Flwr_Proto_Run? { runs[id] }
    func setRun(_ run: Flwr_Proto_Run, for id: RunID) { runs[id] = run }
    func bundle(of run: RunID) -> [UInt8]? { bundles[run] }
    func setBundle(_ bundle: [UInt8], for run: RunID) { bundles[run] = bundle }
    /// Every run this node keeps something for.
    var known: Set<RunID> { Set(states.keys).union(runs.keys) }
    func forget(_ run: RunID) {
        states[run] = nil
        runs[run] = nil
        bundles[run] = nil
    }
}
