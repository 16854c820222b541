import Foundation
import PollenCore
import Synchronization

/// The private folders in which a SuperNode exchanges files with its ClientApp processes, kept from one message
/// to the next.
///
/// Writing 100 MB into a new file costs the kernel 100 MB of fresh pages; overwriting a file of that size reuses
/// its pages (measured here: a ClientApp process answering a 100 MB instruction took 60–240 ms with a new reply
/// file, 40 ms with last round's). So a slot's files stay between messages and are overwritten in place, and
/// are emptied once the slot has been idle for `idleSeconds`, so that an idle node holds no copy of a model. A
/// slot whose message failed is removed rather than reused, so that whatever a failing child left in it (or a
/// cleaner removed from it) cannot break the next message.
///
/// Each instance owns a folder `pollen-clientapp-<pid>-<uuid>` (mode 0700) in the temporary folder, with one
/// numbered slot per message in flight, and a folder of the same name in shared memory (`/dev/shm`, where there is
/// one) for the slots' scratch files (`ScratchArena`), one per slot, holding one run's data at a time. The folders
/// are removed by `removeAll` (a SuperNode's shutdown) or when the instance is released; such folders of this user
/// left by a SuperNode that no longer runs (killed with SIGKILL) are removed when the next one creates its own.
final class ExchangeSlots: Sendable {
    /// A slot's files.
    struct Slot: Sendable {
        let folder: String
        /// The folder in shared memory for the slot's scratch file, made when first needed; `nil` without one.
        let scratchFolder: String?
        /// The `removeAll` generation the slot belongs to.
        let generation: Int
        /// The use after which the slot was last given back.
        var lastUse = 0
        var input: String { "\(folder)/in" }
        var output: String { "\(folder)/out" }
        var log: String { "\(folder)/log" }
    }

    private struct State {
        var folder: String?
        var free: [Slot] = []
        var created = 0
        var uses = 0
        var generation = 0
    }

    /// Seconds a slot stays unused before its files are emptied.
    let idleSeconds: Double
    private let parent: String
    /// Where scratch files go: shared memory, whose pages a ClientApp maps without the write-back bookkeeping of
    /// a file on disk; `nil` where there is none.
    private let scratchParent: String?
    private let prefix = "pollen-clientapp-\(getpid())-"
    private let state = Mutex(State())

    init(
        parent: String = FileManager.default.temporaryDirectory.path,
        scratchParent: String? = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : nil,
        idleSeconds: Double = 30
    ) {
        self.parent = parent
        self.scratchParent = scratchParent
        self.idleSeconds = idleSeconds
    }

    deinit { removeAll() }

    /// Removes the folder and every slot's files (a later message creates them again); slots in use are removed,
    /// not reused, when their message ends.
    func removeAll() {
        let folder = state.withLock { state in
            defer { state = State(generation: state.generation + 1) }
            return state.folder
        }
        if let folder {
            try? FileManager.default.removeItem(atPath: folder)
            if let scratch = scratchFolder(of: folder) { try? FileManager.default.removeItem(atPath: scratch) }
        }
    }

    /// A scratch file of `byteCount` bytes for a message of `run` in `slot`, holding nothing of another run; `nil`
    /// when there is no shared memory or the file cannot be made (the ClientApp then uses ordinary memory).
    func scratch(in slot: Slot, run: RunID, byteCount: Int) -> String? {
        guard byteCount > 0, let folder = slot.scratchFolder else { return nil }
        let path = "\(folder)/\(run.rawValue)"
        let files = FileManager.default
        if access(folder, W_OK) != 0 {
            guard let root = scratchFolder(of: URL(fileURLWithPath: slot.folder).deletingLastPathComponent().path) else { return nil }
            if access(root, W_OK) != 0, (try? Self.createPrivateFolder(root)) == nil { return nil }
            guard (try? Self.createPrivateFolder(folder)) != nil else { return nil }
        }
        // Another run's file goes: its pages held that run's data.
        for name in (try? files.contentsOfDirectory(atPath: folder)) ?? [] where name != String(run.rawValue) {
            try? files.removeItem(atPath: "\(folder)/\(name)")
        }
        let file = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard file >= 0 else { return nil }
        defer { close(file) }
        guard ftruncate(file, off_t(byteCount)) == 0 else {
            unlink(path)
            return nil
        }
        return path
    }

    /// The folder in shared memory matching the exchange folder `folder`.
    private func scratchFolder(of folder: String) -> String? {
        scratchParent.map { "\($0)/\(URL(fileURLWithPath: folder).lastPathComponent)" }
    }

    /// Runs `body` with a slot no other call uses meanwhile.
    func withSlot<R: Sendable>(_ body: (Slot) async throws -> R) async throws -> R {
        let slot = try take()
        do {
            let result = try await body(slot)
            give(slot)
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: slot.folder)
            if let scratch = slot.scratchFolder { try? FileManager.default.removeItem(atPath: scratch) }
            throw error
        }
    }

    private func take() throws -> Slot {
        if state.withLock({ $0.folder == nil }) {
            for folder in [parent, scratchParent].compactMap({ $0 }) { Self.removeAbandonedFolders(in: folder) }
        }
        return try state.withLock { state in
            while let slot = state.free.popLast() {
                // A slot whose folder went (a temporary-folder cleaner) is not handed out.
                if access(slot.folder, W_OK) == 0 { return slot }
            }
            let folder: String
            if let existing = state.folder, access(existing, W_OK) == 0 {
                folder = existing
            } else {
                folder = "\(parent)/\(prefix)\(UUID().uuidString)"
                try Self.createPrivateFolder(folder)
                state.folder = folder
            }
            state.created += 1
            let slot = Slot(
                folder: "\(folder)/\(state.created)",
                scratchFolder: scratchFolder(of: folder).map { "\($0)/\(state.created)" },
                generation: state.generation
            )
            try Self.createPrivateFolder(slot.folder)
            return slot
        }
    }

    private func give(_ slot: Slot) {
        let given: Slot? = state.withLock { state in
            guard slot.generation == state.generation else { return nil }
            state.uses += 1
            var slot = slot
            slot.lastUse = state.uses
            state.free.append(slot)
            return slot
        }
        guard let given else {
            try? FileManager.default.removeItem(atPath: slot.folder)
            if let scratch = slot.scratchFolder { try? FileManager.default.removeItem(atPath: scratch) }
            return
        }
        let idleSeconds = idleSeconds
        Task.detached { [weak self] in
            try? await Task.sleep(for: .seconds(idleSeconds))
            self?.emptyIfIdle(given)
        }
    }

    /// Empties `slot`'s files if it is still free and unused since it was given back.
    private func emptyIfIdle(_ slot: Slot) {
        state.withLock { state in
            guard state.free.contains(where: { $0.folder == slot.folder && $0.lastUse == slot.lastUse }) else { return }
            for path in [slot.input, slot.output, slot.log] { truncate(path, 0) }
            if let scratch = slot.scratchFolder { try? FileManager.default.removeItem(atPath: scratch) }
        }
    }

    private static func createPrivateFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw IsolationError("cannot create the ClientApp exchange folder '\(path)': \(error.localizedDescription)")
        }
    }

    /// Removes `pollen-clientapp-<pid>-…` folders of processes that no longer run: only real folders (not links)
    /// that this user owns and nobody else may enter, as SuperNodes create them.
    private static func removeAbandonedFolders(in parent: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names where name.hasPrefix("pollen-clientapp-") {
            let fields = name.dropFirst("pollen-clientapp-".count).split(separator: "-", maxSplits: 1)
            guard fields.count == 2, let pid = pid_t(fields[0]), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = "\(parent)/\(name)"
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == geteuid(), status.st_mode & 0o077 == 0
            else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
