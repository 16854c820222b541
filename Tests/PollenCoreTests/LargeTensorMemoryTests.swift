import Foundation
@testable import PollenCore
import Testing

/// Where large tensors get their memory: `MappingPool` (pages kept for the next tensor) and `ScratchArena` (a
/// ClientApp's shared scratch file).
@Suite struct LargeTensorMemoryTests {
    /// 74 MiB: a length no other test's tensors come near, so that concurrent tests cannot take this mapping.
    static let poolLength = 37 * TensorStorage.hugePageBytes

    @Test func aKeptMappingServesTheNextRequestOfItsSizeAndNoSmallerOne() throws {
        let mapped = try #require(mmap(nil, Self.poolLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        MappingPool.give(mapped, length: Self.poolLength)
        // A request for half the length would pin twice what it needs: it is not served from this mapping.
        if let other = MappingPool.take(length: Self.poolLength / 2) {
            #expect(other.start != mapped)
            munmap(other.start, other.length)
        }
        let taken = try #require(MappingPool.take(length: Self.poolLength - TensorStorage.hugePageBytes))
        #expect(taken.start == mapped)
        #expect(taken.length == Self.poolLength)
        munmap(taken.start, taken.length)
    }

    @Test func mappingsIdleTooLongAreUnmapped() throws {
        let length = Self.poolLength + TensorStorage.hugePageBytes
        let mapped = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        MappingPool.give(mapped, length: length)
        MappingPool.sweep(now: DispatchTime.now().uptimeNanoseconds + UInt64(MappingPool.idleSeconds * 2e9))
        #expect(MappingPool.take(length: length) == nil)
    }

    @Test func aTensorOfZerosMadeFromKeptPagesIsZeros() throws {
        let count = 3 << 20  // 12 MiB of Float: mapped, and so kept when freed.
        do {
            var written = try Tensor(zeros: .float32, shape: [count])
            try written.withUnsafeMutableBufferPointer(as: Float.self) { $0.update(repeating: 7) }
        }
        let zeros = try Tensor(zeros: .float32, shape: [count])
        try zeros.withUnsafeBufferPointer(as: Float.self) { values in
            #expect(values.allSatisfy { $0 == 0 })
        }
    }

    @Test func anArenaCarvesPageAlignedRangesOfItsFileUntilItIsUsedUp() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("arena-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 3 * 4_096)))
        let arena = try ScratchArena(path: path)
        let first = try #require(arena.carve(100))
        let second = try #require(arena.carve(4_096))
        #expect(Int(bitPattern: second) - Int(bitPattern: first) == 4_096, "the second range starts on the next page")
        #expect(arena.carve(4_097) == nil, "more than is left")
        // What is written lands in the file, which the SuperNode keeps for the run's next message.
        second.storeBytes(of: 0xAB, as: UInt8.self)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path))[4_096] == 0xAB)
    }

    @Test func aMissingScratchFileIsAnErrorNamingIt() {
        #expect(throws: CoreError.self) { try ScratchArena(path: "/nonexistent/scratch") }
        do { _ = try ScratchArena(path: "/nonexistent/scratch") } catch {
            #expect("\(error)".contains("/nonexistent/scratch"))
        }
    }
}
