public import Foundation
public import NIOCore
public import SwiftProtobuf

/// A Fleet or runtime API message whose `bytes` field carries one content-addressed object (an array chunk of up to
/// 5 MiB and its head): `ProtobufBody.parts` and `decodeCarried` write and read that field themselves.
public protocol ObjectCarrying: SwiftProtobuf.Message {
    /// The number of the `bytes` field holding the object.
    static var objectContentField: Int { get }
    /// The object's bytes.
    var objectContent: Data { get set }
}

extension Flwr_Proto_PushObjectRequest: ObjectCarrying {
    public static var objectContentField: Int { 4 }
}

extension Flwr_Proto_PullObjectResponse: ObjectCarrying {
    public static var objectContentField: Int { 3 }
}

/// A Fleet or runtime API message and the object it carries, kept apart: the object stays in the buffer it arrived
/// in, or goes out in its own, so `ProtobufBody` moves it without copying it.
public struct CarriedObject<Message: ObjectCarrying>: Sendable {
    /// The message, its object field empty.
    public var message: Message
    /// The object's bytes; nil when the message carries none.
    public var object: ByteBuffer?

    public init(_ message: Message, object: ByteBuffer?) {
        self.message = message
        self.object = object
    }
}

/// Protobuf HTTP bodies of the Fleet and runtime APIs, in and out of NIO buffers.
///
/// swift-protobuf serialises into an array that is then copied into the HTTP body, and parses a copy of the body
/// into a message whose `bytes` field is another copy. That is fine for small messages (`encode`, `decode`); a
/// message carrying an object (`ObjectCarrying`) instead keeps the object apart (`CarriedObject`): it goes out from
/// its own buffer after the message's other fields (`parts`), and comes in as a slice of the body (`decodeCarried`).
public enum ProtobufBody {
    /// The HTTP body holding `message`, through swift-protobuf.
    public static func encode(_ message: some SwiftProtobuf.Message) throws -> ByteBuffer {
        let bytes: [UInt8] = try message.serializedBytes()
        return ByteBuffer(bytes: bytes)
    }

    /// The message `body` holds, through swift-protobuf.
    public static func decode<Message: SwiftProtobuf.Message>(_ body: ByteBuffer, as: Message.Type = Message.self) throws -> Message {
        try Message(serializedBytes: Array(buffer: body))
    }

    /// Collects an HTTP body into one buffer, reserving its announced `length` (its `Content-Length`) once rather
    /// than growing the buffer, and copying it, each time it doubles.
    ///
    /// - Throws: `NIOTooManyBytesError` past `maximum` bytes.
    public static func collect<Body: AsyncSequence>(
        _ body: Body, length: Int?, upTo maximum: Int
    ) async throws -> ByteBuffer where Body.Element == ByteBuffer {
        var fragments = body.makeAsyncIterator()
        guard let first = try await fragments.next() else { return ByteBuffer() }
        guard first.readableBytes <= maximum else { throw NIOTooManyBytesError(maxBytes: maximum) }
        // A body that arrived whole is used as it is.
        guard var next = try await fragments.next() else { return first }
        var collected = ByteBuffer()
        collected.reserveCapacity(min(max(length ?? 0, first.readableBytes + next.readableBytes), maximum))
        collected.writeImmutableBuffer(first)
        while true {
            guard collected.readableBytes + next.readableBytes <= maximum else { throw NIOTooManyBytesError(maxBytes: maximum) }
            collected.writeImmutableBuffer(next)
            guard let fragment = try await fragments.next() else { return collected }
            next = fragment
        }
    }

    /// The HTTP body holding `carried`'s message with its object in the object field, as buffers to send one after
    /// the other: the message's other fields with the object field's key and length, then the object's own buffer,
    /// not copied.
    public static func parts<Message: ObjectCarrying>(_ carried: CarriedObject<Message>) throws -> [ByteBuffer] {
        guard let object = carried.object, object.readableBytes > 0 else { return [try head(of: carried.message, announcing: 0)] }
        return [try head(of: carried.message, announcing: object.readableBytes), object]
    }

    /// The message `body` holds, its object field left empty and its object a buffer sharing `body`'s memory.
    ///
    /// - Throws: swift-protobuf's error, or `WireError.invalidMessage`, when `body` is not a valid `Message`.
    public static func decodeCarried<Message: ObjectCarrying>(_ body: ByteBuffer, as: Message.Type = Message.self) throws -> CarriedObject<Message> {
        let (message, content) = try body.withUnsafeReadableBytes { bytes -> (Message, Range<Int>?) in
            guard let field = try lastLengthDelimitedField(Message.objectContentField, in: bytes) else {
                return (try Message(serializedBytes: Array(bytes)), nil)
            }
            return (try others(of: field, in: bytes), field.content)
        }
        guard let content, !content.isEmpty else { return CarriedObject(message, object: nil) }
        return CarriedObject(message, object: body.getSlice(at: body.readerIndex + content.lowerBound, length: content.count))
    }

    /// The message's other fields through swift-protobuf, then the object field's key and a `length` (none when it
    /// is 0): protobuf parsers merge fields in the order they come, so with the object's bytes after it this means the
    /// same message as swift-protobuf's own serialisation.
    private static func head<Message: ObjectCarrying>(of message: Message, announcing length: Int) throws -> ByteBuffer {
        var others = message
        others.objectContent = Data()
        let fields: [UInt8] = try others.serializedBytes()
        var head = ByteBuffer()
        head.reserveCapacity(fields.count + 2 * 10)
        head.writeBytes(fields)
        if length > 0 {
            writeVarint(UInt64(Message.objectContentField << 3 | WireType.lengthDelimited), to: &head)
            writeVarint(UInt64(length), to: &head)
        }
        return head
    }

    /// The message made of `bytes`' fields before and after the object field `field`.
    private static func others<Message: ObjectCarrying>(
        of field: (record: Range<Int>, content: Range<Int>), in bytes: UnsafeRawBufferPointer
    ) throws -> Message {
        var message = try Message(serializedBytes: Array(bytes[..<field.record.lowerBound]))
        try message.merge(serializedBytes: Array(bytes[field.record.upperBound...]))
        return message
    }

    /// Where the last top-level occurrence of length-delimited field `number` lies in `bytes`: the whole record
    /// (key, length, content) and its content. A later occurrence of a `bytes` field replaces an earlier one.
    ///
    /// - Throws: `WireError.invalidMessage` when a field runs past the end or has a wire type protobuf 3 lacks.
    static func lastLengthDelimitedField(_ number: Int, in bytes: UnsafeRawBufferPointer) throws -> (record: Range<Int>, content: Range<Int>)? {
        var found: (record: Range<Int>, content: Range<Int>)?
        var offset = 0
        while offset < bytes.count {
            let start = offset
            let key = try readVarint(bytes, at: &offset)
            let skip: Int
            switch Int(key & 7) {
            case WireType.varint: _ = try readVarint(bytes, at: &offset); skip = 0
            case WireType.fixed64: skip = 8
            case WireType.lengthDelimited:
                let length = try readVarint(bytes, at: &offset)
                guard length <= UInt64(bytes.count - offset) else { throw truncated }
                skip = Int(length)
                if key >> 3 == UInt64(number) { found = (start..<(offset + skip), offset..<(offset + skip)) }
            case WireType.fixed32: skip = 4
            default:
                throw WireError(code: .invalidMessage, message: "the protobuf body has a field of wire type \(key & 7), which protobuf 3 messages do not use")
            }
            guard skip <= bytes.count - offset else { throw truncated }
            offset += skip
        }
        return found
    }

    private static var truncated: WireError {
        WireError(code: .invalidMessage, message: "the protobuf body ends inside a field")
    }

    private static func readVarint(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard offset < bytes.count else { throw truncated }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        throw WireError(code: .invalidMessage, message: "the protobuf body has a varint longer than 10 bytes")
    }

    private static func writeVarint(_ value: UInt64, to buffer: inout ByteBuffer) {
        var value = value
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }

    /// Protobuf's wire types.
    private enum WireType {
        static let varint = 0
        static let fixed64 = 1
        static let lengthDelimited = 2
        static let fixed32 = 5
    }
}
