import Foundation
import PollenCore
import PollenStore
import PollenWire
import Testing

extension StoreKind {
    func makeLinkState() throws -> any LinkState {
        switch self {
        case .memory: SQLiteLinkState(database: try SQLiteDatabase(path: SQLiteDatabase.inMemoryPath))
        case .sqlite: SQLiteLinkState(database: try SQLiteDatabase(path: temporaryDatabasePath()))
        }
    }
}

/// An encoded instruction for `node` in `run`, created at `now` with `ttl` seconds to live.
func instruction(run: RunID, node: NodeID, now: Double, ttl: Double = 60) throws -> LinkMessage {
    var message = Message(content: ["config": .config(["server-round": 1])], destination: node, type: .train, ttlSeconds: ttl)
    message.metadata.runID = run
    message.metadata.createdAt = now
    let encoded = try MessageCodec.encode(message)
    return LinkMessage(metadata: encoded.message.metadata, tree: encoded.tree)
}

@Suite struct LinkStateContractTests {
    static let key = Array("-----BEGIN PUBLIC KEY-----node-a".utf8)

    @Test(arguments: StoreKind.allCases)
    func nodeLifecycle(kind: StoreKind) async throws {
        let state = try kind.makeLinkState()
        let id = try await state.registerNode(publicKey: Self.key, now: 100)
        await #expect(throws: StoreError.self) { try await state.registerNode(publicKey: Self.key, now: 100) }
        #expect(try await state.node(id, now: 100)?.status == .registered)
        #expect(try await state.activateNode(publicKey: Self.key, heartbeatInterval: 30, now: 100) == id)
        // Activating a node that is still online fails (Flower's 412/2004).
        await #expect(throws: StoreError.self) { try await state.activateNode(publicKey: Self.key, heartbeatInterval: 30, now: 101) }
        #expect(try await state.onlineNodes(now: 150) == [id])
        // Online for twice the interval after the last heartbeat, then offline.
        #expect(try await state.onlineNodes(now: 161) == [])
        #expect(try await state.node(id, now: 161)?.status == .offline)
        #expect(try await state.heartbeat(id, heartbeatInterval: 30, now: 170))
        #expect(try await state.onlineNodes(now: 200) == [id])
        #expect(try await state.nodes(now: 200).map(\.id) == [id])
        try await state.markAllNodesOffline()
        #expect(try await state.onlineNodes(now: 200) == [])
        #expect(try await state.activateNode(publicKey: Self.key, heartbeatInterval: 30, now: 200) == id)
        try await state.deactivateNode(id)
        #expect(try await state.onlineNodes(now: 200) == [])
        try await state.unregisterNode(id)
        #expect(try await state.heartbeat(id, heartbeatInterval: 30, now: 201) == false)
        #expect(try await state.heartbeat(NodeID(12_345), heartbeatInterval: 30, now: 201) == false)
    }

    @Test(arguments: StoreKind.allCases)
    func runLifecycle(kind: StoreKind) async throws {
        let state = try kind.makeLinkState()
        let id = try await state.createRun(config: ["num-server-rounds": 3, "model": "logistic"], owner: "alice", now: 10)
        #expect(try await state.run(id)?.status == .pending)
        #expect(try await state.run(id)?.config["model"] == "logistic")
        #expect(try await state.run(id)?.owner == "alice")
        try await state.setRunStatus(id, to: .running, now: 20)
        try await state.setRunStatus(id, to: .finished("completed"), now: 30)
        await #expect(throws: StoreError.self) { try await state.setRunStatus(id, to: .running) }
        #expect(try await state.run(id).map { [$0.createdAt, $0.runningAt, $0.finishedAt] } == [10, 20, 30])
        #expect(try await state.runs().map(\.id) == [id])
        try await state.appendLog(run: id, line: "round 1", now: 11)
        try await state.appendLog(run: id, line: "round 2", now: 12)
        #expect(try await state.logs(run: id, after: 11).map(\.line) == ["round 2"])
        // A writer whose clock read earlier, committing later, still comes after what a reader has seen.
        try await state.appendLog(run: id, line: "late", now: 11.5)
        #expect(try await state.logs(run: id, after: 12).map(\.line) == ["late"])
        #expect(try await state.logs(run: id, after: 0).map(\.line) == ["round 1", "round 2", "late"])
        #expect(try await state.run(id)?.flowerApp == nil)
    }

    /// A run of a Flower App Bundle: the bundle is stored once under its SHA-256, the run refers to it, and gets
    /// its `publisher/name` and version later; a run of a bundle never stored is refused.
    @Test(arguments: StoreKind.allCases)
    func runsOfFlowerAppBundles(kind: StoreKind) async throws {
        let state = try kind.makeLinkState()
        let bundle = Array("PK\u{3}\u{4} a zip".utf8)
        let hash = try await state.storeFlowerApp(bundle)
        // `printf 'PK\003\004 a zip' | sha256sum`
        #expect(hash == "2fb0a5b56ad1586ffd4e73c7929cbf7ebd0dcbbcfaa8df9e498c8d86df2845e8")
        #expect(try await state.storeFlowerApp(bundle) == hash)
        #expect(try await state.flowerApp(hash: hash) == bundle)
        #expect(try await state.flowerApp(hash: String(repeating: "0", count: 64)) == nil)
        let id = try await state.createRun(config: ["num-server-rounds": 2], owner: "bob", flowerApp: hash, now: 10)
        #expect(try await state.run(id)?.flowerApp == FlowerAppReference(hash: hash))
        try await state.setFlowerAppMetadata(id, appID: "pollenbench/transferbench", version: "1.0.0")
        #expect(try await state.run(id)?.flowerApp == FlowerAppReference(hash: hash, id: "pollenbench/transferbench", version: "1.0.0"))
        let builtIn = try await state.createRun(config: [:], now: 11)
        await #expect(throws: StoreError.self) { try await state.setFlowerAppMetadata(builtIn, appID: "x/y", version: "1") }
        await #expect(throws: StoreError.self) {
            try await state.createRun(config: [:], owner: "", flowerApp: String(repeating: "0", count: 64), now: 12)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func instructionsAreDeliveredOnceAndRepliesReturnedOnce(kind: StoreKind) async throws {
        let state = try kind.makeLinkState()
        let node = try await state.registerNode(publicKey: Self.key, now: 0)
        _ = try await state.activateNode(publicKey: Self.key, heartbeatInterval: 30, now: 0)
        let run = try await state.createRun(config: [:], now: 0)
        let sent = try instruction(run: run, node: node, now: 1)
        try await state.storeInstruction(sent)
        #expect(try await state.takeInstructions(for: NodeID(999), limit: 1, now: 2) == [])
        let pulled = try await state.takeInstructions(for: node, limit: 1, now: 2)
        #expect(pulled == [sent])
        #expect(try await state.takeInstructions(for: node, limit: 1, now: 3) == [])
        #expect(try await state.takeReplies(to: [sent.metadata.messageID], run: run, now: 4) == [])

        var reply = Message(metadata: sent.metadata, body: .content(RecordDict())).reply(content: ["metrics": .metrics(["num-examples": 5])])
        reply.metadata.createdAt = 5
        let encoded = try MessageCodec.encode(reply)
        let stored = LinkMessage(metadata: encoded.message.metadata, tree: encoded.tree)
        // Only the destination may reply, and only once.
        var impostor = stored
        impostor.metadata.source = NodeID(77)
        #expect(try await state.storeReply(impostor, now: 5) == false)
        #expect(try await state.storeReply(stored, now: 5))
        #expect(try await state.storeReply(stored, now: 5) == false)
        // Another run's replies are not taken, nor touched.
        let otherRun = try await state.createRun(config: [:], now: 6)
        #expect(try await state.takeReplies(to: [sent.metadata.messageID], run: otherRun, now: 6) == [])
        #expect(try await state.takeReplies(to: [sent.metadata.messageID], run: run, now: 6) == [stored])
        #expect(try await state.takeReplies(to: [sent.metadata.messageID], run: run, now: 7) == [])
    }

    @Test(arguments: StoreKind.allCases)
    func expiredInstructionsAndOfflineNodesGetFailureReplies(kind: StoreKind) async throws {
        let state = try kind.makeLinkState()
        let node = try await state.registerNode(publicKey: Self.key, now: 0)
        _ = try await state.activateNode(publicKey: Self.key, heartbeatInterval: 30, now: 0)
        let run = try await state.createRun(config: [:], now: 0)
        let expiring = try instruction(run: run, node: node, now: 0, ttl: 10)
        let waiting = try instruction(run: run, node: node, now: 0.5, ttl: 1_000)
        try await state.storeInstruction(expiring)
        try await state.storeInstruction(waiting)
        #expect(try await state.takeInstructions(for: node, limit: 5, now: 20) == [waiting])
        let expired = try await state.takeReplies(to: [expiring.metadata.messageID], run: run, now: 20)
        #expect(expired.first?.error?.code == .messageUnavailable)
        #expect(expired.first?.metadata.replyTo == expiring.metadata.messageID)
        // The node's heartbeats stop: its pending instruction fails with a stated reason.
        let offline = try await state.takeReplies(to: [waiting.metadata.messageID], run: run, now: 100)
        #expect(offline.first?.error?.code == .nodeUnavailable)
        #expect(offline.first?.error?.reason.contains("offline") == true)
    }
}
