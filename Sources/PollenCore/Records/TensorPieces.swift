import Foundation
import Synchronization

/// A tensor's bytes held as pieces of other buffers, in order: the data of a decoded `Array` object's chunks,
/// left where they arrived instead of being copied into one allocation.
///
/// What reads the bytes piece by piece (FedAvg's fold, the encoder, the ClientApp exchange) never needs them in one
/// buffer, so a 100 MB reply costs no 100 MB copy and no 100 MB allocation. The first reader that asks for every
/// byte at once gets them assembled into ordinary tensor storage, once (`assembled`); the pieces' owner is let go
/// then.
///
/// `@unchecked Sendable` is sound because the pieces are never written (their owner hands them over and keeps no
/// other reference that writes them), and the assembled copy is made and published under the lock.
package final class TensorPieces: @unchecked Sendable {
    /// The pieces, in order. Every piece holds whole elements, so each can be read as elements on its own.
    private let pieces: [UnsafeRawBufferPointer]
    /// The sum of the pieces' lengths.
    let byteCount: Int
    /// What keeps the pieces valid until they are assembled, and the assembled copy once they are.
    private let state: Mutex<(owner: (any AnyObject & Sendable)?, assembled: TensorStorage?)>

    /// Pieces that `owner` keeps valid and unchanged as long as it lives.
    package init(_ pieces: [UnsafeRawBufferPointer], owner: any AnyObject & Sendable) {
        self.pieces = pieces
        byteCount = pieces.reduce(0) { $0 + $1.count }
        state = Mutex((owner, nil))
    }

    /// The bytes in one allocation, copied from the pieces on the first call.
    var assembled: TensorStorage {
        state.withLock { state in
            if let assembled = state.assembled { return assembled }
            let assembled = TensorStorage(byteCount: byteCount) { destination in
                var offset = 0
                for piece in pieces where piece.count > 0 {
                    (destination.baseAddress! + offset).copyMemory(from: piece.baseAddress!, byteCount: piece.count)
                    offset += piece.count
                }
            }
            state = (nil, assembled)
            return assembled
        }
    }

    /// Whether the pieces have been copied into one allocation.
    var isAssembled: Bool { state.withLock { $0.assembled != nil } }

    /// The parts of `pieces` (bytes in order) that hold the bytes in `range`, in order.
    static func slice(_ pieces: [UnsafeRawBufferPointer], _ range: Range<Int>) -> [UnsafeRawBufferPointer] {
        var parts = [UnsafeRawBufferPointer]()
        var start = 0
        for piece in pieces where start < range.upperBound {
            let lower = max(start, range.lowerBound), upper = min(start + piece.count, range.upperBound)
            if lower < upper { parts.append(UnsafeRawBufferPointer(rebasing: piece[(lower - start)..<(upper - start)])) }
            start += piece.count
        }
        return parts
    }

    /// Whether two lists of pieces hold the same bytes, however each is cut.
    static func sameBytes(_ left: [UnsafeRawBufferPointer], _ right: [UnsafeRawBufferPointer]) -> Bool {
        var (leftIndex, leftOffset, rightIndex, rightOffset) = (0, 0, 0, 0)
        while leftIndex < left.count, rightIndex < right.count {
            let length = min(left[leftIndex].count - leftOffset, right[rightIndex].count - rightOffset)
            if length > 0, memcmp(left[leftIndex].baseAddress! + leftOffset, right[rightIndex].baseAddress! + rightOffset, length) != 0 {
                return false
            }
            leftOffset += length
            rightOffset += length
            if leftOffset == left[leftIndex].count { (leftIndex, leftOffset) = (leftIndex + 1, 0) }
            if rightOffset == right[rightIndex].count { (rightIndex, rightOffset) = (rightIndex + 1, 0) }
        }
        // Equal only if neither side has bytes left over.
        let leftOver = left[leftIndex...].reduce(-leftOffset) { $0 + $1.count }
        let rightOver = right[rightIndex...].reduce(-rightOffset) { $0 + $1.count }
        return leftOver == 0 && rightOver == 0
    }

    /// Calls `body` with the bytes in order: the pieces, or the assembled copy as one piece once there is one. The
    /// pieces stay valid for the call even if another task assembles them meanwhile.
    func withPieces<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        let (owner, assembled) = state.withLock { ($0.owner, $0.assembled) }
        if let assembled { return try withExtendedLifetime(assembled) { try body([assembled.buffer]) } }
        return try withExtendedLifetime(owner) { try body(pieces) }
    }
}
