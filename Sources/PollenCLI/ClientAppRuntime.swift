import Foundation
import HTTPTypes
import Logging
import Hummingbird
import NIOCore
import PollenCore
import PollenLink
import PollenWire
import SwiftProtobuf
import Synchronization

/// The app runtime API a SuperNode serves its Flower ClientApp processes on a loopback port (Flower 1.42's
/// `/v1/runtime/*` on its SuperNode): each `flwr-clientapp` process, holding the token of its message's task, pulls
/// the message, its context and the app bundle, and pushes the reply and the updated context. Nothing else reaches
/// it: a token opens one task, and only while the task runs.
final class ClientAppRuntime: Sendable {
    private let tasks = Mutex<[String: FlowerClientAppTask]>([:])
    let port = RuntimePort()

    /// Opens `task` to the process holding `token` until `close(token)`.
    func open(_ task: FlowerClientAppTask, token: String) { tasks.withLock { $0[token] = task } }
    func close(_ token: String) { _ = tasks.withLock { $0.removeValue(forKey: token) } }

    /// The HTTP application, on a free loopback port (`port` gives it once it listens).
    func application(logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        func route<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
            _ name: String, _ handle: @escaping @Sendable (FlowerClientAppTask, Input) async throws -> Output
        ) {
            router.post("/v1/runtime/\(name)") { [self] request, _ -> Response in
                guard let token = request.headers[HTTPField.Name("flwr-task-token")!], let task = self.tasks.withLock({ $0[token] }) else {
                    return Self.failure(.unauthorized, "the request lacks the flwr-task-token of a running ClientApp task")
                }
                var request = request
                let input: Input
                do {
                    let body = try await request.collectBody(upTo: Self.maximumBodyBytes)
                    input = try Input(serializedBytes: Array(buffer: body))
                } catch {
                    return Self.failure(.badRequest, "the body of \(name) is not a \(Input.protoMessageName) of at most \(Self.maximumBodyBytes) bytes: \(error)")
                }
                do {
                    let bytes: [UInt8] = try await handle(task, input).serializedBytes()
                    return Response(status: .ok, headers: [.contentType: "application/protobuf"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
                } catch let error as FlowerClientAppTask.Refusal {
                    return Self.failure(.badRequest, error.description)
                } catch {
                    return Self.failure(.internalServerError, "the SuperNode failed to handle \(name): \(error)")
                }
            }
        }
        typealias Task = FlowerClientAppTask
        route("pull-task-input") { (task: Task, _: Flwr_Proto_PullTaskInputRequest) in task.input }
        route("send-task-heartbeat") { (_: Task, _: Flwr_Proto_SendTaskHeartbeatRequest) in Flwr_Proto_SendTaskHeartbeatResponse.with { $0.success = true } }
        route("pull-messages") { (task: Task, _: Flwr_Proto_PullAppMessagesRequest) in task.instructionMessage }
        route("pull-object") { (task: Task, request: Flwr_Proto_PullObjectRequest) in task.pullObject(ObjectID(request.objectID)) }
        route("confirm-message-received") { (_: Task, _: Flwr_Proto_ConfirmMessageReceivedRequest) in Flwr_Proto_ConfirmMessageReceivedResponse() }
        route("push-messages") { (task: Task, request: Flwr_Proto_PushAppMessagesRequest) in try await task.pushReply(request) }
        route("push-object") { (task: Task, request: Flwr_Proto_PushObjectRequest) in try await task.pushObject(request) }
        route("push-task-output") { (task: Task, request: Flwr_Proto_PushTaskOutputRequest) -> Flwr_Proto_PushTaskOutputResponse in
            await task.finish(request)
            return Flwr_Proto_PushTaskOutputResponse()
        }
        route("push-logs") { (_: Task, _: Flwr_Proto_PushLogsRequest) in Flwr_Proto_PushLogsResponse() }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "pollen-supernode-runtime"),
            onServerRunning: { [port] channel in await port.set(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// The largest body a ClientApp process may send: an object of 5 MiB and its envelope, with room to spare.
    static let maximumBodyBytes = 16 << 20

    private static func failure(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        let json = FleetError(status: Int(status.code), code: 0, detail: detail).json
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
}

/// One message's exchange with a Flower ClientApp process: what it pulls (the message's objects, its context, the
/// run and the bundle) and what it pushes (the reply's objects, checked against their ids, and the context).
actor FlowerClientAppTask {
    /// Why a push is refused.
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    nonisolated let input: Flwr_Proto_PullTaskInputResponse
    nonisolated let instructionMessage: Flwr_Proto_PullAppMessagesResponse
    private nonisolated let instructionObjects: [ObjectID: FlowerObject]
    private var replyTree: ObjectTree?
    private var replyObjects: [ObjectID: FlowerObject] = [:]
    private(set) var output: Flwr_Proto_PushTaskOutputRequest?

    init(input: Flwr_Proto_PullTaskInputResponse, instruction: EncodedMessage) {
        self.input = input
        instructionMessage = .with {
            $0.messagesList = [.with { message in
                message.metadata = instruction.message.metadata.proto
                message.content = Flwr_Proto_RecordDict()
            }]
            $0.messageObjectTrees = [instruction.tree.proto]
        }
        instructionObjects = Dictionary(instruction.objects.map { ($0.id, $0) }) { first, _ in first }
    }

    nonisolated func pullObject(_ id: ObjectID) -> Flwr_Proto_PullObjectResponse {
        guard let object = instructionObjects[id] else { return .init() }
        return .with {
            $0.objectFound = true
            $0.objectAvailable = true
            $0.objectContent = Data(object.bytes)
        }
    }

    /// Takes the reply's metadata and object tree (one reply); answers with every object of the tree.
    func pushReply(_ request: Flwr_Proto_PushAppMessagesRequest) throws -> Flwr_Proto_PushAppMessagesResponse {
        guard replyTree == nil, request.messagesList.count == 1, request.messageObjectTrees.count == 1 else {
            throw Refusal(description: "a ClientApp pushes one reply, once")
        }
        let tree: ObjectTree
        do { tree = try ObjectTree(proto: request.messageObjectTrees[0]) } catch { throw Refusal(description: "\(error)") }
        replyTree = tree
        return .with {
            $0.messageIds = [tree.id.rawValue]
            $0.objectsToPush = Array(Set(tree.postOrder.map(\.rawValue)))
        }
    }

    /// Takes one object of the reply, whose bytes must hash to its id.
    func pushObject(_ request: Flwr_Proto_PushObjectRequest) throws -> Flwr_Proto_PushObjectResponse {
        let id = ObjectID(request.objectID)
        guard let tree = replyTree, tree.postOrder.contains(id) else { throw Refusal(description: "object \(id) is not an object of the reply") }
        do { replyObjects[id] = try FlowerObject(validating: ByteBuffer(bytes: request.objectContent), expectedID: id) } catch {
            throw Refusal(description: "\(error)")
        }
        return .with { $0.stored = true }
    }

    func finish(_ request: Flwr_Proto_PushTaskOutputRequest) { output = request }

    /// The reply the process pushed, decoded; `nil` when it pushed none, or not all of its objects.
    func reply() throws -> PollenCore.Message? {
        guard let tree = replyTree, tree.postOrder.allSatisfy({ replyObjects[$0] != nil }) else { return nil }
        return try MessageCodec.decode(root: tree.id) { replyObjects[$0] }
    }
}
