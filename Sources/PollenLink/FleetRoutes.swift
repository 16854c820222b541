public import Hummingbird
import Foundation
import HTTPTypes
import Logging
import PollenCore
import PollenStore
import PollenWire
import SwiftProtobuf

/// The Fleet API's HTTP edge: `POST /v1/fleet/<rpc>` with a protobuf body, the node's signature headers checked,
/// and every failure answered with an HTTP status and a JSON reason (Flower 1.42's transport).
///
/// Transport concerns live here only: the handlers never see HTTP.
public enum FleetRoutes {
    /// The largest request body accepted: one 5 MiB object chunk with room to spare.
    public static let defaultMaximumBodyBytes = 16 * 1_024 * 1_024

    /// Adds the Fleet routes to `router`.
    public static func add(to router: Router<BasicRequestContext>, handlers: FleetHandlers, maximumBodyBytes: Int = defaultMaximumBodyBytes) {
        func serve<Input: Sendable, Output: Sendable>(
            _ name: String, _ handler: @escaping @Sendable (FleetHandlers) -> (Input, [UInt8]) async throws -> Output,
            waitingFor longPoll: LongPollRule<Input, [UInt8], Output>? = nil,
            decode: @escaping @Sendable (ByteBuffer) throws -> Input, encode: @escaping @Sendable (Output) throws -> ResponseBody
        ) {
            router.post("/v1/fleet/\(name)") { request, _ -> Response in
                try await respond(
                    request, route: name, maximumBodyBytes: maximumBodyBytes, authenticate: signer,
                    longPoll: longPoll.map { ($0, handlers.signals) }, decode: decode, encode: encode
                ) { (input: Input, caller) in
                    try await handler(handlers)(input, caller)
                }
            }
        }
        func route<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
            _ name: String, _ handler: @escaping @Sendable (FleetHandlers) -> (Input, [UInt8]) async throws -> Output,
            waitingFor longPoll: LongPollRule<Input, [UInt8], Output>? = nil
        ) {
            serve(name, handler, waitingFor: longPoll, decode: decodeProtobuf, encode: encodeProtobuf)
        }
        route("register-node", FleetHandlers.registerNode)
        route("activate-node", FleetHandlers.activateNode)
        route("deactivate-node", FleetHandlers.deactivateNode)
        route("unregister-node", FleetHandlers.unregisterNode)
        route("send-node-heartbeat", FleetHandlers.sendHeartbeat)
        // A node may wait for its next instruction, and for an object its ServerApp is still uploading.
        route("pull-messages", FleetHandlers.pullMessages, waitingFor: LongPollRule(
            key: { input, _ in .node(NodeID(input.node.nodeID)) }, isEmpty: { $0.messagesList.isEmpty }
        ))
        route("push-messages", FleetHandlers.pushMessages)
        route("get-run", FleetHandlers.getRun)
        // Objects travel in buffers of their own, not copied into and out of protobuf messages.
        serve("push-object", FleetHandlers.pushObject, decode: { try ProtobufBody.decodeCarried($0) }, encode: encodeProtobuf)
        serve("pull-object", FleetHandlers.pullObject, waitingFor: LongPollRule(
            key: { input, _ in .run(RunID(input.runID)) }, isEmpty: { $0.response.objectFound && !$0.response.objectAvailable }
        ), decode: decodeProtobuf) { try $0.body() }
        route("confirm-message-received", FleetHandlers.confirmMessageReceived)
        route("get-fab", FleetHandlers.getFab)
    }

    /// The request message `body` holds.
    static func decodeProtobuf<Input: SwiftProtobuf.Message>(_ body: ByteBuffer) throws -> Input {
        try ProtobufBody.decode(body)
    }

    /// The HTTP body holding `output`.
    static func encodeProtobuf(_ output: some SwiftProtobuf.Message) throws -> ResponseBody {
        ResponseBody(byteBuffer: try ProtobufBody.encode(output))
    }

    /// The signatures found valid, shared by every SuperLink of the process: a signature's validity depends on
    /// nothing else.
    private static let verifiedSignatures = VerifiedSignatures()

    /// The canonical bytes of the public key that signed `request` (`NodePublicKey.canonical`), or why it is not
    /// signed well.
    private static func signer(of request: Request) async throws -> [UInt8] {
        guard let signature = NodeSignature(
            publicKey: request.headers[HTTPField.Name(NodeSignature.publicKeyHeader)!],
            timestamp: request.headers[HTTPField.Name(NodeSignature.timestampHeader)!],
            signature: request.headers[HTTPField.Name(NodeSignature.signatureHeader)!]
        ) else {
            throw FleetError.unauthenticated("the request lacks the flwr-public-key, flwr-timestamp and flwr-signature headers")
        }
        do { return try verifiedSignatures.signer(of: signature) } catch {
            throw FleetError.unauthenticated("\(error)")
        }
    }

    /// `decode`s a protobuf request, learns its caller with `authenticate`, handles it and `encode`s the answer; every
    /// failure is an HTTP status with a JSON reason. With a `longPoll` rule, a request carrying `LongPoll.header`
    /// is handled again each time its key is signalled, until its answer is not empty or its wait is over.
    static func respond<Input: Sendable, Output: Sendable, Caller>(
        _ request: Request, route: String, maximumBodyBytes: Int,
        authenticate: (Request) async throws -> Caller,
        longPoll: (rule: LongPollRule<Input, Caller, Output>, signals: LinkSignals)? = nil,
        decode: (ByteBuffer) throws -> Input,
        encode: (Output) throws -> ResponseBody,
        handler: (Input, Caller) async throws -> Output
    ) async throws -> Response {
        let contentType = request.headers[.contentType]
        guard contentType?.hasPrefix("application/protobuf") == true else {
            return FleetError.unsupportedMediaType(contentType).response
        }
        let body: ByteBuffer
        do {
            body = try await ProtobufBody.collect(request.body, length: request.headers[.contentLength].flatMap { Int($0) }, upTo: maximumBodyBytes)
        } catch {
            return FleetError.tooLarge(maximumBodyBytes).response
        }
        let input: Input
        do {
            input = try decode(body)
        } catch {
            return FleetError.invalidProtobuf(route, error).response
        }
        do {
            let caller = try await authenticate(request)
            let wait = longPoll == nil ? 0 : min(LongPoll.requestedSeconds(request.headers[longPollHeader]), LinkSignals.maximumWaitSeconds)
            let output: Output
            if let longPoll, wait > 0 {
                output = try await longPoll.signals.longPoll(longPoll.rule.key(input, caller), seconds: wait, isEmpty: longPoll.rule.isEmpty) {
                    try await handler(input, caller)
                }
            } else {
                output = try await handler(input, caller)
            }
            var headers: HTTPFields = [.contentType: "application/protobuf"]
            if wait > 0 { headers[longPollHeader] = String(wait) }
            return Response(status: .ok, headers: headers, body: try encode(output))
        } catch let error as FleetError {
            return error.response
        }
    }
}

/// The header of Pollen's long polling.
private let longPollHeader = HTTPField.Name(LongPoll.header)!

/// Which requests of a route may wait for something to arrive (`LongPoll`): the signal they wait for, and which
/// answers mean "nothing yet".
struct LongPollRule<Input, Caller, Output>: Sendable {
    let key: @Sendable (Input, Caller) -> LinkSignals.Key
    let isEmpty: @Sendable (Output) -> Bool
}

/// Turns every error that escapes a route (an unknown route, a store failure) into a JSON reason, so a peer
/// always learns why, and the server keeps serving.
public struct FleetErrorMiddleware: RouterMiddleware {
    public typealias Context = BasicRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as FleetError {
            return error.response
        } catch let error as HTTPError where error.status == .notFound {
            return FleetError.notFound("no route \(request.method) \(request.uri.path); Fleet routes are POST /v1/fleet/<rpc>").response
        } catch let error as HTTPError {
            return FleetError(status: Int(error.status.code), code: 0, detail: error.body ?? "\(error.status)").response
        } catch let error as StoreError where error.code == .corrupt {
            // Asking again gets the same damaged bytes: 500, which a client does not retry.
            context.logger.error("damaged data in the database", metadata: ["pollen.route": "\(request.uri.path)", "error": "\(error)"])
            return FleetError(status: 500, code: 0, detail: error.message).response
        } catch {
            context.logger.error("request failed", metadata: ["pollen.route": "\(request.uri.path)", "error": "\(error)"])
            // 503: a Flower client retries it, where it gives up on a 500.
            return FleetError(status: 503, code: 0, detail: "the SuperLink failed to handle the request: \(error)").response
        }
    }
}

extension FleetError {
    /// The HTTP response carrying this error.
    var response: Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json))
        )
    }
}
