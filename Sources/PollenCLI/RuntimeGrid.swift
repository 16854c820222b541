import AsyncHTTPClient
import Foundation
import NIOCore
import PollenCore
import PollenLink
import PollenNode
import PollenWire
import SwiftProtobuf

/// A ServerApp process's side of the SuperLink's app runtime API: protobuf calls carrying the run's token.
struct RuntimeClient: Sendable {
    /// `http://127.0.0.1:PORT`.
    let baseURL: String
    let token: String
    let http: HTTPClient

    func call<Output: SwiftProtobuf.Message>(_ route: String, _ input: some SwiftProtobuf.Message, as: Output.Type = Output.self) async throws -> Output {
        try await FleetClient.post("\(baseURL)/v1/runtime/\(route)", input, headers: [(RuntimeRoutes.tokenHeader, token)], http: http)
    }

    /// `call` with `input` carrying `object`, which is sent from its own buffer.
    func call<Output: SwiftProtobuf.Message>(_ route: String, _ input: some ObjectCarrying, object: ByteBuffer, as: Output.Type = Output.self) async throws -> Output {
        try await FleetClient.post(
            "\(baseURL)/v1/runtime/\(route)", parts: ProtobufBody.parts(CarriedObject(input, object: object)),
            headers: [(RuntimeRoutes.tokenHeader, token)], http: http
        )
    }

    /// `call` for an answer carrying an object, which stays in the answer's buffer.
    func call<Output: ObjectCarrying>(_ route: String, _ input: some SwiftProtobuf.Message, carrying: Output.Type) async throws -> CarriedObject<Output> {
        try await FleetClient.post("\(baseURL)/v1/runtime/\(route)", input, headers: [(RuntimeRoutes.tokenHeader, token)], http: http, carrying: Output.self)
    }

    /// `call`, the SuperLink holding the request up to `waitSeconds` until it has something to answer (`LongPoll`).
    func poll<Output: SwiftProtobuf.Message>(
        _ route: String, _ input: some SwiftProtobuf.Message, waitSeconds: Double, as: Output.Type = Output.self
    ) async throws -> (output: Output, held: Bool) {
        try await FleetClient.longPoll(
            "\(baseURL)/v1/runtime/\(route)", input, waitSeconds: waitSeconds, headers: [(RuntimeRoutes.tokenHeader, token)], http: http,
            decode: { try ProtobufBody.decode($0) }
        )
    }
}

/// The `Grid` of a ServerApp in a process of its own: messages and their objects go to the SuperLink through the
/// app runtime API, and replies come back the same way, once all of their objects have arrived there.
struct RuntimeGrid: Grid {
    let runID: RunID
    let client: RuntimeClient
    /// Seconds between looks for replies when the SuperLink does not hold a pull until they come.
    var pollSeconds = 0.05
    /// Objects sent or fetched at once.
    static let objectsInFlight = 4
    /// Replies read at once.
    static let repliesInFlight = 2

    func nodeIDs() async throws -> [NodeID] {
        try await client.call("get-nodes", Flwr_Proto_GetNodesRequest(), as: Flwr_Proto_GetNodesResponse.self).nodes.map { NodeID($0.nodeID) }
    }

    func sendAndReceive(_ messages: [PollenCore.Message], timeoutSeconds: Double) async throws -> [PollenCore.Message] {
        var replies = [PollenCore.Message]()
        try await exchange(messages, timeoutSeconds: timeoutSeconds) { replies.append($0) }
        return replies
    }

    /// Folds each reply into the aggregation as soon as it and the replies before it have come: the first reply is
    /// added while the next ones are still on their way, and a round holds no more replies at once than their
    /// order makes it.
    func sendAndAggregate<Aggregation: ReplyAggregation>(
        _ messages: [PollenCore.Message], into aggregation: Aggregation, timeoutSeconds: Double
    ) async throws -> Aggregation {
        var result = aggregation
        try await exchange(messages, timeoutSeconds: timeoutSeconds) { (reply: consuming PollenCore.Message) in
            result.add(consume reply)
        }
        return result
    }

    /// Sends `messages` and hands their replies to `deliver` in their order (`ReplyCollector`).
    private func exchange(_ messages: [PollenCore.Message], timeoutSeconds: Double, deliver: (consuming PollenCore.Message) throws -> Void) async throws {
        let instructions = try await push(ReplyCollector.instructions(messages, run: runID, timeoutSeconds: timeoutSeconds))
        try await ReplyCollector.collect(instructions, run: runID, timeoutSeconds: timeoutSeconds, take: { pending, wait in
            let (pulled, held) = try await client.poll("pull-messages", Flwr_Proto_PullAppMessagesRequest.with {
                $0.messageIds = pending.map(\.rawValue)
            }, waitSeconds: wait, as: Flwr_Proto_PullAppMessagesResponse.self)
            if pulled.messagesList.isEmpty, !held { try await Task.sleep(for: .seconds(pollSeconds)) }
            let trees = Dictionary(pulled.messageObjectTrees.compactMap { try? ObjectTree(proto: $0) }.map { ($0.id.rawValue, $0) }) { first, _ in first }
            let replies = pulled.messagesList.compactMap { proto -> (MessageID, Flwr_Proto_Message)? in
                PollenCore.Message.Metadata(proto: proto.metadata).replyTo.map { ($0, proto) }
            }
            // Replies that came together are read two at a time (each fetching `objectsInFlight` objects at once).
            return try await concurrentMap(replies, atMost: Self.repliesInFlight) { instruction, proto in
                let metadata = PollenCore.Message.Metadata(proto: proto.metadata)
                let error = proto.hasError ? MessageError(proto: proto.error) : nil
                return (instruction, await read(metadata, error: error, tree: trees[metadata.messageID.rawValue]))
            }
        }, deliver: deliver)
    }

    /// Pushes `messages` and the objects the SuperLink lacks, and returns their ids; the objects are let go on
    /// return, not held while the replies are awaited.
    private func push(_ messages: [PollenCore.Message]) async throws -> [MessageID] {
        // Nodes wait for this encoding, and the SuperLink and nodes are idle meanwhile: use every core.
        let encoded = try MessageCodec.encode(messages, onEveryCore: true)
        let pushed = try await client.call("push-messages", Flwr_Proto_PushAppMessagesRequest.with {
            $0.messagesList = encoded.map { message in .with { $0.metadata = message.message.metadata.proto; $0.content = .init() } }
            $0.messageObjectTrees = encoded.map(\.tree.proto)
        }, as: Flwr_Proto_PushAppMessagesResponse.self)
        var byID = [String: FlowerObject]()
        for message in encoded { for object in message.objects { byID[object.id.rawValue] = object } }
        _ = try await concurrentMap(pushed.objectsToPush.compactMap { byID[$0] }, atMost: Self.objectsInFlight) { object in
            try await client.call("push-object", Flwr_Proto_PushObjectRequest.with {
                $0.runID = runID.rawValue
                $0.objectID = object.id.rawValue
            }, object: object.buffer, as: Flwr_Proto_PushObjectResponse.self)
        }
        return encoded.map(\.message.metadata.messageID)
    }

    /// The full reply, or a failure reply saying why it could not be read: one node's bad reply never fails a round.
    private func read(_ metadata: PollenCore.Message.Metadata, error: MessageError?, tree: ObjectTree?) async -> PollenCore.Message {
        if let error { return PollenCore.Message(metadata: metadata, body: .error(error)) }
        do {
            guard let tree else { throw RuntimeGridError("the reply has no object tree") }
            let decoded: Result<PollenCore.Message, any Error>
            do { decoded = .success(try await fetch(tree, answering: metadata)) } catch { decoded = .failure(error) }
            // Read or not, the reply is done with: the SuperLink may free its objects.
            _ = try await client.call("confirm-message-received", Flwr_Proto_ConfirmMessageReceivedRequest.with {
                $0.runID = runID.rawValue
                $0.messageObjectID = tree.id.rawValue
            }, as: Flwr_Proto_ConfirmMessageReceivedResponse.self)
            return try decoded.get()
        } catch {
            return PollenCore.Message(metadata: metadata, body: .error(MessageError(
                code: .clientAppRaisedException, reason: "the node's reply could not be read: \(error)"
            )))
        }
    }

    /// The reply whose objects are `tree`, checked against the `metadata` the SuperLink vouches for.
    private func fetch(_ tree: ObjectTree, answering metadata: PollenCore.Message.Metadata) async throws -> PollenCore.Message {
        let objects = try await concurrentMap(tree.postOrder, atMost: Self.objectsInFlight) { id in
            let pulled = try await client.call("pull-object", Flwr_Proto_PullObjectRequest.with {
                $0.runID = runID.rawValue
                $0.objectID = id.rawValue
            }, carrying: Flwr_Proto_PullObjectResponse.self)
            guard pulled.message.objectAvailable, let object = pulled.object else { throw RuntimeGridError("object \(id) of the reply is not at the SuperLink") }
            // The SuperLink hashed every object when a node pushed it, and refused those that did not match; this
            // process is its child, on loopback, holding its token: the bytes are not hashed a second time here.
            return try FlowerObject(stored: object, id: id)
        }
        let fetched = Dictionary(objects.map { ($0.id, $0) }) { first, _ in first }
        let decoded = try MessageCodec.decode(root: tree.id) { fetched[$0] }
        // The metadata the SuperLink checked (sender, run, instruction) is the truth; the objects must agree.
        guard decoded.metadata.source == metadata.source, decoded.metadata.runID == metadata.runID,
              decoded.metadata.replyTo == metadata.replyTo
        else {
            throw RuntimeGridError("its objects name another sender, run or instruction than its metadata")
        }
        return decoded
    }
}

/// Why a reply could not be read through the runtime API.
struct RuntimeGridError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
