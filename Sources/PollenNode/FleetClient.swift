public import AsyncHTTPClient
public import Crypto
public import Foundation
public import NIOCore
import NIOHTTP1
public import PollenWire
public import SwiftProtobuf

/// A failed Fleet call: the SuperLink's HTTP status and reason, or a transport failure (status 0).
public struct FleetClientError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status, or 0 when the SuperLink could not be reached.
    public var status: Int
    public var detail: String

    /// Whether trying again later may help: the SuperLink was unreachable, restarting or overloaded.
    public var isTransient: Bool { status == 0 || status == 502 || status == 503 || status == 504 }

    public var description: String { status == 0 ? detail : "HTTP \(status): \(detail)" }
}

/// The SuperNode's side of the Fleet API: signed protobuf calls over HTTP(S) to one SuperLink.
public struct FleetClient: Sendable {
    /// `http://host:port` or `https://host:port`.
    public let baseURL: String
    /// The node's identity key; every request is signed with it.
    public var key: P384.Signing.PrivateKey { signer.key }
    /// Signs the requests.
    let signer: NodeSigner
    let http: HTTPClient
    /// The largest response accepted: one 5 MiB object with room to spare.
    static let maximumResponseBytes = 16 * 1_024 * 1_024
    /// Seconds before a call is abandoned (Flower's request timeout).
    static let timeoutSeconds: Int64 = 30

    public init(baseURL: String, key: P384.Signing.PrivateKey, http: HTTPClient) {
        self.baseURL = baseURL
        signer = NodeSigner(key: key)
        self.http = http
    }

    /// The node's public key as Flower sends it: PEM SubjectPublicKeyInfo bytes.
    public var publicKey: Data { Data(key.publicKey.pemRepresentation.utf8) }

    /// Calls `POST /v1/fleet/<route>`.
    public func call<Output: SwiftProtobuf.Message>(_ route: String, _ input: some SwiftProtobuf.Message, as: Output.Type = Output.self) async throws -> Output {
        try await Self.post("\(baseURL)/v1/fleet/\(route)", input, headers: try signer.headers(), http: http)
    }

    /// Calls `POST /v1/fleet/<route>` with `input` carrying `object`, which is sent from its own buffer.
    public func call<Output: SwiftProtobuf.Message>(
        _ route: String, _ input: some ObjectCarrying, object: ByteBuffer, as: Output.Type = Output.self
    ) async throws -> Output {
        try await Self.post(
            "\(baseURL)/v1/fleet/\(route)", parts: ProtobufBody.parts(CarriedObject(input, object: object)), headers: try signer.headers(), http: http
        )
    }

    /// Calls `POST /v1/fleet/<route>`, asking the SuperLink to hold the request up to `waitSeconds` until there is
    /// something to answer (`LongPoll`); `held` says whether it did (a Flower SuperLink answers at once).
    func poll<Output: SwiftProtobuf.Message>(
        _ route: String, _ input: some SwiftProtobuf.Message, waitSeconds: Double, as: Output.Type = Output.self
    ) async throws -> (output: Output, held: Bool) {
        try await Self.longPoll(
            "\(baseURL)/v1/fleet/\(route)", input, waitSeconds: waitSeconds, headers: try signer.headers(), http: http,
            decode: { try ProtobufBody.decode($0) }
        )
    }

    /// `poll` for an answer carrying an object, which stays in the answer's buffer.
    func poll<Output: ObjectCarrying>(
        _ route: String, _ input: some SwiftProtobuf.Message, waitSeconds: Double, carrying: Output.Type
    ) async throws -> (output: CarriedObject<Output>, held: Bool) {
        try await Self.longPoll(
            "\(baseURL)/v1/fleet/\(route)", input, waitSeconds: waitSeconds, headers: try signer.headers(), http: http,
            decode: { try ProtobufBody.decodeCarried($0) }
        )
    }

    /// Posts `input` to `url` asking the server to hold it up to `waitSeconds` (`LongPoll`); `held` says whether the
    /// server agreed.
    public static func longPoll<Output>(
        _ url: String, _ input: some SwiftProtobuf.Message, waitSeconds: Double, headers: [(String, String)], http: HTTPClient,
        decode: (ByteBuffer) throws -> Output
    ) async throws -> (output: Output, held: Bool) {
        let (output, answer) = try await exchange(
            url, parts: [ProtobufBody.encode(input)], headers: headers + [(LongPoll.header, String(waitSeconds))], http: http, decode: decode
        )
        return (output, LongPoll.requestedSeconds(answer.first(name: LongPoll.header)) > 0)
    }

    /// Posts `input` as protobuf to `url` with `headers` added, and decodes the answer; a failure is a
    /// `FleetClientError` with the HTTP status (0 when the server cannot be reached) and the server's reason.
    public static func post<Output: SwiftProtobuf.Message>(
        _ url: String, _ input: some SwiftProtobuf.Message, headers: [(String, String)], http: HTTPClient, as: Output.Type = Output.self
    ) async throws -> Output {
        try await post(url, parts: [ProtobufBody.encode(input)], headers: headers, http: http)
    }

    /// `post` for an answer carrying an object, which stays in the answer's buffer.
    public static func post<Output: ObjectCarrying>(
        _ url: String, _ input: some SwiftProtobuf.Message, headers: [(String, String)], http: HTTPClient, carrying: Output.Type
    ) async throws -> CarriedObject<Output> {
        try await exchange(url, parts: [ProtobufBody.encode(input)], headers: headers, http: http) { try ProtobufBody.decodeCarried($0) }.output
    }

    /// `post` with the request's protobuf body already encoded, as buffers sent one after the other.
    public static func post<Output: SwiftProtobuf.Message>(
        _ url: String, parts: [ByteBuffer], headers: [(String, String)], http: HTTPClient, as: Output.Type = Output.self
    ) async throws -> Output {
        try await exchange(url, parts: parts, headers: headers, http: http) { try ProtobufBody.decode($0) }.output
    }

    /// `post`, with the answer's headers and the answer's body read by `decode`.
    private static func exchange<Output>(
        _ url: String, parts: [ByteBuffer], headers: [(String, String)], http: HTTPClient, decode: (ByteBuffer) throws -> Output
    ) async throws -> (output: Output, headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/protobuf")
        request.headers.add(name: "accept", value: "application/protobuf")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if parts.count == 1 {
            request.body = .bytes(parts[0])
        } else {
            request.body = .stream(BufferSequence(parts), length: .known(Int64(parts.reduce(0) { $0 + $1.readableBytes })))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(timeoutSeconds))
        } catch {
            throw FleetClientError(status: 0, detail: "cannot reach \(url): \(error)")
        }
        let body = try await ProtobufBody.collect(
            response.body, length: response.headers.first(name: "content-length").flatMap { Int($0) }, upTo: maximumResponseBytes
        )
        guard response.status == .ok else {
            throw FleetClientError(status: Int(response.status.code), detail: String(buffer: body))
        }
        do {
            return (try decode(body), response.headers)
        } catch {
            throw FleetClientError(status: Int(response.status.code), detail: "the response of \(url) is not valid protobuf")
        }
    }
}

/// Buffers sent one after the other as a request body, without joining them (an async sequence, which is what a
/// streamed body of async-http-client reads; each iteration starts from the first buffer, so a retried request
/// sends them all again).
struct BufferSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffers: [ByteBuffer]

    init(_ buffers: [ByteBuffer]) { self.buffers = buffers }

    func makeAsyncIterator() -> Iterator { Iterator(buffers: buffers) }

    struct Iterator: AsyncIteratorProtocol {
        let buffers: [ByteBuffer]
        var index = 0

        mutating func next() async -> ByteBuffer? {
            guard index < buffers.count else { return nil }
            defer { index += 1 }
            return buffers[index]
        }
    }
}
