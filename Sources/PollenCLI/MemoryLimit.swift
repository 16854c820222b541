import Foundation

/// The memory cap of an app process a daemon starts (`--memory-limit-mb`): its data segment, `RLIMIT_DATA`, which
/// counts heap and private mappings, so that a process over it fails its next allocation and ends, and its daemon
/// reports that.
enum MemoryLimit {
    /// The largest limit taken, in MiB (1 TiB): beyond any machine this runs on, and far from overflowing bytes.
    static let largestMegabytes = 1 << 20

    /// Caps this process's data segment at `megabytes` MiB.
    static func apply(megabytes: Int) throws {
        guard (1...largestMegabytes).contains(megabytes) else {
            throw CLIError("a memory limit of \(megabytes) MiB is out of range; give 1 to \(largestMegabytes) MiB")
        }
        let bytes = rlim_t(megabytes) << 20
        var limit = rlimit(rlim_cur: bytes, rlim_max: bytes)
        guard setrlimit(Int32(RLIMIT_DATA.rawValue), &limit) == 0 else {
            throw CLIError("cannot limit this process's memory to \(megabytes) MiB (setrlimit: errno \(errno))")
        }
    }
}
