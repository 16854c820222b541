public import PollenCore
import SwiftProtobuf
import Foundation

extension OrderedRecord where Value == MetricValue {
    /// Flower's `MetricRecord`, items in order.
    public var proto: Flwr_Proto_MetricRecord {
        .with { record in record.items = map { entry in .with { $0.key = entry.key; $0.value = entry.value.proto } } }
    }

    /// The record of a Flower `MetricRecord`.
    public init(proto: Flwr_Proto_MetricRecord) throws {
        self.init(try proto.items.map { ($0.key, try MetricValue(proto: $0.value, key: $0.key)) })
    }
}

extension OrderedRecord where Value == ConfigValue {
    /// Flower's `ConfigRecord`, items in order.
    public var proto: Flwr_Proto_ConfigRecord {
        .with { record in record.items = map { entry in .with { $0.key = entry.key; $0.value = entry.value.proto } } }
    }

    /// The record of a Flower `ConfigRecord`.
    public init(proto: Flwr_Proto_ConfigRecord) throws {
        self.init(try proto.items.map { ($0.key, try ConfigValue(proto: $0.value, key: $0.key)) })
    }
}

extension OrderedRecord where Value == Tensor {
    /// Flower's `ArrayRecord`, tensors in order.
    public var proto: Flwr_Proto_ArrayRecord {
        .with { record in record.items = map { entry in .with { $0.key = entry.key; $0.value = entry.value.proto } } }
    }

    /// The record of a Flower `ArrayRecord`.
    public init(proto: Flwr_Proto_ArrayRecord) throws {
        self.init(try proto.items.map { ($0.key, try Tensor(proto: $0.value, key: $0.key)) })
    }
}

extension Tensor {
    /// The `stype` of an array whose data is `.npy` bytes: the only one Flower's NumPy path writes.
    public static let numpyStype = "numpy.ndarray"

    /// Flower's `Array`: dtype, shape, `numpy.ndarray` stype and `.npy` bytes.
    public var proto: Flwr_Proto_Array {
        .with {
            $0.dtype = dtype.name
            $0.shape = shape.map { Int32(clamping: $0) }
            $0.stype = Tensor.numpyStype
            $0.data = Data(NPYFormat.encode(self))
        }
    }

    /// The tensor in a Flower `Array` whose data is `.npy` bytes.
    public init(proto: Flwr_Proto_Array, key: String) throws {
        guard proto.stype == Tensor.numpyStype else {
            throw WireError(code: .invalidMessage, message: "array '\(key)' has stype '\(proto.stype)'; Pollen reads '\(Tensor.numpyStype)'")
        }
        let tensor = try NPYFormat.decode([UInt8](proto.data), fileName: "array '\(key)'")
        guard tensor.dtype.name == proto.dtype, tensor.shape == proto.shape.map(Int.init) else {
            throw WireError(
                code: .invalidMessage,
                message: "array '\(key)' says \(proto.dtype) \(proto.shape), but its data holds \(tensor.dtype) \(tensor.shape)"
            )
        }
        self = tensor
    }
}

extension RecordDict {
    /// Flower's `RecordDict` with every record inline (the form a `Context`'s state takes).
    public var proto: Flwr_Proto_RecordDict {
        .with { dict in
            dict.items = map { entry in
                .with { item in
                    item.key = entry.key
                    switch entry.value {
                    case .arrays(let record): item.arrayRecord = record.proto
                    case .metrics(let record): item.metricRecord = record.proto
                    case .config(let record): item.configRecord = record.proto
                    }
                }
            }
        }
    }

    /// The record dict of a Flower `RecordDict` with every record inline.
    public init(proto: Flwr_Proto_RecordDict) throws {
        self.init(try proto.items.map { item -> (String, Record) in
            switch item.value {
            case .arrayRecord(let record): (item.key, .arrays(try ArrayRecord(proto: record)))
            case .metricRecord(let record): (item.key, .metrics(try MetricRecord(proto: record)))
            case .configRecord(let record): (item.key, .config(try ConfigRecord(proto: record)))
            case nil: throw WireError(code: .invalidMessage, message: "record '\(item.key)' is empty")
            }
        })
    }
}
