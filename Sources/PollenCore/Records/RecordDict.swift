/// Flower's `RecordDict`: the content of a message, named records of three kinds in insertion order.
public struct RecordDict: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// One entry: an array, metric or config record.
    public enum Record: Sendable, Equatable {
        case arrays(ArrayRecord)
        case metrics(MetricRecord)
        case config(ConfigRecord)
    }

    private var records: OrderedRecord<Record>

    /// An empty record dict.
    public init() { records = [:] }

    /// A record dict of `records`, in order.
    public init(_ records: some Sequence<(String, Record)>) { self.records = OrderedRecord(records) }

    public init(dictionaryLiteral elements: (String, Record)...) { self.init(elements) }

    /// The record under `key`, of whatever kind.
    public subscript(key: String) -> Record? {
        get { records[key] }
        set { records[key] = newValue }
    }

    /// The `ArrayRecord` under `key`, or `nil` if there is none or it is of another kind.
    public subscript(arrays key: String) -> ArrayRecord? {
        get { if case .arrays(let record) = records[key] { record } else { nil } }
        set { records[key] = newValue.map(Record.arrays) }
    }

    /// The `MetricRecord` under `key`, or `nil` if there is none or it is of another kind.
    public subscript(metrics key: String) -> MetricRecord? {
        get { if case .metrics(let record) = records[key] { record } else { nil } }
        set { records[key] = newValue.map(Record.metrics) }
    }

    /// The `ConfigRecord` under `key`, or `nil` if there is none or it is of another kind.
    public subscript(config key: String) -> ConfigRecord? {
        get { if case .config(let record) = records[key] { record } else { nil } }
        set { records[key] = newValue.map(Record.config) }
    }

    /// These records with `other`'s added (replacing any of the same name).
    public func merging(_ other: RecordDict) -> RecordDict {
        var result = self
        for (key, record) in other { result[key] = record }
        return result
    }

    /// The keys, in order.
    public var keys: [String] { records.keys }
    /// The number of records.
    public var count: Int { records.count }
    /// Whether there are no records.
    public var isEmpty: Bool { records.isEmpty }

    /// All metric records, in order (Flower's `metric_records`).
    public var metricRecords: [(key: String, value: MetricRecord)] {
        records.compactMap { entry in
            if case .metrics(let record) = entry.value { (entry.key, record) } else { nil }
        }
    }

    /// All array records, in order (Flower's `array_records`).
    public var arrayRecords: [(key: String, value: ArrayRecord)] {
        records.compactMap { entry in
            if case .arrays(let record) = entry.value { (entry.key, record) } else { nil }
        }
    }

    /// Iterates over `(key, record)` pairs in order.
    public func makeIterator() -> some IteratorProtocol<(key: String, value: Record)> { records.makeIterator() }
}
