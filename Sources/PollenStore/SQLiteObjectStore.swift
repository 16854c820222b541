public import PollenCore
public import PollenWire
import GRDB
import NIOCore
import Foundation
import Synchronization

/// An `ObjectStore` in a SQLite file, durable across restarts.
///
/// SQLite keeps no checksum of its pages, and a file can be damaged (a failing disk, a restore gone wrong, a hand
/// edit) while the SuperLink is down; nodes and ServerApps trust the objects a SuperLink serves without hashing
/// them again. So an object this store did not put itself is hashed the first time it is read, and served only
/// if its bytes still hash to its id (a damaged one loses its bytes and waits for them again): a restarted
/// SuperLink hashes each object once, one that keeps running hashes none twice.
public struct SQLiteObjectStore: ObjectStore {
    private let database: SQLiteDatabase
    /// The objects whose bytes this store has put or checked since it was made.
    private let checked = CheckedObjects()

    /// A store in `database`.
    public init(database: SQLiteDatabase) { self.database = database }

    public func preregister(runID: RunID, tree: ObjectTree) async throws -> [ObjectID] {
        try await database.writer.write { db in
            var needed = [ObjectID]()
            var visited = Set<ObjectID>()
            func visit(_ node: ObjectTree) throws {
                guard visited.insert(node.id).inserted else { return }
                for child in node.children { try visit(child) }
                let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM object WHERE id = ?", arguments: [node.id.rawValue]) ?? false
                if !exists {
                    try db.execute(sql: "INSERT INTO object (id, content, refs) VALUES (?, NULL, 0)", arguments: [node.id.rawValue])
                    for child in Set(node.children.map(\.id)) {
                        try db.execute(sql: "INSERT INTO object_child (parent, child) VALUES (?, ?)", arguments: [node.id.rawValue, child.rawValue])
                        try db.execute(sql: "UPDATE object SET refs = refs + 1 WHERE id = ?", arguments: [child.rawValue])
                    }
                }
                try db.execute(
                    sql: "INSERT OR IGNORE INTO run_object (run_id, object_id) VALUES (?, ?)",
                    arguments: [Int64(bitPattern: runID.rawValue), node.id.rawValue]
                )
                let available = try Bool.fetchOne(db, sql: "SELECT content IS NOT NULL FROM object WHERE id = ?", arguments: [node.id.rawValue]) ?? false
                if !available { needed.append(node.id) }
            }
            try visit(tree)
            return needed
        }
    }

    public func put(_ object: FlowerObject) async throws -> Bool {
        let stored = try await database.writer.write { (db: Database) -> Bool in
            try db.execute(
                sql: "UPDATE object SET content = ? WHERE id = ? AND content IS NULL",
                arguments: [Data(object.bytes), object.id.rawValue]
            )
            return db.changesCount > 0
        }
        // Hashed when it was built (`FlowerObject(validating:)`).
        if stored { checked.insert(object.id) }
        return stored
    }

    public func get(_ id: ObjectID) async throws -> ObjectState {
        try await fetch(id, sql: "SELECT content FROM object WHERE id = ?", arguments: [id.rawValue])
    }

    public func hasBytes(of ids: [ObjectID]) async throws -> Bool {
        try await database.writer.read { db in
            try ids.allSatisfy { id in
                try Bool.fetchOne(db, sql: "SELECT content IS NOT NULL FROM object WHERE id = ?", arguments: [id.rawValue]) ?? false
            }
        }
    }

    public func contains(_ id: ObjectID, inRun runID: RunID?) async throws -> Bool {
        try await database.writer.read { db in
            if let runID {
                return try Bool.fetchOne(db, sql: "SELECT 1 FROM run_object WHERE object_id = ? AND run_id = ?", arguments: [
                    id.rawValue, Int64(bitPattern: runID.rawValue),
                ]) ?? false
            }
            return try Bool.fetchOne(db, sql: "SELECT 1 FROM object WHERE id = ?", arguments: [id.rawValue]) ?? false
        }
    }

    public func get(_ id: ObjectID, inRun runID: RunID) async throws -> ObjectState {
        try await fetch(id, sql: """
            SELECT content FROM object JOIN run_object ON run_object.object_id = object.id
            WHERE object.id = ? AND run_object.run_id = ?
            """, arguments: [id.rawValue, Int64(bitPattern: runID.rawValue)])
    }

    /// The state of `id` from a query that selects its content, or no row.
    private func fetch(_ id: ObjectID, sql: String, arguments: StatementArguments) async throws -> ObjectState {
        // nil: no such object; .some(nil): registered, bytes not yet here.
        let stored: Data?? = try await database.writer.read { db in
            guard let row = try Row.fetchOne(db, sql: sql, arguments: arguments) else { return nil }
            return .some(row["content"])
        }
        guard let stored else { return .unknown }
        guard let content = stored else { return .pending }
        let bytes = ByteBuffer(bytes: content)
        do {
            if checked.contains(id) { return .available(try FlowerObject(stored: bytes, id: id)) }
            let object = try FlowerObject(validating: bytes, expectedID: id)
            checked.insert(id)
            return .available(object)
        } catch {
            // Its bytes are let go: the object waits for them again, and the next push of it (a ServerApp sends what
            // the store lacks) repairs it.
            _ = try? await database.writer.write { db in
                try db.execute(sql: "UPDATE object SET content = NULL WHERE id = ?", arguments: [id.rawValue])
            }
            throw StoreError(code: .corrupt, message: """
                object \(id) in the SuperLink's database '\(database.writer.path)' was damaged (\(error)); it is not served \
                and waits to be pushed again. Check the disk, restore the database from a backup, or stop the runs that \
                need the object and submit them again
                """)
        }
    }

    public func delete(_ id: ObjectID) async throws {
        let deleted = try await database.writer.write { (db: Database) -> [ObjectID] in
            var deleted = [ObjectID]()
            try Self.delete(id, in: db, adding: &deleted)
            return deleted
        }
        checked.remove(deleted)
    }

    private static func delete(_ id: ObjectID, in db: Database, adding deleted: inout [ObjectID]) throws {
        let children = try String.fetchAll(db, sql: "SELECT child FROM object_child WHERE parent = ?", arguments: [id.rawValue])
        // An object another registered parent still refers to stays.
        try db.execute(sql: "DELETE FROM object WHERE id = ? AND refs <= 0", arguments: [id.rawValue])
        guard db.changesCount > 0 else { return }
        deleted.append(id)
        for child in children {
            try db.execute(sql: "UPDATE object SET refs = refs - 1 WHERE id = ?", arguments: [child])
            let references = try Int.fetchOne(db, sql: "SELECT refs FROM object WHERE id = ?", arguments: [child])
            if let references, references <= 0 { try delete(ObjectID(child), in: db, adding: &deleted) }
        }
    }

    public func deleteObjects(inRun runID: RunID) async throws {
        let deleted = try await database.writer.write { (db: Database) -> [ObjectID] in
            let run = Int64(bitPattern: runID.rawValue)
            try db.execute(sql: "DELETE FROM run_object WHERE run_id = ?", arguments: [run])
            let orphans = "FROM object WHERE id NOT IN (SELECT object_id FROM run_object)"
            let ids = try String.fetchAll(db, sql: "SELECT id " + orphans).map { ObjectID($0) }
            try db.execute(sql: "DELETE " + orphans)
            return ids
        }
        checked.remove(deleted)
    }

    public func objectCount() async throws -> Int {
        try await database.writer.read { (db: Database) -> Int in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM object") ?? 0 }
    }
}

/// The ids of objects whose bytes a store has hashed, shared by every copy of the store.
private final class CheckedObjects: Sendable {
    private let ids = Mutex(Set<ObjectID>())

    func contains(_ id: ObjectID) -> Bool { ids.withLock { $0.contains(id) } }
    func insert(_ id: ObjectID) { _ = ids.withLock { $0.insert(id) } }
    func remove(_ deleted: [ObjectID]) { ids.withLock { ids in for id in deleted { ids.remove(id) } } }
}
