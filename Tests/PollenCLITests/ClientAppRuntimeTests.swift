import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PollenCore
@testable import PollenCLI
import PollenWire
import SwiftProtobuf
import Testing

/// The runtime API a SuperNode serves its Flower ClientApp processes: a token opens one message's task while it
/// runs, and what a process pushes is checked (one reply, objects of that reply only, bytes that hash to their id).
@Suite struct ClientAppRuntimeTests {
    func call<Output: SwiftProtobuf.Message>(
        _ client: some TestClientProtocol, _ route: String, _ input: some SwiftProtobuf.Message, token: String?, as: Output.Type = Output.self
    ) async throws -> (status: HTTPResponse.Status, output: Output?, reason: String) {
        var headers: HTTPFields = [.contentType: "application/protobuf"]
        if let token { headers[HTTPField.Name("flwr-task-token")!] = token }
        let body = ByteBuffer(bytes: try input.serializedBytes() as [UInt8])
        return try await client.execute(uri: "/v1/runtime/\(route)", method: .post, headers: headers, body: body) { response in
            (response.status, response.status == .ok ? try Output(serializedBytes: Array(buffer: response.body)) : nil, String(buffer: response.body))
        }
    }

    @Test func aTaskIsOpenOnlyToItsTokenAndTakesOneCheckedReply() async throws {
        var message = Message(content: ["arrays": .arrays(["w": try Tensor([Float](repeating: 1, count: 64), shape: [64])])], destination: NodeID(7), type: .train)
        message.metadata.runID = RunID(3)
        let instruction = message
        let encoded = try MessageCodec.encode(instruction, chunkBytes: 100)
        let task = FlowerClientAppTask(input: .with { $0.context.runID = 3 }, instruction: encoded)
        let runtime = ClientAppRuntime()
        runtime.open(task, token: "secret")
        try await runtime.application(logger: Logger(label: "test")).test(.router) { client in
            let anonymous = try await call(client, "pull-messages", Flwr_Proto_PullAppMessagesRequest(), token: nil, as: Flwr_Proto_PullAppMessagesResponse.self)
            #expect(anonymous.status == .unauthorized)
            let guessed = try await call(client, "pull-messages", Flwr_Proto_PullAppMessagesRequest(), token: "guess", as: Flwr_Proto_PullAppMessagesResponse.self)
            #expect(guessed.status == .unauthorized && guessed.reason.contains("flwr-task-token"), "\(guessed.reason)")

            let pulled = try #require(try await call(client, "pull-messages", Flwr_Proto_PullAppMessagesRequest(), token: "secret", as: Flwr_Proto_PullAppMessagesResponse.self).output)
            #expect(pulled.messageObjectTrees.map(\.objectID) == [encoded.root.rawValue])
            for object in encoded.objects {
                let answer = try await call(client, "pull-object", Flwr_Proto_PullObjectRequest.with { $0.objectID = object.id.rawValue }, token: "secret", as: Flwr_Proto_PullObjectResponse.self)
                #expect(answer.output.map { Array($0.objectContent) } == Array(object.bytes))
            }
            let unknown = try await call(client, "pull-object", Flwr_Proto_PullObjectRequest.with { $0.objectID = String(repeating: "0", count: 64) }, token: "secret", as: Flwr_Proto_PullObjectResponse.self)
            #expect(unknown.output?.objectFound == false)

            let reply = try MessageCodec.encode(instruction.reply(content: ["metrics": .metrics(["loss": 0.5])]))
            func push(_ object: FlowerObject, bytes: [UInt8]? = nil) async throws -> (status: HTTPResponse.Status, output: Flwr_Proto_PushObjectResponse?, reason: String) {
                try await call(client, "push-object", Flwr_Proto_PushObjectRequest.with {
                    $0.objectID = object.id.rawValue
                    $0.objectContent = Data(bytes ?? Array(object.bytes))
                }, token: "secret")
            }
            let early = try await push(reply.objects[0])
            #expect(early.status == .badRequest && early.reason.contains("not an object of the reply"), "\(early.reason)")
            let pushReply = Flwr_Proto_PushAppMessagesRequest.with {
                $0.messagesList = [.with { $0.metadata = reply.message.metadata.proto }]
                $0.messageObjectTrees = [reply.tree.proto]
            }
            let asked = try #require(try await call(client, "push-messages", pushReply, token: "secret", as: Flwr_Proto_PushAppMessagesResponse.self).output)
            #expect(Set(asked.objectsToPush) == Set(reply.objects.map(\.id.rawValue)))
            var tampered = Array(reply.objects[0].bytes)
            tampered[tampered.count - 1] ^= 1
            let forged = try await push(reply.objects[0], bytes: tampered)
            #expect(forged.status == .badRequest && forged.reason.contains("hash"), "\(forged.reason)")
            #expect(try await task.reply() == nil)
            for object in reply.objects { #expect(try await push(object).output?.stored == true) }
            #expect(try await task.reply()?.content == reply.message.content)
            let again = try await call(client, "push-messages", pushReply, token: "secret", as: Flwr_Proto_PushAppMessagesResponse.self)
            #expect(again.status == .badRequest, "a ClientApp pushes one reply")

            runtime.close("secret")
            let closed = try await call(client, "pull-messages", Flwr_Proto_PullAppMessagesRequest(), token: "secret", as: Flwr_Proto_PullAppMessagesResponse.self)
            #expect(closed.status == .unauthorized)
        }
    }
}
