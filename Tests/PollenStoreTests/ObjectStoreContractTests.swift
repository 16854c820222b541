import Foundation
import PollenCore
import PollenStore
import PollenWire
import Testing

/// The implementations every `ObjectStore` contract test runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory
    case sqlite

    var testDescription: String { rawValue }

    func makeObjectStore() throws -> any ObjectStore {
        switch self {
        case .memory: InMemoryObjectStore()
        case .sqlite: SQLiteObjectStore(database: try SQLiteDatabase(path: temporaryDatabasePath()))
        }
    }
}

func temporaryDatabasePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("pollen-store-\(UUID().uuidString)/state.db").path
}

/// A model broadcast: the same content sent to two nodes gives two message objects sharing every other object.
func broadcast() throws -> (first: EncodedMessage, second: EncodedMessage) {
    var content = RecordDict()
    content[arrays: "arrays"] = ["w": try Tensor((0..<300).map(Float.init))]
    content[config: "config"] = ["server-round": 1]
    let first = try MessageCodec.encode(Message(content: content, destination: NodeID(10), type: .train), chunkBytes: 512)
    let second = try MessageCodec.encode(Message(content: content, destination: NodeID(11), type: .train), chunkBytes: 512)
    return (first, second)
}

@Suite struct ObjectStoreContractTests {
    @Test(arguments: StoreKind.allCases)
    func registersOnceAndAsksOnlyForWhatItLacks(kind: StoreKind) async throws {
        let store = try kind.makeObjectStore()
        let (first, second) = try broadcast()
        #expect(try await store.contains(first.root, inRun: nil) == false)
        let needed = try await store.preregister(runID: RunID(1), tree: first.tree)
        #expect(needed == first.tree.postOrder)
        // Registered, bytes awaited: known, in its run only.
        #expect(try await store.contains(first.root, inRun: nil))
        #expect(try await store.contains(first.root, inRun: RunID(1)))
        #expect(try await store.contains(first.root, inRun: RunID(2)) == false)
        for object in first.objects { #expect(try await store.put(object)) }
        // The second message shares everything but its own Message object.
        #expect(try await store.preregister(runID: RunID(1), tree: second.tree) == [second.root])
        // Registering again asks for nothing more once the bytes are there.
        #expect(try await store.preregister(runID: RunID(1), tree: first.tree) == [])
    }

    @Test(arguments: StoreKind.allCases)
    func refusesObjectsNobodyRegisteredAndDuplicates(kind: StoreKind) async throws {
        let store = try kind.makeObjectStore()
        let (first, _) = try broadcast()
        #expect(try await store.put(first.objects[0]) == false)
        _ = try await store.preregister(runID: RunID(1), tree: first.tree)
        #expect(try await store.get(first.root) == .pending)
        #expect(try await store.put(first.objects[0]))
        #expect(try await store.put(first.objects[0]) == false)
        #expect(try await store.get(first.objects[0].id) == .available(first.objects[0]))
        #expect(try await store.get(ObjectID(String(repeating: "0", count: 64))) == .unknown)
        // Within a run, only that run's objects are known.
        #expect(try await store.get(first.objects[0].id, inRun: RunID(1)) == .available(first.objects[0]))
        #expect(try await store.get(first.root, inRun: RunID(1)) == .pending)
        #expect(try await store.get(first.objects[0].id, inRun: RunID(2)) == .unknown)
        #expect(try await store.hasBytes(of: [first.objects[0].id]))
        #expect(try await store.hasBytes(of: [first.objects[0].id, first.root]) == false)
    }

    @Test(arguments: StoreKind.allCases)
    func deletingAConfirmedMessageKeepsWhatOthersStillUse(kind: StoreKind) async throws {
        let store = try kind.makeObjectStore()
        let (first, second) = try broadcast()
        for message in [first, second] {
            _ = try await store.preregister(runID: RunID(1), tree: message.tree)
            for object in message.objects { _ = try await store.put(object) }
        }
        let shared = first.objects.count - 1
        #expect(try await store.objectCount() == shared + 2)
        try await store.delete(first.root)
        #expect(try await store.objectCount() == shared + 1)
        #expect(try await store.get(first.root) == .unknown)
        let lookup: [ObjectID: FlowerObject] = Dictionary(uniqueKeysWithValues: second.objects.map { ($0.id, $0) })
        for id in second.tree.postOrder {
            #expect(try await store.get(id) == .available(lookup[id]!))
        }
        try await store.delete(second.root)
        #expect(try await store.objectCount() == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func deletingARunKeepsObjectsOtherRunsUse(kind: StoreKind) async throws {
        let store = try kind.makeObjectStore()
        let (first, second) = try broadcast()
        _ = try await store.preregister(runID: RunID(1), tree: first.tree)
        _ = try await store.preregister(runID: RunID(2), tree: second.tree)
        try await store.deleteObjects(inRun: RunID(1))
        #expect(try await store.get(first.root) == .unknown)
        #expect(try await store.get(second.root) == .pending)
        #expect(try await store.objectCount() == second.objects.count)
    }
}

@Suite struct SQLiteDurabilityTests {
    @Test func writesAreDurableAndSurviveReopening() async throws {
        let path = temporaryDatabasePath()
        let (first, _) = try broadcast()
        do {
            let database = try SQLiteDatabase(path: path)
            #expect(try database.synchronousLevel() == 2) // FULL
            let store = SQLiteObjectStore(database: database)
            _ = try await store.preregister(runID: RunID(1), tree: first.tree)
            for object in first.objects { _ = try await store.put(object) }
        }
        let reopened = SQLiteObjectStore(database: try SQLiteDatabase(path: path))
        #expect(try await reopened.get(first.root) == .available(first.objects.last!))
        #expect(try await reopened.objectCount() == first.objects.count)
    }

    @Test func anUnopenableDatabaseNamesThePath() {
        let error = #expect(throws: StoreError.self) { try SQLiteDatabase(path: "/proc/pollen/state.db") }
        #expect(error?.message.contains("/proc/pollen/state.db") == true)
    }
}
