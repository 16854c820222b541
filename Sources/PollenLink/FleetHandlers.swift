import PollenCore
public import PollenStore
public import PollenWire
import NIOCore
public import Foundation
import SwiftProtobuf

/// The Fleet API's logic, free of HTTP: each handler takes a decoded request and the authenticated caller's
/// public key (`NodePublicKey.canonical`: one key has one form, whichever text of it a node sends), and returns
/// the response or throws a `FleetError`. The router decodes, authenticates and encodes.
public struct FleetHandlers: Sendable {
    /// The heartbeat intervals a node may declare, in seconds (Flower's bounds).
    public static let heartbeatIntervals = 10.0...1_800.0

    public let state: any LinkState
    public let objects: any ObjectStore
    /// Wakes requests waiting for instructions, replies and objects (long polling).
    public let signals: LinkSignals
    /// Whether nodes may register their own key; `false` with `--require-known-nodes`.
    public let allowsSelfRegistration: Bool
    /// The clock, in seconds since 1970 (injected so liveness is tested without waiting).
    public let now: @Sendable () -> Double

    public init(
        state: any LinkState, objects: any ObjectStore, allowsSelfRegistration: Bool, signals: LinkSignals = LinkSignals(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.state = state
        self.objects = objects
        self.signals = signals
        self.allowsSelfRegistration = allowsSelfRegistration
        self.now = now
    }

    public func registerNode(_ request: Flwr_Proto_RegisterNodeFleetRequest, caller: [UInt8]) async throws -> Flwr_Proto_RegisterNodeFleetResponse {
        guard allowsSelfRegistration else { throw FleetError.registrationDisabled }
        try requireSameKey(request.publicKey, caller)
        do {
            let id = try await state.registerNode(publicKey: caller, now: now())
            return .with { $0.nodeID = id.rawValue }
        } catch let error as StoreError where error.code == .conflict {
            throw FleetError.publicKeyInUse
        }
    }

    public func activateNode(_ request: Flwr_Proto_ActivateNodeRequest, caller: [UInt8]) async throws -> Flwr_Proto_ActivateNodeResponse {
        try requireSameKey(request.publicKey, caller)
        guard Self.heartbeatIntervals.contains(request.heartbeatInterval) else {
            throw FleetError.invalidHeartbeatInterval(request.heartbeatInterval)
        }
        do {
            let id = try await state.activateNode(publicKey: caller, heartbeatInterval: request.heartbeatInterval, now: now())
            return .with { $0.nodeID = id.rawValue }
        } catch let error as StoreError {
            throw FleetError.activationFailed(error.message)
        }
    }

    public func deactivateNode(_ request: Flwr_Proto_DeactivateNodeRequest, caller: [UInt8]) async throws -> Flwr_Proto_DeactivateNodeResponse {
        try await requireOwner(NodeID(request.nodeID), caller)
        try await state.deactivateNode(NodeID(request.nodeID))
        return .init()
    }

    public func unregisterNode(_ request: Flwr_Proto_UnregisterNodeFleetRequest, caller: [UInt8]) async throws -> Flwr_Proto_UnregisterNodeFleetResponse {
        try await requireOwner(NodeID(request.nodeID), caller)
        try await state.unregisterNode(NodeID(request.nodeID))
        return .init()
    }

    public func sendHeartbeat(_ request: Flwr_Proto_SendNodeHeartbeatRequest, caller: [UInt8]) async throws -> Flwr_Proto_SendNodeHeartbeatResponse {
        try await requireOwner(NodeID(request.node.nodeID), caller)
        guard Self.heartbeatIntervals.contains(request.heartbeatInterval) else {
            throw FleetError.invalidHeartbeatInterval(request.heartbeatInterval)
        }
        let success = try await state.heartbeat(NodeID(request.node.nodeID), heartbeatInterval: request.heartbeatInterval, now: now())
        return .with { $0.success = success }
    }

    /// Hands the node at most one instruction per call, as Flower's SuperLink does; its content travels as objects.
    public func pullMessages(_ request: Flwr_Proto_PullMessagesRequest, caller: [UInt8]) async throws -> Flwr_Proto_PullMessagesResponse {
        let node = NodeID(request.node.nodeID)
        try await requireOwner(node, caller)
        let messages = try await state.takeInstructions(for: node, limit: 1, now: now())
        return .with { response in
            response.messagesList = messages.map { message in
                .with {
                    $0.metadata = message.metadata.proto
                    $0.content = Flwr_Proto_RecordDict()
                }
            }
            response.messageObjectTrees = messages.compactMap { $0.tree?.proto }
        }
    }

    /// Stores the node's replies; answers with the objects the SuperLink still lacks.
    public func pushMessages(_ request: Flwr_Proto_PushMessagesRequest, caller: [UInt8]) async throws -> Flwr_Proto_PushMessagesResponse {
        let node = NodeID(request.node.nodeID)
        try await requireOwner(node, caller)
        var response = Flwr_Proto_PushMessagesResponse()
        response.reconnect = .with { $0.reconnect = 5 }
        response.sessionID = UUID().uuidString.lowercased()
        for (index, message) in request.messagesList.enumerated() {
            var metadata = Message.Metadata(proto: message.metadata)
            guard metadata.source == node, metadata.destination == .superLink else {
                throw FleetError.forbidden("a reply must come from its sender (\(node)) and go to the SuperLink")
            }
            try await state.requireRunning(metadata.runID)
            var tree: ObjectTree?
            if !message.hasError {
                guard index < request.messageObjectTrees.count else {
                    throw FleetError.badRequest("reply \(index) has content but no object tree")
                }
                let parsed: ObjectTree
                do { parsed = try ObjectTree(proto: request.messageObjectTrees[index]) } catch { throw FleetError.badRequest("\(error)") }
                guard parsed.id.rawValue == metadata.messageID.rawValue else {
                    throw FleetError.badRequest("reply \(metadata.messageID) does not match its object tree's root \(parsed.id)")
                }
                tree = parsed
            } else {
                // An error reply travels whole; its id is its object's id, computed here.
                let encoded = try MessageCodec.encode(Message(metadata: metadata, body: .error(MessageError(proto: message.error))))
                metadata = encoded.message.metadata
            }
            let stored = try await state.storeReply(
                LinkMessage(metadata: metadata, tree: tree, error: message.hasError ? MessageError(proto: message.error) : nil), now: now()
            )
            response.results[metadata.messageID.rawValue] = stored ? 0 : 1
            if stored { await signals.signal(.run(metadata.runID)) }
            var alreadyKnown = false
            if let tree { alreadyKnown = try await objects.contains(tree.id, inRun: nil) }
            if let tree, stored || alreadyKnown {
                // A retried push of a stored reply learns which of its objects are still missing.
                response.objectsToPush += try await objects.preregister(runID: metadata.runID, tree: tree).map(\.rawValue)
            }
        }
        return response
    }

    public func getRun(_ request: Flwr_Proto_GetRunRequest, caller: [UInt8]) async throws -> Flwr_Proto_GetRunResponse {
        try await requireOwner(NodeID(request.node.nodeID), caller)
        guard let run = try await state.run(RunID(request.runID)) else {
            throw FleetError(status: 403, code: 0, detail: "run \(request.runID) does not exist")
        }
        return .with { $0.run = run.proto }
    }

    /// The run's app bundle: the one its researcher submitted (`flwr run`), or, for a run of a built-in app,
    /// `BuiltInAppBundle`. Flower SuperNodes ask for every run; Pollen SuperNodes only for a researcher's bundle
    /// they run with `--flower-clientapp`.
    public func getFab(_ request: Flwr_Proto_GetFabRequest, caller: [UInt8]) async throws -> Flwr_Proto_GetFabResponse {
        try await requireOwner(NodeID(request.node.nodeID), caller)
        guard let run = try await state.run(RunID(request.runID)), run.status == .running else {
            throw FleetError.runNotRunning(String(request.runID))
        }
        let hash = run.proto.fabHash
        guard request.hashStr == hash else {
            throw FleetError.notFound("run \(request.runID) has no app bundle \(request.hashStr); its bundle is \(hash)")
        }
        let content: [UInt8]
        if run.flowerApp == nil {
            content = BuiltInAppBundle(config: run.config).content
        } else {
            guard let stored = try await state.flowerApp(hash: hash) else { throw FleetError.notFound("the app bundle \(hash) is not stored") }
            content = stored
        }
        return .with {
            $0.fab.hashStr = hash
            $0.fab.content = Data(content)
        }
    }

    public func pushObject(_ pushed: CarriedObject<Flwr_Proto_PushObjectRequest>, caller: [UInt8]) async throws -> Flwr_Proto_PushObjectResponse {
        let request = pushed.message
        try await requireOwner(NodeID(request.node.nodeID), caller)
        try await state.requireRunning(RunID(request.runID))
        let object: FlowerObject
        do {
            object = try FlowerObject(validating: pushed.object ?? ByteBuffer(), expectedID: ObjectID(request.objectID))
        } catch {
            throw FleetError.badRequest("\(error)")
        }
        // Already here is stored too: two nodes' replies may share an object (the same metrics) and push it at
        // once, and Flower's SuperNode takes `stored = false` for a failed push and drops its reply.
        var stored = try await objects.put(object)
        if !stored { stored = try await objects.hasBytes(of: [object.id]) }
        await signals.signal(.run(RunID(request.runID)))
        return .with { $0.stored = stored }
    }

    public func pullObject(_ request: Flwr_Proto_PullObjectRequest, caller: [UInt8]) async throws -> PulledObject {
        try await requireOwner(NodeID(request.node.nodeID), caller)
        try await state.requireRunning(RunID(request.runID))
        // Only objects of the run named: an id from one run opens nothing in another.
        return PulledObject(try await objects.get(ObjectID(request.objectID), inRun: RunID(request.runID)))
    }

    public func confirmMessageReceived(
        _ request: Flwr_Proto_ConfirmMessageReceivedRequest, caller: [UInt8]
    ) async throws -> Flwr_Proto_ConfirmMessageReceivedResponse {
        let node = NodeID(request.node.nodeID)
        try await requireOwner(node, caller)
        // Only the recipient confirms, and only its own message: the content it shares with other nodes' messages
        // stays until they confirm too.
        guard try await state.wasDelivered(MessageID(request.messageObjectID), to: node) else {
            throw FleetError.forbidden("message \(request.messageObjectID) was not delivered to node \(node)")
        }
        try await objects.delete(ObjectID(request.messageObjectID))
        return .init()
    }

    /// The key a request names must be the key that signed it (`caller`, in canonical form).
    private func requireSameKey(_ requested: Data, _ caller: [UInt8]) throws {
        guard (try? NodePublicKey(text: [UInt8](requested)).canonical) == caller else {
            throw FleetError.unauthenticated("the request's public key differs from the signing key")
        }
    }

    /// The caller's key must be the key `node` registered: a node can act only as itself.
    private func requireOwner(_ node: NodeID, _ caller: [UInt8]) async throws {
        guard let info = try await state.node(node, now: now()), info.publicKey == caller, info.status != .unregistered else {
            throw FleetError.unauthenticated("node \(node) is not registered with the signing key")
        }
    }
}

extension RunInfo {
    /// The run as Flower describes it, naming its app bundle: the researcher's, or the built-in apps' one.
    var proto: Flwr_Proto_Run {
        .with {
            if let flowerApp {
                $0.fabHash = flowerApp.hash
                $0.fabID = flowerApp.id
                $0.fabVersion = flowerApp.version
            } else {
                $0.fabHash = BuiltInAppBundle(config: config).hash
                $0.fabID = BuiltInAppBundle.id
                $0.fabVersion = BuiltInAppBundle.version
            }
            // When it was submitted, started and ended, as Flower's `flwr ls` reads them.
            let iso = ISO8601DateFormatter()
            $0.pendingAt = iso.string(from: Date(timeIntervalSince1970: createdAt))
            if runningAt > 0 { $0.runningAt = iso.string(from: Date(timeIntervalSince1970: runningAt)) }
            if finishedAt > 0 { $0.finishedAt = iso.string(from: Date(timeIntervalSince1970: finishedAt)) }
            $0.runID = id.rawValue
            $0.overrideConfig = UserConfigProto.encode(UserConfig(uniqueKeysWithValues: config.map { ($0.key, $0.value) }))
            $0.status = .with { status in
                status.status = self.status.phase
                status.subStatus = self.status.subStatus
                status.details = self.status.details
            }
        }
    }
}

extension LinkState {
    /// Refuses work on a run that is not running (finished, stopped or unknown).
    func requireRunning(_ run: RunID) async throws {
        guard let info = try await self.run(run), info.status == .running else {
            throw FleetError.runNotRunning(String(run.rawValue))
        }
    }
}
