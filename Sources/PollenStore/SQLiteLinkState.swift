public import PollenCore
import PollenWire
import Foundation
import GRDB
import NIOCore
import SwiftProtobuf

/// A `LinkState` in SQLite: durable in a file, or in memory with `SQLiteDatabase.inMemoryPath` (as Flower's
/// SuperLink keeps its state in SQLite either way).
public struct SQLiteLinkState: LinkState {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) { self.database = database }

    // MARK: Nodes

    public func registerNode(publicKey: [UInt8], now: Double) async throws -> NodeID {
        try await database.writer.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM node WHERE public_key = ?", arguments: [Data(publicKey)]) != nil {
                throw StoreError(code: .conflict, message: "this public key is already registered")
            }
            let id = try Self.freshID(in: db, table: "node")
            try db.execute(
                sql: "INSERT INTO node (id, public_key, status, registered_at) VALUES (?, ?, ?, ?)",
                arguments: [Int64(bitPattern: id), Data(publicKey), NodeStatus.registered.rawValue, now]
            )
            return NodeID(id)
        }
    }

    public func activateNode(publicKey: [UInt8], heartbeatInterval: Double, now: Double) async throws -> NodeID {
        try await database.writer.write { db in
            guard let node = try Self.node(in: db, sql: "public_key = ?", arguments: [Data(publicKey)], now: now) else {
                throw StoreError(code: .notFound, message: "no node is registered with this public key")
            }
            guard node.status == .registered || node.status == .offline else {
                throw StoreError(code: .conflict, message: "node \(node.id) is \(node.status.rawValue); it cannot be activated")
            }
            try Self.markOnline(node.id, interval: heartbeatInterval, now: now, in: db)
            return node.id
        }
    }

    public func deactivateNode(_ node: NodeID) async throws {
        try await database.writer.write { db in
            try db.execute(
                sql: "UPDATE node SET status = ?, online_until = 0 WHERE id = ? AND status = ?",
                arguments: [NodeStatus.offline.rawValue, Int64(bitPattern: node.rawValue), NodeStatus.online.rawValue]
            )
        }
    }

    public func unregisterNode(_ node: NodeID) async throws {
        try await database.writer.write { db in
            try db.execute(
                sql: "UPDATE node SET status = ?, online_until = 0 WHERE id = ?",
                arguments: [NodeStatus.unregistered.rawValue, Int64(bitPattern: node.rawValue)]
            )
            guard db.changesCount > 0 else { throw StoreError(code: .notFound, message: "node \(node) does not exist") }
        }
    }

    public func heartbeat(_ node: NodeID, heartbeatInterval: Double, now: Double) async throws -> Bool {
        try await database.writer.write { db in
            guard let info = try Self.node(in: db, sql: "id = ?", arguments: [Int64(bitPattern: node.rawValue)], now: now),
                  info.status != .unregistered, info.status != .registered
            else { return false }
            try Self.markOnline(node, interval: heartbeatInterval, now: now, in: db)
            return true
        }
    }

    public func node(_ id: NodeID, now: Double) async throws -> NodeInfo? {
        try await database.writer.read { db in
            try Self.node(in: db, sql: "id = ?", arguments: [Int64(bitPattern: id.rawValue)], now: now)
        }
    }

    public func node(publicKey: [UInt8], now: Double) async throws -> NodeInfo? {
        try await database.writer.read { db in
            try Self.node(in: db, sql: "public_key = ?", arguments: [Data(publicKey)], now: now)
        }
    }

    public func onlineNodes(now: Double) async throws -> [NodeID] {
        try await database.writer.read { db in
            try Int64.fetchAll(
                db, sql: "SELECT id FROM node WHERE status = ? AND online_until >= ? ORDER BY id",
                arguments: [NodeStatus.online.rawValue, now]
            ).map { NodeID(UInt64(bitPattern: $0)) }
        }
    }

    public func nodes(now: Double) async throws -> [NodeInfo] {
        try await database.writer.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM node ORDER BY registered_at, id").compactMap { id in
                try Self.node(in: db, sql: "id = ?", arguments: [id], now: now)
            }
        }
    }

    public func markAllNodesOffline() async throws {
        try await database.writer.write { db in
            try db.execute(
                sql: "UPDATE node SET status = ?, online_until = 0 WHERE status = ?",
                arguments: [NodeStatus.offline.rawValue, NodeStatus.online.rawValue]
            )
        }
    }

    private static func markOnline(_ node: NodeID, interval: Double, now: Double, in db: Database) throws {
        try db.execute(
            sql: "UPDATE node SET status = ?, heartbeat_interval = ?, online_until = ? WHERE id = ?",
            arguments: [NodeStatus.online.rawValue, interval, now + 2 * interval, Int64(bitPattern: node.rawValue)]
        )
    }

    /// The node matching `condition`; an online node whose time ran out reads as offline.
    private static func node(in db: Database, sql condition: String, arguments: StatementArguments, now: Double) throws -> NodeInfo? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM node WHERE \(condition)", arguments: arguments) else { return nil }
        var status = NodeStatus(rawValue: row["status"]) ?? .offline
        let onlineUntil: Double = row["online_until"]
        if status == .online && onlineUntil < now { status = .offline }
        return NodeInfo(
            id: NodeID(UInt64(bitPattern: row["id"])), publicKey: [UInt8](row["public_key"] as Data), status: status,
            heartbeatInterval: row["heartbeat_interval"], onlineUntil: onlineUntil, registeredAt: row["registered_at"]
        )
    }

    /// A random 64-bit id not in `table` and not 0 or 1 (1 is the SuperLink's own node id).
    private static func freshID(in db: Database, table: String) throws -> UInt64 {
        while true {
            let id = UInt64.random(in: 2...UInt64.max)
            if try Row.fetchOne(db, sql: "SELECT 1 FROM \(table) WHERE id = ?", arguments: [Int64(bitPattern: id)]) == nil { return id }
        }
    }

    // MARK: Runs

    public func createRun(config: ConfigRecord, owner: String, flowerApp: String?, now: Double) async throws -> RunID {
        let encoded = Data(try config.proto.serializedBytes() as [UInt8])
        return try await database.writer.write { db in
            if let flowerApp, try Bool.fetchOne(db, sql: "SELECT 1 FROM flower_app WHERE hash = ?", arguments: [flowerApp]) == nil {
                throw StoreError(code: .notFound, message: "no Flower App Bundle has the hash \(flowerApp)")
            }
            let id = try Self.freshID(in: db, table: "run")
            try db.execute(
                sql: "INSERT INTO run (id, status, config, created_at, owner, fab_hash) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [Int64(bitPattern: id), RunStatus.pending.phase, encoded, now, owner, flowerApp ?? ""]
            )
            return RunID(id)
        }
    }

    public func setFlowerAppMetadata(_ id: RunID, appID: String, version: String) async throws {
        try await database.writer.write { db in
            try db.execute(
                sql: "UPDATE run SET fab_id = ?, fab_version = ? WHERE id = ? AND fab_hash != ''",
                arguments: [appID, version, Int64(bitPattern: id.rawValue)]
            )
            guard db.changesCount > 0 else { throw StoreError(code: .notFound, message: "run \(id) is not a run of a Flower App Bundle") }
        }
    }

    public func storeFlowerApp(_ content: [UInt8]) async throws -> String {
        let hash = FlowerObject.hash(ByteBuffer(bytes: content)).rawValue
        try await database.writer.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO flower_app (hash, content) VALUES (?, ?)", arguments: [hash, Data(content)])
        }
        return hash
    }

    public func flowerApp(hash: String) async throws -> [UInt8]? {
        try await database.writer.read { db in
            try Data.fetchOne(db, sql: "SELECT content FROM flower_app WHERE hash = ?", arguments: [hash]).map { [UInt8]($0) }
        }
    }

    public func run(_ id: RunID) async throws -> RunInfo? {
        let row = try await database.writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [Int64(bitPattern: id.rawValue)]).map(RunRow.init)
        }
        return try row?.info()
    }

    public func runs() async throws -> [RunInfo] {
        try await database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY created_at, id").map(RunRow.init)
        }.map { try $0.info() }
    }

    public func setRunStatus(_ id: RunID, to status: RunStatus, now: Double) async throws {
        try await database.writer.write { db in
            guard let phase = try String.fetchOne(db, sql: "SELECT status FROM run WHERE id = ?", arguments: [Int64(bitPattern: id.rawValue)]) else {
                throw StoreError(code: .notFound, message: "run \(id) does not exist")
            }
            guard phase != "finished" else { throw StoreError(code: .conflict, message: "run \(id) has already finished") }
            try db.execute(
                sql: "UPDATE run SET status = ?, sub_status = ?, details = ? WHERE id = ?",
                arguments: [status.phase, status.subStatus, status.details, Int64(bitPattern: id.rawValue)]
            )
            if let column = ["running": "running_at", "finished": "finished_at"][status.phase] {
                try db.execute(sql: "UPDATE run SET \(column) = ? WHERE id = ?", arguments: [now, Int64(bitPattern: id.rawValue)])
            }
        }
    }

    /// A run's row, read in a transaction and decoded outside it.
    private struct RunRow: Sendable {
        var id: Int64, phase: String, subStatus: String, details: String, config: Data, createdAt: Double, owner: String
        var fabHash: String, fabID: String, fabVersion: String
        var runningAt: Double, finishedAt: Double
        init(_ row: Row) {
            id = row["id"]
            phase = row["status"]
            subStatus = row["sub_status"]
            details = row["details"]
            config = row["config"]
            createdAt = row["created_at"]
            owner = row["owner"]
            fabHash = row["fab_hash"]
            fabID = row["fab_id"]
            fabVersion = row["fab_version"]
            runningAt = row["running_at"]
            finishedAt = row["finished_at"]
        }
        func info() throws -> RunInfo {
            RunInfo(
                id: RunID(UInt64(bitPattern: id)), status: RunStatus(phase: phase, subStatus: subStatus, details: details),
                config: try ConfigRecord(proto: Flwr_Proto_ConfigRecord(serializedBytes: [UInt8](config))), createdAt: createdAt,
                owner: owner, flowerApp: fabHash.isEmpty ? nil : FlowerAppReference(hash: fabHash, id: fabID, version: fabVersion),
                runningAt: runningAt, finishedAt: finishedAt
            )
        }
    }

    // MARK: Messages

    public func storeInstruction(_ message: LinkMessage) async throws {
        guard let tree = message.tree else {
            throw StoreError(code: .conflict, message: "an instruction needs content (an object tree)")
        }
        let metadata = Data(try message.metadata.proto.serializedBytes() as [UInt8])
        let treeBytes = Data(try tree.proto.serializedBytes() as [UInt8])
        try await database.writer.write { db in
            try db.execute(
                sql: "INSERT INTO instruction (id, run_id, destination, metadata, tree, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    tree.id.rawValue, Int64(bitPattern: message.metadata.runID.rawValue),
                    Int64(bitPattern: message.metadata.destination.rawValue), metadata, treeBytes,
                    message.metadata.createdAt + message.metadata.ttlSeconds,
                ]
            )
        }
    }

    public func wasDelivered(_ id: MessageID, to node: NodeID) async throws -> Bool {
        try await database.writer.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM instruction WHERE id = ? AND destination = ? AND delivered_at IS NOT NULL",
                arguments: [id.rawValue, Int64(bitPattern: node.rawValue)]
            ) ?? false
        }
    }

    public func takeInstructions(for node: NodeID, limit: Int, now: Double) async throws -> [LinkMessage] {
        let rows = try await database.writer.write { db -> [(Data, Data)] in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT id, metadata, tree FROM instruction WHERE destination = ? AND delivered_at IS NULL AND expires_at > ? ORDER BY rowid LIMIT ?",
                arguments: [Int64(bitPattern: node.rawValue), now, limit]
            )
            for row in rows {
                try db.execute(sql: "UPDATE instruction SET delivered_at = ? WHERE id = ?", arguments: [now, row["id"] as String])
            }
            return rows.map { ($0["metadata"], $0["tree"]) }
        }
        return try rows.map { metadata, tree in
            LinkMessage(
                metadata: Message.Metadata(proto: try Flwr_Proto_Metadata(serializedBytes: [UInt8](metadata))),
                tree: try ObjectTree(proto: Flwr_Proto_ObjectTree(serializedBytes: [UInt8](tree)))
            )
        }
    }

    public func storeReply(_ message: LinkMessage, now: Double) async throws -> Bool {
        guard let replyTo = message.metadata.replyTo else { return false }
        var proto = Flwr_Proto_Message()
        proto.metadata = message.metadata.proto
        if let error = message.error { proto.error = error.proto }
        let bytes = Data(try proto.serializedBytes() as [UInt8])
        let tree = try message.tree.map { Data(try $0.proto.serializedBytes() as [UInt8]) }
        return try await database.writer.write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT destination, run_id, delivered_at FROM instruction WHERE id = ?", arguments: [replyTo.rawValue]
            ), row["delivered_at"] as Double? != nil,
                  UInt64(bitPattern: row["destination"]) == message.metadata.source.rawValue,
                  UInt64(bitPattern: row["run_id"]) == message.metadata.runID.rawValue
            else { return false }
            try db.execute(
                sql: "INSERT OR IGNORE INTO reply (id, reply_to, message, tree) VALUES (?, ?, ?, ?)",
                arguments: [message.metadata.messageID.rawValue, replyTo.rawValue, bytes, tree]
            )
            return db.changesCount > 0
        }
    }

    public func takeReplies(to instructions: [MessageID], run: RunID, now: Double) async throws -> [LinkMessage] {
        let found = try await database.writer.write { db -> [ReplyRow] in
            var found = [ReplyRow]()
            for id in instructions {
                guard let instruction = try Row.fetchOne(
                    db, sql: "SELECT metadata, destination, expires_at FROM instruction WHERE id = ? AND run_id = ?",
                    arguments: [id.rawValue, Int64(bitPattern: run.rawValue)]
                ) else { continue }
                if let reply = try Row.fetchOne(db, sql: "SELECT message, tree FROM reply WHERE reply_to = ?", arguments: [id.rawValue]) {
                    found.append(ReplyRow(instruction: instruction["metadata"], reply: reply["message"], tree: reply["tree"], failure: nil))
                } else if (instruction["expires_at"] as Double) <= now {
                    found.append(ReplyRow(instruction: instruction["metadata"], reply: nil, tree: nil, failure: MessageError(
                        code: .messageUnavailable, reason: "the instruction expired (its TTL ran out) before a reply arrived"
                    )))
                } else if let node = try Self.node(in: db, sql: "id = ?", arguments: [instruction["destination"] as Int64], now: now),
                          node.status == .online {
                    continue
                } else {
                    found.append(ReplyRow(instruction: instruction["metadata"], reply: nil, tree: nil, failure: MessageError(
                        code: .nodeUnavailable, reason: "the destination node is offline or unknown (its heartbeats stopped)"
                    )))
                }
                try db.execute(sql: "DELETE FROM instruction WHERE id = ?", arguments: [id.rawValue])
            }
            return found
        }
        return try found.map { try $0.message(now: now) }
    }

    /// An instruction with its reply, or with the failure the SuperLink makes up for it.
    private struct ReplyRow: Sendable {
        var instruction: Data
        var reply: Data?
        var tree: Data?
        var failure: MessageError?

        func message(now: Double) throws -> LinkMessage {
            if let reply {
                let proto = try Flwr_Proto_Message(serializedBytes: [UInt8](reply))
                return LinkMessage(
                    metadata: Message.Metadata(proto: proto.metadata),
                    tree: try tree.map { try ObjectTree(proto: Flwr_Proto_ObjectTree(serializedBytes: [UInt8]($0))) },
                    error: proto.hasError ? MessageError(proto: proto.error) : nil
                )
            }
            let metadata = Message.Metadata(proto: try Flwr_Proto_Metadata(serializedBytes: [UInt8](instruction)))
            var failed = Message(metadata: metadata, body: .error(failure!)).reply(error: failure!)
            failed.metadata.createdAt = now
            // The made-up reply gets the id its object would have, as every message does.
            let encoded = try MessageCodec.encode(failed)
            return LinkMessage(metadata: encoded.message.metadata, tree: encoded.tree, error: failure)
        }
    }

    // MARK: Logs

    public func appendLog(run: RunID, line: String, now: Double) async throws {
        try await database.writer.write { db in
            // Later than every line already written, whatever clock its writer read: a reader that has seen the
            // lines up to some time never misses one committed after it (`logs(run:after:)`).
            let last = try Double.fetchOne(db, sql: "SELECT MAX(at) FROM run_log WHERE run_id = ?", arguments: [Int64(bitPattern: run.rawValue)])
            let at = last.map { max(now, $0.nextUp) } ?? now
            try db.execute(sql: "INSERT INTO run_log (run_id, at, line) VALUES (?, ?, ?)", arguments: [Int64(bitPattern: run.rawValue), at, line])
        }
    }

    public func logs(run: RunID, after: Double) async throws -> [(at: Double, line: String)] {
        try await database.writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT at, line FROM run_log WHERE run_id = ? AND at > ? ORDER BY at, rowid",
                arguments: [Int64(bitPattern: run.rawValue), after]
            ).map { (at: $0["at"] as Double, line: $0["line"] as String) }
        }
    }
}
