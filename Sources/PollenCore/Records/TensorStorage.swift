import Foundation

/// The bytes behind a `Tensor`: one 64-byte-aligned allocation, shared between copies until one of them writes.
///
/// Storage may also view a range of bytes another object owns: a `FileMapping` (a file mapped copy-on-write, so
/// reading touches no new memory and a write lands in private pages, never in the file), or a range of another
/// storage that only such views still reach (`Tensor.split`), or be made of pieces of other buffers
/// (`TensorPieces`: a decoded array's chunks), copied into one allocation only when something asks for all the
/// bytes at once.
///
/// Large tensors (a model's layers, a 100 MB update) are mapped straight from the kernel on 2 MiB boundaries and
/// marked for transparent huge pages: their first touch costs one page fault per 2 MiB instead of one per 4 KiB,
/// and they arrive zeroed, so a tensor of zeros is written once, not twice. A freed one goes to `MappingPool`, so
/// that the next large tensor reuses its pages; in a ClientApp process they are carved from its `ScratchArena`.
///
/// `@unchecked Sendable` is sound because the bytes are written only through `Tensor`'s mutating accessors, which
/// first make the storage unique (`isKnownUniquelyReferenced`, copying otherwise). Storage reachable from more than
/// one value, and so from more than one task, is never written; the owner of split parts is reachable only
/// through them, and each part writes its own disjoint range.
final class TensorStorage: @unchecked Sendable {
    /// Alignment of every allocation: a cache line, and enough for any SIMD load.
    static let alignment = 64
    /// A transparent huge page.
    static let hugePageBytes = 2 << 20
    /// The smallest allocation mapped on its own with huge pages: below this, the heap serves it better.
    static let mappedThreshold = 4 << 20

    let byteCount: Int
    /// The bytes, or `nil` for storage made of `pieces`.
    private let ownBytes: UnsafeMutableRawPointer?
    /// The pieces the bytes are made of, or `nil` for storage that holds or views them whole.
    let pieces: TensorPieces?
    /// The length of the mapping behind `bytes`, or 0 for a heap allocation or a view.
    private let mappedLength: Int
    /// Whether `bytes` is a mapping made for this storage that nothing has written: all zeros, with no page of its
    /// own yet (reads see the kernel's zero page), so nothing is gained by keeping it in `MappingPool`.
    private(set) var isUntouchedMapping: Bool
    /// What owns the bytes of a view, kept alive as long as it; `nil` when this storage owns its bytes.
    private let owner: AnyObject?

    /// Allocates `byteCount` zeroed bytes.
    convenience init(zeroedByteCount byteCount: Int) {
        self.init(uninitializedByteCount: byteCount)
        let bytes = ownBytes.unsafelyUnwrapped
        // A fresh mapping is zeroed by the kernel, page by page as it is touched.
        if !isUntouchedMapping { bytes.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
    }

    /// Allocates `byteCount` bytes and lets `fill` write every one of them.
    convenience init(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        self.init(uninitializedByteCount: byteCount)
        isUntouchedMapping = false
        // If `fill` throws, the instance is released and `deinit` frees the bytes.
        try fill(UnsafeMutableRawBufferPointer(start: ownBytes, count: byteCount))
    }

    /// Allocates a copy of `source`.
    convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(uninitializedByteCount: source.count)
        isUntouchedMapping = false
        if let base = source.baseAddress {
            ownBytes.unsafelyUnwrapped.copyMemory(from: base, byteCount: byteCount)
        }
    }

    /// The bytes, in one contiguous buffer: storage made of pieces copies them into one (once) on the first call.
    var bytes: UnsafeMutableRawPointer {
        if let ownBytes { return ownBytes }
        return pieces.unsafelyUnwrapped.assembled.bytes
    }

    /// Storage made of `pieces`, which keeps them alive.
    init(pieces: TensorPieces) {
        self.pieces = pieces
        byteCount = pieces.byteCount
        ownBytes = nil
        owner = nil
        mappedLength = 0
        isUntouchedMapping = false
    }

    /// A copy of `other`'s bytes, read from its pieces if it has not assembled them.
    convenience init(copying other: TensorStorage) {
        self.init(uninitializedByteCount: other.byteCount)
        isUntouchedMapping = false
        other.copyBytes(in: 0..<other.byteCount, to: ownBytes.unsafelyUnwrapped)
    }

    /// Copies the bytes in `range` to `destination`, from the pieces when there are some.
    func copyBytes(in range: Range<Int>, to destination: UnsafeMutableRawPointer) {
        guard let pieces else {
            destination.copyMemory(from: bytes + range.lowerBound, byteCount: range.count)
            return
        }
        pieces.withPieces { parts in
            var written = 0
            for part in TensorPieces.slice(parts, range) {
                (destination + written).copyMemory(from: part.baseAddress!, byteCount: part.count)
                written += part.count
            }
        }
    }

    /// Views the `byteCount` bytes at `bytes`, which `owner` keeps valid and which the caller has checked are
    /// 64-byte aligned and written through no other storage.
    init(viewing bytes: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.owner = owner
        self.byteCount = byteCount
        ownBytes = bytes
        pieces = nil
        mappedLength = 0
        isUntouchedMapping = false
    }

    /// Large allocations come from a ClientApp's `ScratchArena`, else from `MappingPool`, else from a new mapping.
    private init(uninitializedByteCount byteCount: Int) {
        self.byteCount = byteCount
        pieces = nil
        let wholePages = Self.mappedLength(forBytes: byteCount)
        isUntouchedMapping = false
        if byteCount >= Self.mappedThreshold, let carved = ScratchArena.carveFromInstalled(byteCount) {
            ownBytes = carved.bytes
            owner = carved.owner
            mappedLength = 0
        } else if byteCount >= Self.mappedThreshold, let kept = MappingPool.shared.take(length: wholePages) {
            ownBytes = kept.start
            owner = nil
            mappedLength = kept.length
        } else if byteCount >= Self.mappedThreshold, let mapped = Self.mapHugePages(wholePages) {
            ownBytes = mapped
            owner = nil
            mappedLength = wholePages
            isUntouchedMapping = true
        } else {
            ownBytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
            owner = nil
            mappedLength = 0
        }
    }

    deinit {
        guard owner == nil, let bytes = ownBytes else { return }
        if mappedLength == 0 {
            bytes.deallocate()
        } else if isUntouchedMapping {
            munmap(bytes, mappedLength)
        } else {
            MappingPool.shared.give(bytes, length: mappedLength)
        }
    }

    /// Records that the bytes are about to be written; called only by the storage's one owner.
    func willWrite() {
        isUntouchedMapping = false
        pieces?.assembled.willWrite()
    }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: byteCount) }

    /// The length of the mapping a tensor of `byteCount` bytes gets when it is large enough for one: whole huge pages.
    static func mappedLength(forBytes byteCount: Int) -> Int {
        (byteCount + hugePageBytes - 1) / hugePageBytes * hugePageBytes
    }

    /// Maps `length` bytes, a whole number of huge pages, starting on a huge-page boundary and asks for huge pages;
    /// `nil` when the kernel refuses the mapping (the heap is used instead).
    static func mapHugePages(_ length: Int) -> UnsafeMutableRawPointer? {
        // Map a huge page more than needed, then cut off the unaligned head and the tail.
        let raw = mmap(nil, length + hugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { return nil }
        let address = UInt(bitPattern: raw)
        let aligned = (address + UInt(hugePageBytes) - 1) / UInt(hugePageBytes) * UInt(hugePageBytes)
        let head = Int(aligned - address)
        if head > 0 { munmap(raw, head) }
        let tail = hugePageBytes - head
        let start = raw + head
        if tail > 0 { munmap(start + length, tail) }
        #if os(Linux)
        // Advice only: without transparent huge pages the mapping still works, with small pages.
        _ = madvise(start, length, MADV_HUGEPAGE)
        #endif
        return start
    }
}
