import Foundation
import NIOCore
import PollenWire
import SwiftProtobuf
import Testing

@Suite struct ProtobufBodyTests {
    /// A push of a 5 MiB chunk with every other field set, the session id after the object in field order.
    static let push = Flwr_Proto_PushObjectRequest.with {
        $0.node = .with { $0.nodeID = 42 }
        $0.runID = 7
        $0.objectID = String(repeating: "ab", count: 32)
        $0.objectContent = Data((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        $0.sessionID = "session"
    }

    /// `push` without its object.
    static var others: Flwr_Proto_PushObjectRequest {
        var others = push
        others.objectContent = Data()
        return others
    }

    @Test func writesWhatSwiftProtobufReadsBack() throws {
        // The message's other fields, then the object from its own buffer: swift-protobuf reads the same message.
        let object = ByteBuffer(bytes: Self.push.objectContent)
        let parts = try ProtobufBody.parts(CarriedObject(Self.others, object: object))
        #expect(parts.count == 2 && parts[1] == object)
        var joined = ByteBuffer()
        for part in parts { joined.writeImmutableBuffer(part) }
        #expect(try Flwr_Proto_PushObjectRequest(serializedBytes: Array(buffer: joined)) == Self.push)
        // Without an object, the message alone.
        #expect(try ProtobufBody.parts(CarriedObject(Self.others, object: nil)) == [ProtobufBody.encode(Self.others)])
    }

    @Test func readsWhatSwiftProtobufWrites() throws {
        // swift-protobuf writes fields in number order: the session id follows the object.
        let carried = try ProtobufBody.decodeCarried(ProtobufBody.encode(Self.push), as: Flwr_Proto_PushObjectRequest.self)
        #expect(carried.message == Self.others)
        #expect(carried.object.map { Data($0.readableBytesView) } == Self.push.objectContent)
        // A pull's answer, whose object is its last field, and one without an object.
        let pulled = Flwr_Proto_PullObjectResponse.with { $0.objectFound = true; $0.objectAvailable = true; $0.objectContent = Data([1, 2, 3]) }
        let answer = try ProtobufBody.decodeCarried(ProtobufBody.encode(pulled), as: Flwr_Proto_PullObjectResponse.self)
        #expect(answer.message.objectAvailable && answer.message.objectContent.isEmpty && answer.object == ByteBuffer(bytes: [1, 2, 3]))
        let pending = try ProtobufBody.decodeCarried(ProtobufBody.encode(Flwr_Proto_PullObjectResponse.with { $0.objectFound = true }), as: Flwr_Proto_PullObjectResponse.self)
        #expect(pending.object == nil && pending.message.objectFound)
    }

    @Test func theObjectIsASliceOfTheBody() throws {
        let body = try ProtobufBody.encode(Self.push)
        let object = try #require(try ProtobufBody.decodeCarried(body, as: Flwr_Proto_PushObjectRequest.self).object)
        #expect(object.storageCapacity == body.storageCapacity)
    }

    @Test func aLaterObjectFieldWins() throws {
        // Two serialisations back to back are one message, the later object replacing the earlier (protobuf's merge).
        let first = Flwr_Proto_PushObjectRequest.with { $0.objectID = "a"; $0.objectContent = Data([1, 2, 3]) }
        let second = Flwr_Proto_PushObjectRequest.with { $0.runID = 9; $0.objectContent = Data([4, 5]) }
        let joined: [UInt8] = try first.serializedBytes() + second.serializedBytes()
        let decoded = try ProtobufBody.decodeCarried(ByteBuffer(bytes: joined), as: Flwr_Proto_PushObjectRequest.self)
        #expect(decoded.object == ByteBuffer(bytes: [4, 5]) && decoded.message.objectID == "a" && decoded.message.runID == 9)
    }

    @Test func theObjectOutlivesAndIgnoresItsBody() throws {
        var body = try ProtobufBody.encode(Self.push)
        let object = try #require(try ProtobufBody.decodeCarried(body, as: Flwr_Proto_PushObjectRequest.self).object)
        // Writing over the body copies its memory first: the object shares it and must not change.
        body.setBytes([UInt8](repeating: 0xFF, count: body.readableBytes), at: body.readerIndex)
        body = ByteBuffer()
        #expect(Data(object.readableBytesView) == Self.push.objectContent)
    }

    @Test func refusesBodiesThatEndInsideAField() throws {
        let body = try ProtobufBody.encode(Self.push)
        for cut in [1, 60, body.readableBytes / 2, body.readableBytes - 1] {
            let truncated = body.getSlice(at: body.readerIndex, length: cut)!
            #expect(throws: (any Error).self, "cut at \(cut)") { try ProtobufBody.decodeCarried(truncated, as: Flwr_Proto_PushObjectRequest.self) }
        }
        // A length past the end, and a wire type (3, a group) that protobuf 3 never uses.
        #expect(throws: WireError.self) { try ProtobufBody.decodeCarried(ByteBuffer(bytes: [0x22, 0x80, 0x01, 0x00]), as: Flwr_Proto_PushObjectRequest.self) }
        #expect(throws: WireError.self) { try ProtobufBody.decodeCarried(ByteBuffer(bytes: [0x0B, 0x0C]), as: Flwr_Proto_PushObjectRequest.self) }
    }

    @Test func collectsFragmentsIntoOneBuffer() async throws {
        let whole = ByteBuffer(bytes: (0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
        func fragments(of buffer: ByteBuffer, size: Int) -> AsyncStream<ByteBuffer> {
            AsyncStream { continuation in
                var rest = buffer
                while let fragment = rest.readSlice(length: min(size, rest.readableBytes)), fragment.readableBytes > 0 {
                    continuation.yield(fragment)
                }
                continuation.finish()
            }
        }
        for length in [whole.readableBytes, nil] {
            let collected = try await ProtobufBody.collect(fragments(of: whole, size: 65_536), length: length, upTo: 1 << 20)
            #expect(collected == whole)
        }
        // A body in one fragment is that fragment.
        #expect(try await ProtobufBody.collect(fragments(of: whole, size: 1 << 20), length: whole.readableBytes, upTo: 1 << 20) == whole)
        // Past the limit, however the fragments fall and whatever length the sender announced.
        await #expect(throws: NIOTooManyBytesError.self) {
            _ = try await ProtobufBody.collect(fragments(of: whole, size: 65_536), length: 1_000, upTo: 100_000)
        }
        await #expect(throws: NIOTooManyBytesError.self) {
            _ = try await ProtobufBody.collect(fragments(of: whole, size: 1 << 20), length: nil, upTo: 100_000)
        }
    }
}
