import Foundation

/// A regular file mapped into memory copy-on-write, so that tensors can view its bytes without reading them
/// (`Tensor(dtype:shape:viewing:offset:)`).
///
/// Mapping shares the file's cached pages instead of copying them into fresh memory: a 100 MB array costs no
/// read and no page zeroing. Writes through the mapping stay private to this process. The file must not shrink
/// while it is mapped (reading a page past its end would stop the process), so map only files nobody else
/// writes: a SuperNode's exchange file, read by the ClientApp process it starts.
package final class FileMapping: @unchecked Sendable {
    /// The first mapped byte.
    package let start: UnsafeMutableRawPointer
    /// The number of mapped bytes: the file's size when it was mapped.
    package let count: Int

    /// Maps the regular file open as `descriptor`, `count` bytes long; an empty file maps nothing.
    ///
    /// - Throws: `CoreError.unreadableFile` naming `path` and the kernel's reason when it refuses the mapping.
    package init(descriptor: Int32, count: Int, path: String) throws {
        self.count = count
        guard count > 0 else {
            start = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: TensorStorage.alignment)
            return
        }
        let mapped = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw CoreError(code: .unreadableFile, message: "cannot map '\(path)' into memory: \(String(cString: strerror(errno)))")
        }
        start = mapped
    }

    deinit {
        if count > 0 { munmap(start, count) } else { start.deallocate() }
    }
}
