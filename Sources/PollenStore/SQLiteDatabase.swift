public import GRDB
import Foundation

/// One SQLite file per daemon: opened in WAL mode with full durability, its schema migrated at open.
///
/// Every write is a transaction that SQLite has synced to disk before it returns, so a daemon killed at any
/// moment (SIGKILL, power loss) reopens with every write it acknowledged.
public struct SQLiteDatabase: Sendable {
    /// The connection pool (one writer, concurrent readers).
    public let writer: any DatabaseWriter

    /// The path that opens a database in memory, gone when the daemon stops (Flower's `:flwr-in-memory:`).
    public static let inMemoryPath = ":memory:"

    /// Opens (creating if needed) the database at `path`, or one in memory for `SQLiteDatabase.inMemoryPath`, and
    /// migrates it.
    ///
    /// - Throws: `StoreError.unavailable` naming the path when the file cannot be opened or migrated.
    public init(path: String) throws {
        if path == Self.inMemoryPath {
            do {
                let queue = try DatabaseQueue()
                try SQLiteDatabase.migrator.migrate(queue)
                writer = queue
            } catch {
                throw StoreError(code: .unavailable, message: "cannot create an in-memory database: \(error)")
            }
            return
        }
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pool = try DatabasePool(path: path)
            // GRDB sets `synchronous = NORMAL` while it enables WAL, after `prepareDatabase` runs; FULL is set here,
            // on the open pool, so that a commit is on disk before it is acknowledged.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            try SQLiteDatabase.migrator.migrate(pool)
            writer = pool
        } catch {
            throw StoreError(code: .unavailable, message: "cannot open the database '\(path)': \(error)")
        }
    }

    /// The `synchronous` setting in force (2 is FULL), for tests that guard durability.
    public func synchronousLevel() throws -> Int {
        try writer.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("objects") { db in
            try db.execute(sql: """
                CREATE TABLE object (
                    id TEXT PRIMARY KEY NOT NULL,
                    content BLOB,
                    refs INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE object_child (
                    parent TEXT NOT NULL REFERENCES object(id) ON DELETE CASCADE,
                    child TEXT NOT NULL,
                    PRIMARY KEY (parent, child)
                );
                CREATE TABLE run_object (
                    run_id INTEGER NOT NULL,
                    object_id TEXT NOT NULL REFERENCES object(id) ON DELETE CASCADE,
                    PRIMARY KEY (run_id, object_id)
                );
                CREATE INDEX run_object_by_object ON run_object(object_id);
                """)
        }
        migrator.registerMigration("link state") { db in
            try db.execute(sql: """
                CREATE TABLE node (
                    id INTEGER PRIMARY KEY NOT NULL,
                    public_key BLOB NOT NULL UNIQUE,
                    status TEXT NOT NULL,
                    heartbeat_interval REAL NOT NULL DEFAULT 0,
                    online_until REAL NOT NULL DEFAULT 0,
                    registered_at REAL NOT NULL
                );
                CREATE TABLE run (
                    id INTEGER PRIMARY KEY NOT NULL,
                    status TEXT NOT NULL,
                    sub_status TEXT NOT NULL DEFAULT '',
                    details TEXT NOT NULL DEFAULT '',
                    config BLOB NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE instruction (
                    id TEXT PRIMARY KEY NOT NULL,
                    run_id INTEGER NOT NULL,
                    destination INTEGER NOT NULL,
                    metadata BLOB NOT NULL,
                    tree BLOB NOT NULL,
                    expires_at REAL NOT NULL,
                    delivered_at REAL
                );
                CREATE INDEX instruction_by_destination ON instruction(destination, delivered_at);
                CREATE TABLE reply (
                    id TEXT PRIMARY KEY NOT NULL,
                    reply_to TEXT NOT NULL UNIQUE REFERENCES instruction(id) ON DELETE CASCADE,
                    message BLOB NOT NULL,
                    tree BLOB
                );
                CREATE TABLE run_log (
                    run_id INTEGER NOT NULL,
                    at REAL NOT NULL,
                    line TEXT NOT NULL
                );
                CREATE INDEX run_log_by_run ON run_log(run_id, at);
                """)
        }
        // Runs remember the Control API account that submitted them (empty for runs from before accounts).
        migrator.registerMigration("run owner") { db in
            try db.execute(sql: "ALTER TABLE run ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        }
        // Runs of Flower App Bundles (`flwr run`): the bundles by SHA-256, and each run's (empty for built-in apps).
        migrator.registerMigration("flower apps") { db in
            try db.execute(sql: "CREATE TABLE flower_app (hash TEXT PRIMARY KEY NOT NULL, content BLOB NOT NULL)")
            for column in ["fab_hash", "fab_id", "fab_version"] {
                try db.execute(sql: "ALTER TABLE run ADD COLUMN \(column) TEXT NOT NULL DEFAULT ''")
            }
        }
        // When each run started running and finished (0 until then), for Flower's `flwr ls`.
        migrator.registerMigration("run times") { db in
            for column in ["running_at", "finished_at"] {
                try db.execute(sql: "ALTER TABLE run ADD COLUMN \(column) REAL NOT NULL DEFAULT 0")
            }
        }
        return migrator
    }
}

/// The error thrown by `PollenStore`.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The database cannot be opened, read or written.
        public static let unavailable = Code("unavailable")
        /// Stored data is damaged (an object whose bytes no longer hash to its id).
        public static let corrupt = Code("corrupt")
        /// The request conflicts with the state (a public key already registered, a node already online).
        public static let conflict = Code("conflict")
        /// The node, run or message does not exist.
        public static let notFound = Code("not found")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
