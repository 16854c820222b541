public import Foundation
public import NIOCore
public import SwiftProtobuf

/// A Fleet or runtime API message whose `bytes` field carries one content-addressed object (an array chunk of up to
/// 5 MiB and its head): `ProtobufBody` writes and reads that field itself.
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
/// into a message whose `bytes` field is another copy. For a message carrying an object (`ObjectCarrying`) this
/// type writes the object's field itself, copying its bytes once, straight into the body; and reading gives the
/// message an object field that shares the body's memory. Everything else goes through swift-protobuf.
public enum ProtobufBody {
    /// The HTTP body holding `message`.
    public static func encode(_ message: some SwiftProtobuf.Message) throws -> ByteBuffer {
        if let carrying = message as? any ObjectCarrying { return try encodeCarrying(carrying) }
        let bytes: [UInt8] = try message.serializedBytes()
        return ByteBuffer(bytes: bytes)
    }

    /// The message `body` holds.
    ///
    /// - Throws: swift-protobuf's error, or `WireError.invalidMessage`, when `body` is not a valid `Message`.
    public static func decode<Message: SwiftProtobuf.Message>(_ body: ByteBuffer, as: Message.Type = Message.self) throws -> Message {
        if let carrying = Message.self as? any ObjectCarrying.Type {
            // `decodeCarrying` returns the type it was given, which is `Message`.
            return try decodeCarrying(carrying, body) as! Message
        }
        return try Message(serializedBytes: Array(buffer: body))
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
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        guard let object = carried.object, object.readableBytes > 0 else { return [try encodeCarrying(carried.message, content: empty)] }
        return [try encodeCarrying(carried.message, content: empty, announcing: object.readableBytes), object]
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

    private static func encodeCarrying<Message: ObjectCarrying>(_ message: Message) throws -> ByteBuffer {
        try message.objectContent.withUnsafeBytes { try encodeCarrying(message, content: $0) }
    }

    /// The message's other fields through swift-protobuf, then the object field: protobuf parsers merge fields in
    /// the order they come, so the bytes mean the same message as swift-protobuf's own serialisation. With
    /// `announcing`, the field's key and that length are written but not its content, which the caller sends next.
    private static func encodeCarrying<Message: ObjectCarrying>(
        _ message: Message, content: UnsafeRawBufferPointer, announcing announced: Int? = nil
    ) throws -> ByteBuffer {
        var others = message
        others.objectContent = Data()
        let head: [UInt8] = try others.serializedBytes()
        let length = announced ?? content.count
        var body = ByteBuffer()
        body.reserveCapacity(head.count + 2 * 10 + content.count)
        body.writeBytes(head)
        if length > 0 {
            writeVarint(UInt64(Message.objectContentField << 3 | WireType.lengthDelimited), to: &body)
            writeVarint(UInt64(length), to: &body)
            body.writeBytes(content)
        }
        return body
    }

    /// The message made of `bytes`' fields before and after the object field `field`.
    private static func others<Message: ObjectCarrying>(
        of field: (record: Range<Int>, content: Range<Int>), in bytes: UnsafeRawBufferPointer
    ) throws -> Message {
        var message = try Message(serializedBytes: Array(bytes[..<field.record.lowerBound]))
        try message.merge(serializedBytes: Array(bytes[field.record.upperBound...]))
        return message
    }

    /// The fields before and after the object field through swift-protobuf; the object field is a `Data` over the
    /// body's own memory, which it keeps alive.
    private static func decodeCarrying<Message: ObjectCarrying>(_ type: Message.Type, _ body: ByteBuffer) throws -> Message {
        try body.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
            guard let field = try lastLengthDelimitedField(Message.objectContentField, in: bytes) else {
                return try Message(serializedBytes: Array(bytes))
            }
            var message: Message = try others(of: field, in: bytes)
            guard !field.content.isEmpty, let base = bytes.baseAddress else { return message }
            let owner = RetainedStorage(storage.retain())
            message.objectContent = Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: base + field.content.lowerBound), count: field.content.count,
                deallocator: .custom { _, _ in owner.release() }
            )
            return message
        }
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

/// A retained NIO buffer storage that a `Data` sharing its memory releases when it is freed. The storage is
/// immutable while shared: a `ByteBuffer` writing to it would copy it first.
private final class RetainedStorage: @unchecked Sendable {
    private let storage: Unmanaged<AnyObject>
    init(_ storage: Unmanaged<AnyObject>) { self.storage = storage }
    func release() { storage.release() }
}
