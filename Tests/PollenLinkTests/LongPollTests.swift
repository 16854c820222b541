import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PollenCore
import PollenLink
import PollenStore
import PollenWire
import SwiftProtobuf
import Testing

/// Pollen's long polling on the Fleet API: a node that asks for it (`LongPoll.header`) is answered as soon as its
/// instruction, or the object it waits for, arrives; a node that does not (Flower's) is answered at once.
@Suite struct LongPollTests {
    /// Posts `input` as `node`, asking the SuperLink to hold the request up to `waitSeconds` (none: `nil`); the call and
    /// the wait the answer allows.
    func poll<Output: SwiftProtobuf.Message>(
        _ client: some TestClientProtocol, _ route: String, _ input: some SwiftProtobuf.Message, as node: TestNode, waitSeconds: Double?,
        expecting: Output.Type = Output.self
    ) async throws -> (call: Call<Output>, held: String?) {
        var headers = try node.headers()
        if let waitSeconds { headers[HTTPField.Name(LongPoll.header)!] = String(waitSeconds) }
        let body = ByteBuffer(bytes: try input.serializedBytes() as [UInt8])
        return try await client.execute(uri: "/v1/fleet/\(route)", method: .post, headers: headers, body: body) { response in
            let output = response.status == .ok ? try Output(serializedBytes: Array(buffer: response.body)) : nil
            return (Call(status: response.status, output: output, reason: String(buffer: response.body)), response.headers[HTTPField.Name(LongPoll.header)!])
        }
    }

    /// An instruction for `node` in `run`, carrying `parameters` float32 values (more than one chunk when large), as a
    /// ServerApp process sends it.
    func instruction(to node: UInt64, run: RunID, parameters: Int = 4) throws -> EncodedMessage {
        var message = Message(content: ["arrays": .arrays(["w": try Tensor(zeros: .float32, shape: [parameters])])], destination: NodeID(node), type: .train)
        message.metadata.runID = run
        message.metadata.source = .superLink
        message.metadata.createdAt = Date().timeIntervalSince1970
        return try MessageCodec.encode(message, chunkBytes: 64)
    }

    func push(_ encoded: EncodedMessage, run: RunID, through runtime: RuntimeHandlers) async throws -> Flwr_Proto_PushAppMessagesResponse {
        try await runtime.pushMessages(Flwr_Proto_PushAppMessagesRequest.with {
            $0.messagesList = [.with { $0.metadata = encoded.message.metadata.proto; $0.content = .init() }]
            $0.messageObjectTrees = [encoded.tree.proto]
        }, run: run)
    }

    /// A SuperLink with a running run and one connected node, and its runtime API's handlers.
    func withConnectedNode(
        _ body: @Sendable (_ client: any TestClientProtocol, _ runtime: RuntimeHandlers, _ run: RunID, _ node: TestNode, _ id: UInt64) async throws -> Void
    ) async throws {
        let (app, fleet) = try makeSuperLink()
        let runtime = RuntimeHandlers(fleet: fleet)
        let run = try await fleet.state.createRun(config: [:], now: Date().timeIntervalSince1970)
        try await fleet.state.setRunStatus(run, to: .running)
        try await app.test(.router) { client in
            let node = TestNode()
            try await body(client, runtime, run, node, try await connect(node, client))
        }
    }

    @Test func aHeldPullIsAnsweredWhenItsInstructionArrives() async throws {
        try await withConnectedNode { client, runtime, run, node, id in
            let request = Flwr_Proto_PullMessagesRequest.with { $0.node = .with { $0.nodeID = id } }

            // Without the header, an empty answer comes at once and says nothing of waiting (Flower's behaviour).
            let plain: (call: Call<Flwr_Proto_PullMessagesResponse>, held: String?) = try await poll(client, "pull-messages", request, as: node, waitSeconds: nil)
            #expect(plain.call.status == .ok && plain.call.output?.messagesList.isEmpty == true && plain.held == nil)
            // With it, and nothing coming, the answer is empty once the wait is over, and says it waited.
            let idle: (call: Call<Flwr_Proto_PullMessagesResponse>, held: String?) = try await poll(client, "pull-messages", request, as: node, waitSeconds: 0.2)
            #expect(idle.call.output?.messagesList.isEmpty == true && idle.held == "0.2")

            // A pull already held gets the instruction the ServerApp sends meanwhile.
            async let held: (call: Call<Flwr_Proto_PullMessagesResponse>, held: String?) = poll(client, "pull-messages", request, as: node, waitSeconds: 15)
            try await Task.sleep(for: .milliseconds(300))
            let encoded = try instruction(to: id, run: run)
            _ = try await push(encoded, run: run, through: runtime)
            let answer = try await held
            #expect(answer.call.output?.messagesList.first?.metadata.messageID == encoded.root.rawValue)
            #expect(answer.held == "15.0")
        }
    }

    @Test func aHeldObjectPullIsAnsweredWhenTheObjectArrives() async throws {
        try await withConnectedNode { client, runtime, run, node, id in
            // The instruction is stored before its objects, as a ServerApp process sends it.
            let encoded = try instruction(to: id, run: run, parameters: 64)
            let missing = try await push(encoded, run: run, through: runtime).objectsToPush
            let chunk = try #require(encoded.objects.first { $0.type == .arrayChunk })
            #expect(missing.contains(chunk.id.rawValue))
            let request = Flwr_Proto_PullObjectRequest.with {
                $0.node = .with { $0.nodeID = id }
                $0.runID = run.rawValue
                $0.objectID = chunk.id.rawValue
            }
            let early: (call: Call<Flwr_Proto_PullObjectResponse>, held: String?) = try await poll(client, "pull-object", request, as: node, waitSeconds: nil)
            #expect(early.call.output?.objectFound == true && early.call.output?.objectAvailable == false)

            async let held: (call: Call<Flwr_Proto_PullObjectResponse>, held: String?) = poll(client, "pull-object", request, as: node, waitSeconds: 15)
            try await Task.sleep(for: .milliseconds(300))
            _ = try await runtime.pushObject(CarriedObject(Flwr_Proto_PushObjectRequest.with {
                $0.runID = run.rawValue
                $0.objectID = chunk.id.rawValue
            }, object: chunk.buffer), run: run)
            let answer = try await held
            #expect(answer.call.output?.objectAvailable == true)
            #expect(answer.call.output?.objectContent == Data(chunk.bytes))
        }
    }
}
