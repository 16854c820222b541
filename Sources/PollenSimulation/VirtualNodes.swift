import PollenCore
import PollenKernels
import Synchronization

/// The virtual SuperNodes of a simulation: their ids, their configuration, and the state their ClientApp keeps.
///
/// A node that is not handling a message costs an id and a dictionary slot; its config is computed when needed,
/// and its `Context.state` is stored only if the app wrote something there.
final class VirtualNodes: Sendable {
    let ids: [NodeID]
    private let indexByID: [NodeID: Int]
    private let states = Mutex<[Int: RecordDict]>([:])

    /// `count` nodes with distinct random 64-bit ids drawn from `seed` (as Flower's ids are random), none of them
    /// the SuperLink's id.
    init(count: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed, stream: [0x6E6F_6465]) // "node"
        var ids = [NodeID]()
        var taken = Set<NodeID>([NodeID(0), .superLink])
        ids.reserveCapacity(count)
        while ids.count < count {
            let id = NodeID(generator.next() >> 1) // Flower keeps node ids below 2^63.
            if taken.insert(id).inserted { ids.append(id) }
        }
        self.ids = ids
        indexByID = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
    }

    func index(of id: NodeID) -> Int? { indexByID[id] }

    func state(of index: Int) -> RecordDict {
        states.withLock { $0[index] } ?? RecordDict()
    }

    func setState(_ state: RecordDict, of index: Int) {
        states.withLock { $0[index] = state.isEmpty ? nil : state }
    }
}
