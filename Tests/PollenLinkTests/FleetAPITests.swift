import Crypto
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PollenCore
import PollenLink
import PollenStore
import PollenWire
import SwiftProtobuf
import Testing

/// A SuperNode's side of the Fleet API for tests: a P-384 key that signs every request, as Flower's does.
struct TestNode {
    let key = P384.Signing.PrivateKey()
    var publicKey: Data { Data(key.publicKey.pemRepresentation.utf8) }

    func headers(contentType: String = "application/protobuf") throws -> HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        for (name, value) in try NodeSignature.sign(with: key).headers { fields[HTTPField.Name(name)!] = value }
        return fields
    }
}

/// The outcome of one call: the status, and the decoded response or the JSON reason.
struct Call<Output: SwiftProtobuf.Message> {
    var status: HTTPResponse.Status
    var output: Output?
    var reason: String
}

func post<Output: SwiftProtobuf.Message>(
    _ client: some TestClientProtocol, _ route: String, _ input: some SwiftProtobuf.Message, as node: TestNode,
    expecting: Output.Type = Output.self
) async throws -> Call<Output> {
    let bytes: [UInt8] = try input.serializedBytes()
    return try await post(client, route, body: ByteBuffer(bytes: bytes), headers: node.headers())
}

/// `POST /v1/<api>/<route>` with `body`; the Fleet API unless `api` names another.
func post<Output: SwiftProtobuf.Message>(
    _ client: some TestClientProtocol, _ route: String, body: ByteBuffer, headers: HTTPFields, api: String = "fleet",
    expecting: Output.Type = Output.self
) async throws -> Call<Output> {
    try await client.execute(uri: "/v1/\(api)/\(route)", method: .post, headers: headers, body: body) { response in
        let text = String(buffer: response.body)
        let output = response.status == .ok ? try Output(serializedBytes: Array(buffer: response.body)) : nil
        return Call(status: response.status, output: output, reason: text)
    }
}

/// A SuperLink with in-memory state, and the handlers behind it for arranging state directly.
func makeSuperLink(allowsSelfRegistration: Bool = true) throws -> (Application<RouterResponder<BasicRequestContext>>, FleetHandlers) {
    let handlers = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath, allowsSelfRegistration: allowsSelfRegistration))
    return (Application(router: SuperLink.router(handlers: handlers, maximumBodyBytes: 64 * 1_024)), handlers)
}

/// Registers and activates `node`; returns its id.
func connect(_ node: TestNode, _ client: some TestClientProtocol) async throws -> UInt64 {
    let registered = try await post(client, "register-node", Flwr_Proto_RegisterNodeFleetRequest.with { $0.publicKey = node.publicKey }, as: node,
                                    expecting: Flwr_Proto_RegisterNodeFleetResponse.self)
    let activated = try await post(client, "activate-node", Flwr_Proto_ActivateNodeRequest.with {
        $0.publicKey = node.publicKey
        $0.heartbeatInterval = 30
    }, as: node, expecting: Flwr_Proto_ActivateNodeResponse.self)
    #expect(registered.output?.nodeID == activated.output?.nodeID)
    return try #require(activated.output?.nodeID)
}

@Suite struct FleetAPITests {
    @Test func aNodeRegistersPullsItsMessageAndRepliesWithItsObjects() async throws {
        let (app, handlers) = try makeSuperLink()
        try await app.test(.router) { client in
            let node = TestNode()
            let id = try await connect(node, client)
            let nodeMessage = Flwr_Proto_Node.with { $0.nodeID = id }
            let beat = try await post(client, "send-node-heartbeat", Flwr_Proto_SendNodeHeartbeatRequest.with {
                $0.node = nodeMessage
                $0.heartbeatInterval = 30
            }, as: node, expecting: Flwr_Proto_SendNodeHeartbeatResponse.self)
            #expect(beat.output?.success == true)

            // The ServerApp side: a run and an instruction whose objects the SuperLink holds.
            let run = try await handlers.state.createRun(config: [:], now: Date().timeIntervalSince1970)
            try await handlers.state.setRunStatus(run, to: .running)
            var instruction = Message(content: ["config": .config(["server-round": 1])], destination: NodeID(id), type: .train)
            instruction.metadata.runID = run
            instruction.metadata.createdAt = Date().timeIntervalSince1970
            let encoded = try MessageCodec.encode(instruction)
            _ = try await handlers.objects.preregister(runID: run, tree: encoded.tree)
            for object in encoded.objects { _ = try await handlers.objects.put(object) }
            try await handlers.state.storeInstruction(LinkMessage(metadata: encoded.message.metadata, tree: encoded.tree))

            let pulled = try await post(client, "pull-messages", Flwr_Proto_PullMessagesRequest.with { $0.node = nodeMessage }, as: node,
                                        expecting: Flwr_Proto_PullMessagesResponse.self)
            let message = try #require(pulled.output?.messagesList.first)
            #expect(message.metadata.messageID == encoded.root.rawValue)
            var fetched = [ObjectID: FlowerObject]()
            for id in try ObjectTree(proto: pulled.output!.messageObjectTrees[0]).postOrder {
                let object = try await post(client, "pull-object", Flwr_Proto_PullObjectRequest.with {
                    $0.node = nodeMessage
                    $0.runID = run.rawValue
                    $0.objectID = id.rawValue
                }, as: node, expecting: Flwr_Proto_PullObjectResponse.self)
                fetched[id] = try FlowerObject(validating: ByteBuffer(bytes: object.output!.objectContent), expectedID: id)
            }
            let received = try MessageCodec.decode(root: encoded.root) { fetched[$0] }
            #expect(received.content == instruction.content)
            // An object id opens nothing in another run, nor in a run that is not running.
            let other = try await handlers.state.createRun(config: [:], now: Date().timeIntervalSince1970)
            try await handlers.state.setRunStatus(other, to: .running)
            let elsewhere = try await post(client, "pull-object", Flwr_Proto_PullObjectRequest.with {
                $0.node = nodeMessage
                $0.runID = other.rawValue
                $0.objectID = encoded.root.rawValue
            }, as: node, expecting: Flwr_Proto_PullObjectResponse.self)
            #expect(elsewhere.output?.objectFound == false)
            let stopped = try await handlers.state.createRun(config: [:], now: Date().timeIntervalSince1970)
            let refused = try await post(client, "pull-object", Flwr_Proto_PullObjectRequest.with {
                $0.node = nodeMessage
                $0.runID = stopped.rawValue
                $0.objectID = encoded.root.rawValue
            }, as: node, expecting: Flwr_Proto_PullObjectResponse.self)
            #expect(refused.status == .forbidden, "\(refused.reason)")
            _ = try await post(client, "confirm-message-received", Flwr_Proto_ConfirmMessageReceivedRequest.with {
                $0.node = nodeMessage
                $0.runID = run.rawValue
                $0.messageObjectID = encoded.root.rawValue
            }, as: node, expecting: Flwr_Proto_ConfirmMessageReceivedResponse.self)

            var reply = received.reply(content: ["metrics": .metrics(["num-examples": 10])])
            reply.metadata.createdAt = Date().timeIntervalSince1970
            let replyObjects = try MessageCodec.encode(reply)
            let pushed = try await post(client, "push-messages", Flwr_Proto_PushMessagesRequest.with {
                $0.node = nodeMessage
                $0.messagesList = [.with { $0.metadata = replyObjects.message.metadata.proto; $0.content = .init() }]
                $0.messageObjectTrees = [replyObjects.tree.proto]
            }, as: node, expecting: Flwr_Proto_PushMessagesResponse.self)
            #expect(pushed.output?.results[replyObjects.root.rawValue] == 0)
            // The config record is shared with nothing the SuperLink still has; every reply object is asked for.
            #expect(pushed.output?.objectsToPush == replyObjects.tree.postOrder.map(\.rawValue))
            // Each object twice: an object already here counts as stored (Flower's SuperNode drops its reply on
            // `stored = false`, and another node's reply may have brought the same object first).
            for object in replyObjects.objects + replyObjects.objects {
                let stored = try await post(client, "push-object", Flwr_Proto_PushObjectRequest.with {
                    $0.node = nodeMessage
                    $0.runID = run.rawValue
                    $0.objectID = object.id.rawValue
                    $0.objectContent = Data(object.bytes)
                }, as: node, expecting: Flwr_Proto_PushObjectResponse.self)
                #expect(stored.output?.stored == true)
            }
            let replies = try await handlers.state.takeReplies(to: [encoded.message.metadata.messageID], run: run, now: Date().timeIntervalSince1970)
            #expect(replies.first?.metadata.messageID.rawValue == replyObjects.root.rawValue)
        }
    }

    @Test func badInputGetsAReasonAndTheServerKeepsServing() async throws {
        let (app, handlers) = try makeSuperLink()
        try await app.test(.router) { client in
            let node = TestNode()
            let id = try await connect(node, client)
            let other = TestNode()
            let otherID = try await connect(other, client)
            typealias Pull = Flwr_Proto_PullMessagesResponse

            let garbage: Call<Pull> = try await post(client, "pull-messages", body: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]), headers: node.headers())
            #expect(garbage.status == .badRequest)
            #expect(garbage.reason.contains("1003"))

            let unknown: Call<Pull> = try await post(client, "teleport", body: ByteBuffer(), headers: node.headers())
            #expect(unknown.status == .notFound)
            #expect(unknown.reason.contains("no route"))

            let run = try await handlers.state.createRun(config: [:], now: Date().timeIntervalSince1970)
            try await handlers.state.setRunStatus(run, to: .running)
            var object = Array(FlowerObject(type: .configRecord, children: [], body: [1, 2, 3]).bytes)
            let id0 = FlowerObject.hash(ByteBuffer(bytes: object))
            object[object.count - 1] = 9
            let forged = try await post(client, "push-object", Flwr_Proto_PushObjectRequest.with {
                $0.node = .with { $0.nodeID = id }
                $0.runID = run.rawValue
                $0.objectID = id0.rawValue
                $0.objectContent = Data(object)
            }, as: node, expecting: Flwr_Proto_PushObjectResponse.self)
            #expect(forged.status == .badRequest)
            #expect(forged.reason.contains("hash"))

            // A push-object body is read apart by Pollen's own parser, which leaves the object in the body's memory.
            typealias Push = Flwr_Proto_PushObjectResponse
            // Field 1 with wire type 7, which protobuf lacks.
            let badWireType: Call<Push> = try await post(client, "push-object", body: ByteBuffer(bytes: [0x0F, 0x01]), headers: node.headers())
            #expect(badWireType.status == .badRequest)
            #expect(badWireType.reason.contains("wire type 7"))
            // The object field (4) announces 128 bytes; 3 follow.
            let cut: Call<Push> = try await post(client, "push-object", body: ByteBuffer(bytes: [0x22, 0x80, 0x01, 1, 2, 3]), headers: node.headers())
            #expect(cut.status == .badRequest)
            #expect(cut.reason.contains("ends inside a field"))

            let oversized: Call<Pull> = try await post(client, "push-object", body: ByteBuffer(repeating: 0, count: 100 * 1_024), headers: node.headers())
            #expect(oversized.status == .contentTooLarge)
            #expect(oversized.reason.contains("exceeds"))

            // A node asking for another node's messages is refused: its key is not that node's.
            let stolen = try await post(client, "pull-messages", Flwr_Proto_PullMessagesRequest.with { $0.node = .with { $0.nodeID = otherID } },
                                        as: node, expecting: Pull.self)
            #expect(stolen.status == .unauthorized)

            var unsigned = HTTPFields()
            unsigned[.contentType] = "application/protobuf"
            let anonymous: Call<Pull> = try await post(client, "pull-messages", body: ByteBuffer(), headers: unsigned)
            #expect(anonymous.status == .unauthorized)

            let wrongType: Call<Pull> = try await post(client, "pull-messages", body: ByteBuffer(), headers: node.headers(contentType: "application/json"))
            #expect(wrongType.status == .unsupportedMediaType)

            // Confirming a message that was never delivered to the caller (and so deleting shared content) is refused.
            let confirm = try await post(client, "confirm-message-received", Flwr_Proto_ConfirmMessageReceivedRequest.with {
                $0.node = .with { $0.nodeID = id }
                $0.messageObjectID = String(repeating: "ab", count: 32)
            }, as: node, expecting: Flwr_Proto_ConfirmMessageReceivedResponse.self)
            #expect(confirm.status == .forbidden)

            // Still serving.
            let fine = try await post(client, "pull-messages", Flwr_Proto_PullMessagesRequest.with { $0.node = .with { $0.nodeID = id } }, as: node,
                                      expecting: Pull.self)
            #expect(fine.status == .ok)
        }
    }

    /// An object whose bytes were damaged in the database while the SuperLink was down is not served: the node gets
    /// a 500 naming the object, the file and the fix, its other objects still come, and the damaged one waits for
    /// its bytes again.
    @Test func aDamagedObjectInTheDatabaseIsRefusedWithTheReason() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-damaged-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let configuration = SuperLinkConfiguration(databasePath: path, allowsSelfRegistration: true)
        let node = TestNode()
        let nodeID: UInt64
        let run: RunID
        let encoded: EncodedMessage
        do {
            let handlers = try SuperLink.handlers(configuration: configuration)
            nodeID = try await Application(router: SuperLink.router(handlers: handlers, maximumBodyBytes: 64 * 1_024)).test(.router) { client in
                try await connect(node, client)
            }
            run = try await handlers.state.createRun(config: [:], now: Date().timeIntervalSince1970)
            try await handlers.state.setRunStatus(run, to: .running)
            var instruction = Message(content: ["config": .config(["server-round": 1])], destination: NodeID(nodeID), type: .train)
            instruction.metadata.runID = run
            instruction.metadata.createdAt = Date().timeIntervalSince1970
            encoded = try MessageCodec.encode(instruction)
            _ = try await handlers.objects.preregister(runID: run, tree: encoded.tree)
            for object in encoded.objects { _ = try await handlers.objects.put(object) }
            try await handlers.state.storeInstruction(LinkMessage(metadata: encoded.message.metadata, tree: encoded.tree))
        }
        // The config record's last byte changes on disk while no SuperLink runs.
        let damaged = try #require(encoded.objects.first { $0.type == .configRecord })
        var changed = Array(damaged.bytes)
        changed[changed.count - 1] ^= 0xFF
        let bytes = changed
        try await SQLiteDatabase(path: path).writer.write { db in
            try db.execute(sql: "UPDATE object SET content = ? WHERE id = ?", arguments: [Data(bytes), damaged.id.rawValue])
        }

        let restarted = try SuperLink.handlers(configuration: configuration)
        try await Application(router: SuperLink.router(handlers: restarted, maximumBodyBytes: 64 * 1_024)).test(.router) { client in
            func pull(_ id: ObjectID) async throws -> Call<Flwr_Proto_PullObjectResponse> {
                try await post(client, "pull-object", Flwr_Proto_PullObjectRequest.with {
                    $0.node = .with { $0.nodeID = nodeID }
                    $0.runID = run.rawValue
                    $0.objectID = id.rawValue
                }, as: node)
            }
            let refused = try await pull(damaged.id)
            #expect(refused.status == .internalServerError)
            for part in ["object \(damaged.id) in the SuperLink's database '\(path)' was damaged", "hash", "restore the database from a backup"] {
                #expect(refused.reason.contains(part), "\(refused.reason)")
            }
            // Asked again, it is awaited: its damaged bytes are gone, and a push of the right ones repairs it.
            let awaited = try await pull(damaged.id)
            #expect(awaited.output?.objectFound == true && awaited.output?.objectAvailable == false)
            #expect(try await restarted.objects.put(damaged))
            #expect(try await pull(damaged.id).output.map { Array($0.objectContent) } == Array(damaged.bytes))
            let intact = try #require(encoded.objects.first { $0.type == .message })
            let served = try await pull(intact.id)
            #expect(served.output.map { Array($0.objectContent) } == Array(intact.bytes))
        }
    }

    /// A reason reaches a peer as valid JSON whatever it holds: quotes, backslashes, line breaks, control characters.
    @Test func errorReasonsAreValidJSONWhateverTheyHold() throws {
        let detail = "line one\nline\ttwo \"quoted\" \\ \u{1} é"
        let parsed = try JSONSerialization.jsonObject(with: Data(FleetError(status: 400, code: 0, detail: detail).json.utf8)) as? [String: Any]
        #expect(parsed?["detail"] as? String == detail)
    }

    @Test func knownNodesOnlyRefusesSelfRegistration() async throws {
        let (app, _) = try makeSuperLink(allowsSelfRegistration: false)
        try await app.test(.router) { client in
            let node = TestNode()
            let call = try await post(client, "register-node", Flwr_Proto_RegisterNodeFleetRequest.with { $0.publicKey = node.publicKey }, as: node,
                                      expecting: Flwr_Proto_RegisterNodeFleetResponse.self)
            #expect(call.status == .preconditionFailed)
            #expect(call.reason.contains("2001"))
        }
    }
}
