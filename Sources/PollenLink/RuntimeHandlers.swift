public import PollenCore
public import PollenStore
public import PollenWire
import NIOCore
import Foundation
import SwiftProtobuf

/// The app runtime API's logic (Flower 1.42's `/v1/runtime/*`, the ServerApp's side): the process the SuperLink
/// starts for a run reads the run, sends instructions and collects replies through it, over the same link state
/// and object store the Fleet API serves nodes from. Every call is already tied to its run by the caller's token.
public struct RuntimeHandlers: Sendable {
    public let state: any LinkState
    public let objects: any ObjectStore
    /// The tokens of the ServerApp processes running now.
    public let tokens: RunTokens
    /// Wakes requests waiting for instructions, replies and objects: the Fleet API's.
    public let signals: LinkSignals
    private let waiting = WaitingReplies()
    private let now: @Sendable () -> Double

    /// The runtime API over the state, objects and clock the Fleet API of `fleet` serves.
    public init(fleet: FleetHandlers, tokens: RunTokens = RunTokens()) {
        state = fleet.state
        objects = fleet.objects
        now = fleet.now
        signals = fleet.signals
        self.tokens = tokens
    }

    /// The run, its configuration and, for a run of a Flower App Bundle, the bundle Flower's `flwr-serverapp`
    /// installs and runs.
    public func pullTaskInput(_ request: Flwr_Proto_PullTaskInputRequest, run: RunID) async throws -> Flwr_Proto_PullTaskInputResponse {
        guard let info = try await state.run(run) else { throw FleetError.notFound("run \(run) does not exist") }
        let proto = info.proto
        var bundle: [UInt8]?
        if let app = info.flowerApp {
            guard let content = try await state.flowerApp(hash: app.hash) else { throw FleetError.notFound("the app bundle \(app.hash) is not stored") }
            bundle = content
        }
        return .with {
            $0.run = proto
            $0.context = .with { context in
                context.runID = run.rawValue
                // The ServerApp speaks for the SuperLink: Flower's `flwr-serverapp` signs its messages with this id.
                context.nodeID = NodeID.superLink.rawValue
                context.runConfig = proto.overrideConfig
            }
            if let bundle {
                $0.fab = .with { fab in
                    fab.hashStr = proto.fabHash
                    fab.content = Data(bundle)
                }
            }
        }
    }

    /// A ServerApp process's sign of life (Flower's `flwr-serverapp` sends one every few seconds, and stops when
    /// told its run is no longer running).
    public func sendTaskHeartbeat(_ request: Flwr_Proto_SendTaskHeartbeatRequest, run: RunID) async throws -> Flwr_Proto_SendTaskHeartbeatResponse {
        let running = try await state.run(run)?.status == .running
        return .with { $0.success = running }
    }

    /// The nodes online now.
    public func getNodes(_ request: Flwr_Proto_GetNodesRequest, run: RunID) async throws -> Flwr_Proto_GetNodesResponse {
        try await state.requireRunning(run)
        let nodes = try await state.onlineNodes(now: now())
        return .with { $0.nodes = nodes.map { node in .with { $0.nodeID = node.rawValue; $0.status = "online" } } }
    }

    /// Stores instructions for nodes; answers with the objects the SuperLink still lacks, which the ServerApp then
    /// pushes (objects shared by several instructions are asked for once).
    public func pushMessages(_ request: Flwr_Proto_PushAppMessagesRequest, run: RunID) async throws -> Flwr_Proto_PushAppMessagesResponse {
        try await state.requireRunning(run)
        guard request.messagesList.count == request.messageObjectTrees.count else {
            throw FleetError.badRequest("\(request.messagesList.count) messages but \(request.messageObjectTrees.count) object trees")
        }
        // Every message is checked before any is stored: a call stores all of them or none.
        var checked: [(metadata: PollenCore.Message.Metadata, tree: ObjectTree)] = []
        for (message, treeProto) in zip(request.messagesList, request.messageObjectTrees) {
            let metadata = Message.Metadata(proto: message.metadata)
            let tree: ObjectTree
            do { tree = try ObjectTree(proto: treeProto) } catch { throw FleetError.badRequest("\(error)") }
            guard tree.id.rawValue == metadata.messageID.rawValue else {
                throw FleetError.badRequest("message \(metadata.messageID) does not match its object tree's root \(tree.id)")
            }
            guard metadata.runID == run else {
                throw FleetError.forbidden("a message of run \(metadata.runID) cannot be sent with the token of run \(run)")
            }
            guard metadata.source == .superLink, metadata.destination != .superLink else {
                throw FleetError.badRequest("an instruction goes from the SuperLink to a node")
            }
            checked.append((metadata, tree))
        }
        var response = Flwr_Proto_PushAppMessagesResponse()
        var asked = Set<ObjectID>()
        for (metadata, tree) in checked {
            for id in try await objects.preregister(runID: run, tree: tree) where asked.insert(id).inserted {
                response.objectsToPush.append(id.rawValue)
            }
            try await state.storeInstruction(LinkMessage(metadata: metadata, tree: tree))
            response.messageIds.append(metadata.messageID.rawValue)
        }
        await signals.signal(checked.map { .node($0.metadata.destination) })
        return response
    }

    /// Stores one object of the run's instructions.
    public func pushObject(_ pushed: CarriedObject<Flwr_Proto_PushObjectRequest>, run: RunID) async throws -> Flwr_Proto_PushObjectResponse {
        try await state.requireRunning(run)
        let object: FlowerObject
        do { object = try FlowerObject(validating: pushed.object ?? ByteBuffer(), expectedID: ObjectID(pushed.message.objectID)) } catch {
            throw FleetError.badRequest("\(error)")
        }
        guard try await objects.contains(object.id, inRun: run) else {
            throw FleetError.forbidden("object \(object.id) belongs to no message of run \(run)")
        }
        // Already here is stored too: two nodes' replies may share an object (the same metrics) and push it at
        // once, and Flower's SuperNode takes `stored = false` for a failed push and drops its reply.
        var stored = try await objects.put(object)
        if !stored { stored = try await objects.hasBytes(of: [object.id]) }
        // Nodes may be waiting for it.
        await signals.signal(.run(run))
        return .with { $0.stored = stored }
    }

    /// The replies to `message_ids` that are complete: every object arrived, or a failure. A reply whose sender went
    /// offline before pushing all of its objects becomes a failure reply saying so. A reply with content is kept
    /// (and asked for again if its answer was lost) until the ServerApp confirms it has read it.
    public func pullMessages(_ request: Flwr_Proto_PullAppMessagesRequest, run: RunID) async throws -> Flwr_Proto_PullAppMessagesResponse {
        try await state.requireRunning(run)
        let instructions = request.messageIds.map { MessageID($0) }
        await waiting.add(try await state.takeReplies(to: instructions, run: run, now: now()), run: run)
        var response = Flwr_Proto_PullAppMessagesResponse()
        for reply in await waiting.replies(to: instructions, run: run) {
            guard let ready = try await complete(reply) else { continue }
            response.messagesList.append(.with {
                $0.metadata = ready.metadata.proto
                if let error = ready.error { $0.error = error.proto } else { $0.content = Flwr_Proto_RecordDict() }
            })
            if ready.error == nil, let tree = ready.tree {
                response.messageObjectTrees.append(tree.proto)
            } else {
                // A failure has nothing to read; it is delivered once.
                await waiting.remove(answering: reply.metadata.replyTo, run: run)
            }
        }
        return response
    }

    /// `reply` once it can be read, a failure in its place if it never will be, or `nil` while its objects arrive.
    private func complete(_ reply: LinkMessage) async throws -> LinkMessage? {
        guard reply.error == nil, let tree = reply.tree else { return reply }
        if try await objects.hasBytes(of: tree.postOrder) { return reply }
        // A node that died between pushing its reply and its objects will never send them (looked at again after the
        // node is seen offline: it may have pushed its last object just before deactivating).
        guard try await state.node(reply.metadata.source, now: now())?.status != .online else { return nil }
        if try await objects.hasBytes(of: tree.postOrder) { return reply }
        try await objects.delete(tree.id)
        return LinkMessage(metadata: reply.metadata, tree: nil, error: MessageError(
            code: .clientAppRaisedException,
            reason: "the node's reply could not be read: node \(reply.metadata.source) went offline before pushing all of its reply's objects"
        ))
    }

    /// One object of a reply this run's ServerApp was given: the only objects it has to read.
    public func pullObject(_ request: Flwr_Proto_PullObjectRequest, run: RunID) async throws -> PulledObject {
        let id = ObjectID(request.objectID)
        guard await waiting.holds(id, run: run) else { return PulledObject(.unknown) }
        return PulledObject(try await objects.get(id, inRun: run))
    }

    /// The ServerApp has read a reply: its objects go, unless another message still refers to them.
    public func confirmMessageReceived(
        _ request: Flwr_Proto_ConfirmMessageReceivedRequest, run: RunID
    ) async throws -> Flwr_Proto_ConfirmMessageReceivedResponse {
        let id = ObjectID(request.messageObjectID)
        guard await waiting.removeReply(id, run: run) else {
            throw FleetError.forbidden("message \(id) is not a reply this run's ServerApp was given")
        }
        try await objects.delete(id)
        return .init()
    }

    /// Lines for the run's log.
    public func pushLogs(_ request: Flwr_Proto_PushLogsRequest, run: RunID) async throws -> Flwr_Proto_PushLogsResponse {
        try await state.requireRunning(run)
        // Flower's ServerApp sends lines with their line breaks; the log adds its own.
        for line in request.logs {
            try await state.appendLog(run: run, line: line.hasSuffix("\n") ? String(line.dropLast()) : line, now: now())
        }
        return .init()
    }

    /// How the run ended, as the ServerApp saw it; a run stopped meanwhile stays stopped.
    public func pushTaskOutput(_ request: Flwr_Proto_PushTaskOutputRequest, run: RunID) async throws -> Flwr_Proto_PushTaskOutputResponse {
        guard ["completed", "failed"].contains(request.subStatus) else {
            throw FleetError.badRequest("a run ends 'completed' or 'failed', not '\(request.subStatus)'")
        }
        if try await state.run(run)?.status == .running {
            if request.subStatus == "failed" { try await state.appendLog(run: run, line: "run failed: \(request.details)", now: now()) }
            try await state.setRunStatus(run, to: .finished(request.subStatus, details: request.details))
        }
        return .init()
    }

    /// Forgets what is kept for `run` once its ServerApp process has ended.
    public func end(_ run: RunID) async {
        await tokens.revoke(run)
        await waiting.forget(run)
    }

}

/// Replies taken from the link state and not yet read by the ServerApp, per run and by the instruction they answer.
actor WaitingReplies {
    private var replies: [RunID: [MessageID: LinkMessage]] = [:]

    func add(_ taken: [LinkMessage], run: RunID) {
        for reply in taken where reply.metadata.runID == run {
            guard let instruction = reply.metadata.replyTo else { continue }
            replies[run, default: [:]][instruction] = reply
        }
    }

    func replies(to instructions: [MessageID], run: RunID) -> [LinkMessage] {
        instructions.compactMap { replies[run]?[$0] }
    }

    func remove(answering instruction: MessageID?, run: RunID) {
        if let instruction { replies[run]?[instruction] = nil }
    }

    /// Removes the reply whose content is the object `root`; false when the run has no such reply.
    func removeReply(_ root: ObjectID, run: RunID) -> Bool {
        guard let (instruction, _) = replies[run]?.first(where: { $0.value.tree?.id == root }) else { return false }
        replies[run]?[instruction] = nil
        return true
    }

    /// Whether `id` is an object of one of the run's replies.
    func holds(_ id: ObjectID, run: RunID) -> Bool {
        replies[run]?.values.contains { $0.tree?.postOrder.contains(id) == true } ?? false
    }

    func forget(_ run: RunID) { replies[run] = nil }
}
