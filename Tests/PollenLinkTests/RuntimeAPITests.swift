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

/// The app runtime API a ServerApp process uses: every call needs its run's token, and a token opens its own run
/// only.
@Suite struct RuntimeAPITests {
    func call<Output: SwiftProtobuf.Message>(
        _ client: some TestClientProtocol, _ route: String, _ input: some SwiftProtobuf.Message, token: String?,
        expecting: Output.Type = Output.self
    ) async throws -> Call<Output> {
        var headers = HTTPFields()
        headers[.contentType] = "application/protobuf"
        if let token { headers[HTTPField.Name(RuntimeRoutes.tokenHeader)!] = token }
        return try await post(client, route, body: ByteBuffer(bytes: try input.serializedBytes() as [UInt8]), headers: headers, api: "runtime")
    }

    @Test func aTokenOpensItsOwnRunOnlyAndEndsWithIt() async throws {
        let fleet = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        let handlers = RuntimeHandlers(fleet: fleet)
        let router = Router()
        router.add(middleware: FleetErrorMiddleware())
        RuntimeRoutes.add(to: router, handlers: handlers)
        let app = Application(router: router)
        let now = Date().timeIntervalSince1970
        let mine = try await fleet.state.createRun(config: ["app": "model-transfer"], now: now)
        let other = try await fleet.state.createRun(config: [:], now: now)
        for run in [mine, other] { try await fleet.state.setRunStatus(run, to: .running) }
        let token = await handlers.tokens.issue(for: mine)

        try await app.test(.router) { client in
            typealias Input = Flwr_Proto_PullTaskInputResponse
            let anonymous: Call<Input> = try await call(client, "pull-task-input", Flwr_Proto_PullTaskInputRequest(), token: nil)
            #expect(anonymous.status == .unauthorized && anonymous.reason.contains(RuntimeRoutes.tokenHeader), "\(anonymous.reason)")
            let forged: Call<Input> = try await call(client, "pull-task-input", Flwr_Proto_PullTaskInputRequest(), token: String(repeating: "0", count: 64))
            #expect(forged.status == .unauthorized)

            let input: Call<Input> = try await call(client, "pull-task-input", Flwr_Proto_PullTaskInputRequest(), token: token)
            #expect(input.output?.run.runID == mine.rawValue)
            #expect(UserConfigProto.decode(input.output?.run.overrideConfig ?? [:])["app"] == .string("model-transfer"))

            // A message for another run is refused, and so is an object no message of the run refers to.
            var instruction = Message(content: ["config": .config(["k": 1])], destination: NodeID(7), type: .train)
            instruction.metadata.runID = other
            instruction.metadata.source = .superLink
            let encoded = try MessageCodec.encode(instruction)
            let elsewhere: Call<Flwr_Proto_PushAppMessagesResponse> = try await call(client, "push-messages", Flwr_Proto_PushAppMessagesRequest.with {
                $0.messagesList = [.with { $0.metadata = encoded.message.metadata.proto; $0.content = .init() }]
                $0.messageObjectTrees = [encoded.tree.proto]
            }, token: token)
            #expect(elsewhere.status == .forbidden, "\(elsewhere.reason)")
            let stray: Call<Flwr_Proto_PushObjectResponse> = try await call(client, "push-object", Flwr_Proto_PushObjectRequest.with {
                $0.runID = mine.rawValue
                $0.objectID = encoded.objects[0].id.rawValue
                $0.objectContent = Data(encoded.objects[0].bytes)
            }, token: token)
            #expect(stray.status == .forbidden, "\(stray.reason)")

            // The run's own instruction is stored, and its objects are asked for.
            instruction.metadata.runID = mine
            let own = try MessageCodec.encode(instruction)
            let pushed: Call<Flwr_Proto_PushAppMessagesResponse> = try await call(client, "push-messages", Flwr_Proto_PushAppMessagesRequest.with {
                $0.messagesList = [.with { $0.metadata = own.message.metadata.proto; $0.content = .init() }]
                $0.messageObjectTrees = [own.tree.proto]
            }, token: token)
            #expect(pushed.output?.messageIds == [own.root.rawValue])
            #expect(pushed.output?.objectsToPush == own.tree.postOrder.map(\.rawValue))

            // Listing an object in an instruction opens nothing: a ServerApp reads only the replies it was given.
            let claimed: Call<Flwr_Proto_PullObjectResponse> = try await call(client, "pull-object", Flwr_Proto_PullObjectRequest.with {
                $0.runID = mine.rawValue
                $0.objectID = own.objects[0].id.rawValue
            }, token: token)
            #expect(claimed.output?.objectFound == false)

            // Another run's token takes none of this run's replies, reads none of its objects, confirms nothing.
            let otherToken = await handlers.tokens.issue(for: other)
            let stolen: Call<Flwr_Proto_PullAppMessagesResponse> = try await call(client, "pull-messages", Flwr_Proto_PullAppMessagesRequest.with {
                $0.messageIds = [own.root.rawValue]
            }, token: otherToken)
            #expect(stolen.output?.messagesList.isEmpty == true)
            let peeked: Call<Flwr_Proto_PullObjectResponse> = try await call(client, "pull-object", Flwr_Proto_PullObjectRequest.with {
                $0.runID = mine.rawValue
                $0.objectID = own.root.rawValue
            }, token: otherToken)
            #expect(peeked.output?.objectFound == false)
            let confirmed: Call<Flwr_Proto_ConfirmMessageReceivedResponse> = try await call(client, "confirm-message-received", Flwr_Proto_ConfirmMessageReceivedRequest.with {
                $0.messageObjectID = own.root.rawValue
            }, token: otherToken)
            #expect(confirmed.status == .forbidden)
            // The instruction is still this run's to answer for: node 7 is unknown, so its own token learns so.
            let answered: Call<Flwr_Proto_PullAppMessagesResponse> = try await call(client, "pull-messages", Flwr_Proto_PullAppMessagesRequest.with {
                $0.messageIds = [own.root.rawValue]
            }, token: token)
            #expect(answered.output?.messagesList.map { $0.metadata.replyToMessageID } == [own.root.rawValue])

            // A ServerApp reports its run's end once; the run's token then opens nothing.
            let output: Call<Flwr_Proto_PushTaskOutputResponse> = try await call(client, "push-task-output", Flwr_Proto_PushTaskOutputRequest.with {
                $0.subStatus = "completed"
                $0.details = "done"
            }, token: token)
            #expect(output.status == .ok)
            #expect(try await fleet.state.run(mine)?.status == .finished("completed", details: "done"))
            await handlers.end(mine)
            let after: Call<Input> = try await call(client, "pull-task-input", Flwr_Proto_PullTaskInputRequest(), token: token)
            #expect(after.status == .unauthorized)
        }
    }
}

/// What a SuperLink-side grid does with an instruction nobody waits for any more.
@Suite struct ReplyTimeoutTests {
    @Test func anInstructionPastItsRoundsTimeoutIsNoLongerDelivered() async throws {
        let fleet = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        let now = Date().timeIntervalSince1970
        let node = try await fleet.state.registerNode(publicKey: Array("node".utf8), now: now)
        _ = try await fleet.state.activateNode(publicKey: Array("node".utf8), heartbeatInterval: 600, now: now)
        let run = try await fleet.state.createRun(config: [:], now: now)
        try await fleet.state.setRunStatus(run, to: .running)
        let grid = LinkGrid(runID: run, state: fleet.state, objects: fleet.objects, signals: fleet.signals)
        let replies = try await grid.sendAndReceive([Message(content: [:], destination: node, type: .train)], timeoutSeconds: 1)
        // A failure either way: the instruction expired with the round's timeout, or the round stopped waiting.
        #expect([.messageUnavailable, .replyMessageUnavailable].contains(replies.first?.error?.code))
        // The node comes for it after the round gave up on it: there is nothing to run.
        #expect(try await fleet.state.takeInstructions(for: node, limit: 5, now: Date().timeIntervalSince1970 + 0.5) == [])
    }
}
