public import PollenCore
public import PollenWire

/// An `ObjectStore` in memory, for tests and for daemons started with `--database :memory:`.
public actor InMemoryObjectStore: ObjectStore {
    private struct Entry {
        var object: FlowerObject?
        var children: [ObjectID]
        var references = 0
        var runs = Set<RunID>()
    }

    private var entries: [ObjectID: Entry] = [:]

    public init() {}

    public func preregister(runID: RunID, tree: ObjectTree) -> [ObjectID] {
        var needed = [ObjectID]()
        var visited = Set<ObjectID>()
        func visit(_ node: ObjectTree) {
            guard visited.insert(node.id).inserted else { return }
            for child in node.children { visit(child) }
            if entries[node.id] == nil {
                entries[node.id] = Entry(object: nil, children: node.children.map(\.id))
                for child in Set(node.children.map(\.id)) { entries[child]?.references += 1 }
            }
            entries[node.id]!.runs.insert(runID)
            if entries[node.id]!.object == nil { needed.append(node.id) }
        }
        visit(tree)
        return needed
    }

    public func put(_ object: FlowerObject) -> Bool {
        guard let entry = entries[object.id], entry.object == nil else { return false }
        entries[object.id]!.object = object
        return true
    }

    public func get(_ id: ObjectID) -> ObjectState {
        guard let entry = entries[id] else { return .unknown }
        return entry.object.map(ObjectState.available) ?? .pending
    }

    public func hasBytes(of ids: [ObjectID]) -> Bool {
        ids.allSatisfy { entries[$0]?.object != nil }
    }

    public func contains(_ id: ObjectID, inRun runID: RunID?) -> Bool {
        guard let entry = entries[id] else { return false }
        return runID.map { entry.runs.contains($0) } ?? true
    }

    public func get(_ id: ObjectID, inRun runID: RunID) -> ObjectState {
        guard entries[id]?.runs.contains(runID) == true else { return .unknown }
        return get(id)
    }

    public func delete(_ id: ObjectID) {
        // An object another registered parent still refers to stays.
        guard let entry = entries[id], entry.references <= 0 else { return }
        entries[id] = nil
        for child in Set(entry.children) {
            guard entries[child] != nil else { continue }
            entries[child]!.references -= 1
            if entries[child]!.references <= 0 { delete(child) }
        }
    }

    public func deleteObjects(inRun runID: RunID) {
        for (id, entry) in entries where entry.runs.contains(runID) {
            entries[id]?.runs.remove(runID)
            if entries[id]?.runs.isEmpty == true { entries[id] = nil }
        }
    }

    public func objectCount() -> Int { entries.count }
}
