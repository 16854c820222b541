public import PollenCore
import SwiftProtobuf

/// The shape of a message's object graph (Flower's `ObjectTree`): each object's id and its children's trees.
public struct ObjectTree: Sendable, Equatable {
    public var id: ObjectID
    public var children: [ObjectTree]

    public init(id: ObjectID, children: [ObjectTree] = []) {
        self.id = id
        self.children = children
    }

    /// Every id in the tree, children before parents (the order objects are pushed and pulled in), each once.
    public var postOrder: [ObjectID] {
        var seen = Set<ObjectID>()
        var order = [ObjectID]()
        func visit(_ node: ObjectTree) {
            for child in node.children { visit(child) }
            if seen.insert(node.id).inserted { order.append(node.id) }
        }
        visit(self)
        return order
    }

    /// Flower's `ObjectTree`.
    public var proto: Flwr_Proto_ObjectTree {
        .with {
            $0.objectID = id.rawValue
            $0.children = children.map(\.proto)
        }
    }

    /// The tree of a Flower `ObjectTree`.
    ///
    /// - Throws: `WireError.invalidObject` for an id that is not a SHA-256 in hex, or a tree deeper than a
    ///   message's (Message, RecordDict, ArrayRecord, Array, ArrayChunk).
    public init(proto: Flwr_Proto_ObjectTree) throws {
        try self.init(proto: proto, depth: 0)
    }

    private init(proto: Flwr_Proto_ObjectTree, depth: Int) throws {
        let id = ObjectID(proto.objectID)
        guard id.isWellFormed else {
            throw WireError(code: .invalidObject, message: "object tree holds '\(proto.objectID)', which is not a SHA-256 in hex")
        }
        guard depth < 8 else { throw WireError(code: .invalidObject, message: "object tree is deeper than any message") }
        self.id = id
        children = try proto.children.map { try ObjectTree(proto: $0, depth: depth + 1) }
    }
}
