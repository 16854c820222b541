#if canImport(Glibc)
import Glibc
#endif

/// How the `pollen` process's allocator treats the multi-megabyte buffers federated learning moves: 5 MiB object
/// chunks, HTTP bodies and decoded arrays, allocated and freed many times a round.
///
/// glibc's defaults give most of those buffers back to the kernel as soon as they are freed (each large block gets
/// a mapping of its own, and a heap's free top is trimmed past 128 KiB), so the next round's buffers are fresh
/// pages that the kernel must fault in and clear. In the 100 MB model-transfer benchmark that clearing was a fifth
/// of the deployment's CPU time. With these two settings a buffer under 32 MiB comes from malloc's heap, and up to
/// 64 MiB of freed memory per heap stays there for the next one.
///
/// Settings given in the environment win: a process started with `glibc.malloc.mmap_threshold` or
/// `glibc.malloc.trim_threshold` in `GLIBC_TUNABLES`, or with `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_`,
/// keeps what it was given for both.
enum AllocatorTuning {
    /// The size from which a block gets a mapping of its own: glibc's largest allowed value.
    static let ownMappingFrom: Int32 = 32 << 20
    /// How much free memory a heap keeps at its top before giving it back to the kernel.
    static let keptFreeMemory: Int32 = 64 << 20

    /// Applies the settings to this process, and so to the app processes it starts (each is a `pollen` process).
    static func apply() {
        #if canImport(Glibc)
        let tunables = getenv("GLIBC_TUNABLES").map { String(cString: $0) } ?? ""
        guard !tunables.contains("glibc.malloc.mmap_threshold"), !tunables.contains("glibc.malloc.trim_threshold"),
              getenv("MALLOC_MMAP_THRESHOLD_") == nil, getenv("MALLOC_TRIM_THRESHOLD_") == nil
        else { return }
        // `<malloc.h>` is not part of Swift's Glibc module: `mallopt` is looked up, and its two parameters are
        // glibc's stable `M_TRIM_THRESHOLD` (-1) and `M_MMAP_THRESHOLD` (-3).
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, ownMappingFrom)
        _ = mallopt(-1, keptFreeMemory)
        #endif
    }
}
