public import NIOCore
public import PollenCore
import Crypto

/// The kinds of content-addressed objects a message is made of, named as Flower names them.
public enum ObjectType: String, Sendable, CaseIterable {
    case message = "Message"
    case recordDict = "RecordDict"
    case arrayRecord = "ArrayRecord"
    case configRecord = "ConfigRecord"
    case metricRecord = "MetricRecord"
    case array = "Array"
    case arrayChunk = "ArrayChunk"
}

/// One content-addressed object in Flower 1.42's byte format: `"<type> <child ids> <body length>"`, a zero byte,
/// then the body. Its id is the lowercase hex SHA-256 of all those bytes.
///
/// Objects are immutable; building one from received bytes checks the id, the head's three fields, the type,
/// the child ids' form and the body length, so a stored object is always well formed.
///
/// The bytes live in a NIO buffer: an object received over HTTP stays in the body it arrived in, and one sent goes
/// into an HTTP body as it is, so a 5 MiB chunk crossing a daemon is not copied between protobuf, `Data` and arrays.
public struct FlowerObject: Sendable, Equatable {
    /// The object's id: the SHA-256 of `bytes`.
    public let id: ObjectID
    /// The complete object (head, zero byte, body) as the readable bytes of a buffer no one writes to.
    public let buffer: ByteBuffer
    /// The object's type.
    public let type: ObjectType
    /// The ids of the objects it refers to, de-duplicated, in first-occurrence order.
    public let children: [ObjectID]
    /// Where the body starts in `bytes`.
    let bodyStart: Int

    /// The complete object: head, zero byte, body.
    public var bytes: ByteBufferView { buffer.readableBytesView }

    /// The body.
    public var body: ByteBufferView { buffer.readableBytesView.dropFirst(bodyStart) }

    /// Builds an object from its parts and computes its id.
    public init(type: ObjectType, children: [ObjectID], body: some Collection<UInt8>) {
        self.init(type: type, children: children, bodyCount: body.count) { destination in
            _ = destination.initialize(from: body)
        }
    }

    /// Builds an object whose body `writeBody` writes, all `bodyCount` bytes of it, straight into the object's
    /// bytes (no intermediate copy of a large body), and computes its id.
    public init(type: ObjectType, children: [ObjectID], bodyCount: Int, writeBody: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        var unique = [ObjectID]()
        var seen = Set<ObjectID>()
        for child in children where seen.insert(child).inserted { unique.append(child) }
        let head = Array("\(type.rawValue) \(unique.map(\.rawValue).joined(separator: ",")) \(bodyCount)".utf8)
        var buffer = ByteBufferAllocator().buffer(capacity: head.count + 1 + bodyCount)
        buffer.writeBytes(head)
        buffer.writeInteger(UInt8(0))
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bodyCount) { destination in
            writeBody(UnsafeMutableBufferPointer(rebasing: destination.bindMemory(to: UInt8.self)[..<bodyCount]))
            return bodyCount
        }
        bodyStart = head.count + 1
        self.buffer = buffer
        self.type = type
        self.children = unique
        id = FlowerObject.hash(buffer)
    }

    /// Parses and checks received bytes.
    ///
    /// - Parameter expectedID: the id the sender gave the object; the bytes must hash to it.
    /// - Throws: `WireError.invalidObject` saying what is wrong.
    public init(validating bytes: ByteBuffer, expectedID: ObjectID? = nil) throws {
        let id = FlowerObject.hash(bytes)
        if let expectedID, expectedID != id {
            throw WireError(code: .invalidObject, message: "object \(expectedID.rawValue) is invalid: its bytes hash to \(id.rawValue)")
        }
        try self.init(stored: bytes, id: id)
    }

    /// Parses bytes whose hash was checked against `id` by whoever received them first (an object store's own, or
    /// an object a SuperLink serves: it checked each one pushed to it), without hashing them again.
    ///
    /// Bytes that share a buffer much larger than themselves (a small body read into a network buffer) are copied
    /// into one of their own, so that a stored object never keeps the rest alive.
    ///
    /// - Throws: `WireError.invalidObject` when the head is malformed.
    public init(stored bytes: ByteBuffer, id: ObjectID) throws {
        func fail(_ problem: String) -> WireError {
            WireError(code: .invalidObject, message: "object \(id.rawValue) is invalid: \(problem)")
        }
        let count = bytes.readableBytes
        // A head lists child ids (65 bytes each); 1 MiB allows 16,000 children, far beyond any model's layers.
        guard let zero = bytes.readableBytesView.prefix(1 << 20).firstIndex(of: 0).map({ $0 - bytes.readerIndex }) else {
            throw fail("no head ends in a zero byte")
        }
        guard let head = String(validating: bytes.readableBytesView.prefix(zero), as: UTF8.self) else { throw fail("the head is not UTF-8") }
        let fields = head.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw fail("the head '\(head)' does not have three fields") }
        guard let type = ObjectType(rawValue: String(fields[0])) else { throw fail("unknown type '\(fields[0])'") }
        let children = fields[1].isEmpty ? [] : fields[1].split(separator: ",", omittingEmptySubsequences: false).map { ObjectID(String($0)) }
        guard children.allSatisfy(\.isWellFormed) else { throw fail("a child id is not a SHA-256 in hex") }
        guard let length = Int(fields[2]), length == count - zero - 1 else {
            throw fail("the head announces \(fields[2]) body bytes, the object has \(count - zero - 1)")
        }
        if bytes.storageCapacity > 2 * count + 4_096 {
            var own = ByteBufferAllocator().buffer(capacity: count)
            own.writeImmutableBuffer(bytes)
            buffer = own
        } else {
            buffer = bytes
        }
        self.id = id
        self.type = type
        self.children = children
        bodyStart = zero + 1
    }

    /// The lowercase hex SHA-256 of `bytes`' readable bytes.
    public static func hash(_ bytes: ByteBuffer) -> ObjectID {
        let digest = bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) }
        let hexDigits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in digest {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        return ObjectID(String(decoding: hex, as: UTF8.self))
    }
}

import Foundation
