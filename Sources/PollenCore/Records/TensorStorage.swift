/// The bytes behind a `Tensor`: one 64-byte-aligned allocation, shared between copies until one of them writes.
///
/// `@unchecked Sendable` is sound because the bytes are written only through `Tensor`'s mutating accessors, which
/// first make the storage unique (`isKnownUniquelyReferenced`, copying otherwise). Storage reachable from more than
/// one value, and so from more than one task, is never written.
final class TensorStorage: @unchecked Sendable {
    /// Alignment of every allocation: a cache line, and enough for any SIMD load.
    static let alignment = 64

    let bytes: UnsafeMutableRawPointer
    let byteCount: Int

    /// Allocates `byteCount` zeroed bytes.
    init(zeroedByteCount byteCount: Int) {
        self.byteCount = byteCount
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
    }

    /// Allocates `byteCount` bytes and lets `fill` write every one of them.
    init(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        self.byteCount = byteCount
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        // If `fill` throws, the instance is released and `deinit` frees the bytes.
        try fill(UnsafeMutableRawBufferPointer(start: bytes, count: byteCount))
    }

    /// Allocates a copy of `source`.
    init(copying source: UnsafeRawBufferPointer) {
        byteCount = source.count
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        if let base = source.baseAddress {
            bytes.copyMemory(from: base, byteCount: byteCount)
        }
    }

    deinit { bytes.deallocate() }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: byteCount) }
}
