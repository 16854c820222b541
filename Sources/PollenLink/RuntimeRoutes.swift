public import Hummingbird
import HTTPTypes
import PollenCore
import PollenWire
import SwiftProtobuf

/// The app runtime API's HTTP edge: `POST /v1/runtime/<rpc>` with a protobuf body and the run's token in the
/// `flwr-task-token` header (Flower 1.42's names). The SuperLink serves it on a loopback port of its own, for the
/// ServerApp processes it starts.
public enum RuntimeRoutes {
    /// The header carrying a ServerApp process's token.
    public static let tokenHeader = "flwr-task-token"

    /// Adds the runtime routes to `router`.
    public static func add(
        to router: Router<BasicRequestContext>, handlers: RuntimeHandlers, maximumBodyBytes: Int = FleetRoutes.defaultMaximumBodyBytes
    ) {
        func serve<Input: Sendable, Output: Sendable>(
            _ name: String, _ handler: @escaping @Sendable (RuntimeHandlers) -> (Input, RunID) async throws -> Output,
            waitingFor longPoll: LongPollRule<Input, RunID, Output>? = nil,
            decode: @escaping @Sendable (ByteBuffer) throws -> Input, encode: @escaping @Sendable (Output) throws -> ResponseBody
        ) {
            router.post("/v1/runtime/\(name)") { request, _ -> Response in
                try await FleetRoutes.respond(request, route: name, maximumBodyBytes: maximumBodyBytes, authenticate: { request in
                    guard let token = request.headers[HTTPField.Name(tokenHeader)!], let run = await handlers.tokens.run(for: token) else {
                        throw FleetError.unauthenticated("the request lacks a valid \(tokenHeader) header: only the ServerApp process of a running run may call the runtime API")
                    }
                    return run
                }, longPoll: longPoll.map { ($0, handlers.signals) }, decode: decode, encode: encode) { (input: Input, run: RunID) in
                    try await handler(handlers)(input, run)
                }
            }
        }
        func route<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
            _ name: String, _ handler: @escaping @Sendable (RuntimeHandlers) -> (Input, RunID) async throws -> Output,
            waitingFor longPoll: LongPollRule<Input, RunID, Output>? = nil
        ) {
            serve(name, handler, waitingFor: longPoll, decode: FleetRoutes.decodeProtobuf, encode: FleetRoutes.encodeProtobuf)
        }
        route("pull-task-input", RuntimeHandlers.pullTaskInput)
        route("send-task-heartbeat", RuntimeHandlers.sendTaskHeartbeat)
        route("get-nodes", RuntimeHandlers.getNodes)
        route("push-messages", RuntimeHandlers.pushMessages)
        serve("push-object", RuntimeHandlers.pushObject, decode: { try ProtobufBody.decodeCarried($0) }, encode: FleetRoutes.encodeProtobuf)
        // A ServerApp may wait for replies.
        route("pull-messages", RuntimeHandlers.pullMessages, waitingFor: LongPollRule(
            key: { _, run in .run(run) }, isEmpty: { $0.messagesList.isEmpty }
        ))
        serve("pull-object", RuntimeHandlers.pullObject, decode: FleetRoutes.decodeProtobuf) { try $0.body() }
        route("confirm-message-received", RuntimeHandlers.confirmMessageReceived)
        route("push-logs", RuntimeHandlers.pushLogs)
        route("push-task-output", RuntimeHandlers.pushTaskOutput)
    }
}
