public import PollenCore
public import PollenWire

/// What a store knows of an object.
public enum ObjectState: Sendable, Equatable {
    /// The store has never heard of it.
    case unknown
    /// A message that refers to it was registered, but its bytes have not arrived.
    case pending
    /// The store holds it.
    case available(FlowerObject)
}

/// Content-addressed objects, shared by every message and run that refers to them (Flower's `ObjectStore`).
///
/// A message's object tree is registered first; the store answers with the objects it still lacks, so a sender
/// uploads only those (deduplication across messages and runs). Each object counts the registered parents that
/// refer to it; deleting a message once its recipient has confirmed it removes the message and every object no
/// other message still refers to.
public protocol ObjectStore: Sendable {
    /// Registers `tree` (a message's objects) for `runID`; returns the ids whose bytes the store still needs,
    /// children before parents.
    func preregister(runID: RunID, tree: ObjectTree) async throws -> [ObjectID]

    /// Stores `object` if it was registered and its bytes have not arrived yet; returns whether it was stored.
    ///
    /// `object` was validated when it was built (its bytes hash to its id); an object nobody registered is refused,
    /// so a client cannot fill the store with data no message refers to.
    func put(_ object: FlowerObject) async throws -> Bool

    /// What the store knows of `id`.
    func get(_ id: ObjectID) async throws -> ObjectState

    /// Whether the bytes of every one of `ids` are in the store (without reading them).
    func hasBytes(of ids: [ObjectID]) async throws -> Bool

    /// Whether `id` is registered (its bytes here or awaited), as an object of `runID` when one is given, without
    /// reading its bytes.
    func contains(_ id: ObjectID, inRun runID: RunID?) async throws -> Bool

    /// What the store knows of `id` as an object of `runID`: `.unknown` when no message of that run refers to it, so
    /// a node can fetch only what the runs it takes part in hold.
    func get(_ id: ObjectID, inRun runID: RunID) async throws -> ObjectState

    /// Deletes `id`, unless a registered parent still refers to it, and, recursively, every child no other
    /// registered parent refers to.
    func delete(_ id: ObjectID) async throws

    /// Deletes every object registered for `runID` that no other run refers to.
    func deleteObjects(inRun runID: RunID) async throws

    /// The number of objects known (pending or available), for tests and metrics.
    func objectCount() async throws -> Int
}
