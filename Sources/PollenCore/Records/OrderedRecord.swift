internal import OrderedCollections

/// A record: string keys mapped to values, kept in insertion order.
///
/// The shape shared by Flower's `ArrayRecord`, `MetricRecord` and `ConfigRecord`; use those names
/// (`ArrayRecord` is `OrderedRecord<Tensor>`). Order matters: a model's layers travel, and are averaged, in the
/// order they were added.
public struct OrderedRecord<Value: Sendable & Equatable>: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    private var entries: OrderedDictionary<String, Value>

    /// An empty record.
    public init() { entries = [:] }

    /// A record of `pairs`, in their order; a repeated key keeps its last value at its first position.
    public init(_ pairs: some Sequence<(String, Value)>) {
        entries = [:]
        for (key, value) in pairs { entries[key] = value }
    }

    public init(dictionaryLiteral elements: (String, Value)...) {
        self.init(elements)
    }

    /// The value for `key`; setting `nil` removes it, setting a new key appends it.
    public subscript(key: String) -> Value? {
        get { entries[key] }
        set { entries[key] = newValue }
    }

    /// The keys, in order.
    public var keys: [String] { Array(entries.keys) }
    /// The values, in key order.
    public var values: [Value] { Array(entries.values) }
    /// The number of entries.
    public var count: Int { entries.count }
    /// Whether the record has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// Iterates over `(key, value)` pairs in order.
    public func makeIterator() -> some IteratorProtocol<(key: String, value: Value)> {
        entries.lazy.map { (key: $0.key, value: $0.value) }.makeIterator()
    }
}

/// Flower's `ArrayRecord`: named tensors in order, typically a model's parameters.
public typealias ArrayRecord = OrderedRecord<Tensor>

/// Flower's `MetricRecord`: named numbers (and lists of numbers) a node reports, such as `num-examples`.
public typealias MetricRecord = OrderedRecord<MetricValue>

/// Flower's `ConfigRecord`: named settings (numbers, booleans, strings, bytes and lists of them).
public typealias ConfigRecord = OrderedRecord<ConfigValue>

extension OrderedRecord where Value == Tensor {
    /// The total number of elements across all tensors.
    public var elementCount: Int { values.reduce(0) { $0 + $1.count } }
}
