import Foundation

/// The memory cap of an app process a daemon starts (`--memory-limit-mb`): its data segment, `RLIMIT_DATA`, which
/// counts heap and private mappings, so that a process over it fails its next allocation and ends, and its daemon
/// reports that.
enum MemoryLimit {
    /// Caps this process's data segment at `megabytes` MiB.
    static func apply(megabytes: Int) throws {
        let bytes = rlim_t(megabytes) << 20
        var limit = rlimit(rlim_cur: bytes, rlim_max: bytes)
        guard setrlimit(Int32(RLIMIT_DATA.rawValue), &limit) == 0 else {
            throw CLIError("cannot limit this process's memory to \(megabytes) MiB (setrlimit: errno \(errno))")
        }
    }
}
