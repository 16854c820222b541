import Foundation
import Synchronization

/// The private folders in which a SuperNode exchanges files with its ClientApp processes, kept from one message
/// to the next.
///
/// Writing 100 MB into a new file costs the kernel 100 MB of fresh pages; overwriting a file of that size reuses
/// its pages (measured here: a ClientApp process answering a 100 MB instruction took 60–240 ms with a new reply
/// file, 40 ms with last round's). So a slot's files stay between messages and are overwritten in place, and
/// are emptied once the slot has been idle for `idleSeconds`, so that an idle node holds no copy of a model.
///
/// Each instance owns a folder `pollen-clientapp-<pid>-<uuid>` (mode 0700) in the temporary folder, with one
/// numbered slot per message in flight. The folder is removed by `removeAll` (a SuperNode's shutdown) or when the
/// instance is released; folders left by a SuperNode that no longer runs (killed with SIGKILL) are removed when
/// the next one creates its own.
final class ExchangeSlots: Sendable {
    /// A slot's files.
    struct Slot: Sendable {
        let folder: String
        var input: String { "\(folder)/in" }
        var output: String { "\(folder)/out" }
        var log: String { "\(folder)/log" }
    }

    /// Seconds a slot stays unused before its files are emptied.
    let idleSeconds: Double
    private let parent: String
    private let prefix = "pollen-clientapp-\(getpid())-"
    private let state: Mutex<(folder: String?, free: [Slot], created: Int, uses: Int)> = Mutex((nil, [], 0, 0))

    init(parent: String = FileManager.default.temporaryDirectory.path, idleSeconds: Double = 30) {
        self.parent = parent
        self.idleSeconds = idleSeconds
    }

    deinit { removeAll() }

    /// Removes the folder and every slot's files (a later message creates them again).
    func removeAll() {
        let folder = state.withLock { state in
            defer { state = (nil, [], 0, state.uses + 1) }
            return state.folder
        }
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// Runs `body` with a slot no other call uses meanwhile.
    func withSlot<R: Sendable>(_ body: (Slot) async throws -> R) async throws -> R {
        let slot = try take()
        defer { give(slot) }
        return try await body(slot)
    }

    private func take() throws -> Slot {
        try state.withLock { state in
            if let slot = state.free.popLast() { return slot }
            let folder: String
            if let existing = state.folder {
                folder = existing
            } else {
                Self.removeAbandonedFolders(in: parent)
                folder = "\(parent)/\(prefix)\(UUID().uuidString)"
                try Self.createPrivateFolder(folder)
                state.folder = folder
            }
            state.created += 1
            let slot = Slot(folder: "\(folder)/\(state.created)")
            try Self.createPrivateFolder(slot.folder)
            return slot
        }
    }

    private func give(_ slot: Slot) {
        let use = state.withLock { state in
            state.free.append(slot)
            state.uses += 1
            return state.uses
        }
        let idleSeconds = idleSeconds
        Task.detached { [weak self] in
            try? await Task.sleep(for: .seconds(idleSeconds))
            self?.emptyIfIdle(slot, since: use)
        }
    }

    /// Empties `slot`'s files if nothing used any slot after use number `use` and the slot is still free.
    private func emptyIfIdle(_ slot: Slot, since use: Int) {
        state.withLock { state in
            guard state.uses == use, state.free.contains(where: { $0.folder == slot.folder }) else { return }
            for path in [slot.input, slot.output, slot.log] { truncate(path, 0) }
        }
    }

    private static func createPrivateFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw IsolationError("cannot create the ClientApp exchange folder '\(path)': \(error.localizedDescription)")
        }
    }

    /// Removes `pollen-clientapp-<pid>-…` folders of processes that no longer run.
    private static func removeAbandonedFolders(in parent: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names where name.hasPrefix("pollen-clientapp-") {
            let fields = name.dropFirst("pollen-clientapp-".count).split(separator: "-", maxSplits: 1)
            guard fields.count == 2, let pid = pid_t(fields[0]), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: "\(parent)/\(name)")
        }
    }
}
