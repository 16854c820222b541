import Foundation
import Synchronization

/// Memory that an isolated ClientApp process carves its large tensors from: a file in shared memory that its
/// SuperNode keeps from one message of a run to the next, so that the reply's arrays land in pages that are already
/// there instead of pages the kernel must find and clear for every new process.
///
/// A ClientApp process is new for every message, so every tensor it makes touches fresh memory: measured on this
/// project's VM, whose host takes back the guest's free memory, computing a 100 MB reply took 100–250 ms in a third
/// of the rounds instead of 15 ms. The arena is a bump allocator over one shared mapping of the file: tensors of
/// `TensorStorage.mappedThreshold` bytes or more are carved from it while it lasts (page-aligned, never given back:
/// the process answers one message and exits), the rest use ordinary memory. The file holds only the run's own
/// data: its SuperNode empties it before a message of another run.
package final class ScratchArena: Sendable {
    private struct Region {
        var base: UInt
        var length: Int
        var used = 0
    }

    private let region: Mutex<Region>

    /// The arena this process carves from, if `install` made one.
    private static let installed = Mutex<ScratchArena?>(nil)

    /// Maps the file at `path` (shared: what is written lands in the file) to carve tensors from.
    ///
    /// - Throws: `CoreError.unreadableFile` naming the file and the failing call when it cannot be opened or mapped.
    package init(path: String) throws {
        let file = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        guard file >= 0 else { throw Self.failure("open", path) }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0 else { throw Self.failure("fstat", path) }
        let length = Int(status.st_size)
        var base: UInt = 0
        if length > 0 {
            // Populated at once: one pass over the file's pages instead of a fault for each.
            let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, file, 0)
            guard let mapped, mapped != MAP_FAILED else { throw Self.failure("mmap", path) }
            base = UInt(bitPattern: mapped)
        }
        region = Mutex(Region(base: base, length: length))
    }

    /// Makes this process carve its large tensors from the file at `path` from now on; the mapping lives as long
    /// as the process.
    package static func install(path: String) throws {
        let arena = try ScratchArena(path: path)
        installed.withLock { $0 = arena }
    }

    /// `byteCount` bytes carved from the installed arena, and the arena that owns them; `nil` when there is none
    /// or it has too little left.
    static func carveFromInstalled(_ byteCount: Int) -> (bytes: UnsafeMutableRawPointer, owner: AnyObject)? {
        guard let arena = installed.withLock({ $0 }), let bytes = arena.carve(byteCount) else { return nil }
        return (bytes, arena)
    }

    /// `byteCount` bytes carved from the arena, starting on a page; `nil` when it has too little left.
    package func carve(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        let address = region.withLock { region -> UInt? in
            let start = (region.used + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
            guard region.length > 0, byteCount <= region.length - start else { return nil }
            region.used = start + byteCount
            return region.base + UInt(start)
        }
        return address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }

    private static let pageBytes = 4_096

    private static func failure(_ call: String, _ path: String) -> CoreError {
        CoreError(code: .unreadableFile, message: "cannot use the scratch file '\(path)' (\(call): errno \(errno))")
    }
}
