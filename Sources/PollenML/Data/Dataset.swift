/// A labelled tabular data set held in memory: `Float` features in one contiguous row-major buffer and one
/// integer class label per row.
public struct Dataset: Sendable, Equatable {
    /// Feature values, `rowCount * featureCount` of them, row after row.
    public var features: [Float]
    /// The class of each row, in `0..<classCount`.
    public var labels: [Int32]
    /// The number of features per row.
    public let featureCount: Int
    /// The number of classes; labels lie in `0..<classCount`.
    public let classCount: Int
    /// Column names of the features, in order.
    public let featureNames: [String]
    /// The name of each class, indexed by label.
    public let classNames: [String]
    /// A grouping value per row (for example the `site` a record came from), used to partition by column; empty
    /// when the data set has none.
    public var groups: [String]

    /// The number of rows.
    public var rowCount: Int { labels.count }

    /// A data set from its parts.
    ///
    /// - Throws: `MLError.invalidArgument` when the parts' sizes disagree or a label is out of range.
    public init(
        features: [Float], labels: [Int32], featureCount: Int, classCount: Int,
        featureNames: [String]? = nil, classNames: [String]? = nil, groups: [String] = []
    ) throws {
        guard featureCount > 0, features.count == labels.count * featureCount else {
            throw MLError(
                code: .invalidArgument,
                message: "\(features.count) feature values do not make \(labels.count) rows of \(featureCount) features"
            )
        }
        guard classCount >= 2 else {
            throw MLError(code: .invalidArgument, message: "a classification data set needs at least 2 classes, got \(classCount)")
        }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classCount }) {
            throw MLError(code: .invalidArgument, message: "label \(bad) is outside 0..<\(classCount)")
        }
        guard groups.isEmpty || groups.count == labels.count else {
            throw MLError(code: .invalidArgument, message: "\(groups.count) group values for \(labels.count) rows")
        }
        self.features = features
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
        self.featureNames = featureNames ?? (0..<featureCount).map { "x\($0)" }
        self.classNames = classNames ?? (0..<classCount).map(String.init)
        self.groups = groups
    }

    /// The rows at `indices`, in that order, as a new data set with the same columns and classes.
    public func subset(_ indices: [Int]) -> Dataset {
        var subsetFeatures = [Float]()
        subsetFeatures.reserveCapacity(indices.count * featureCount)
        features.withUnsafeBufferPointer { all in
            for row in indices {
                subsetFeatures.append(contentsOf: all[(row * featureCount)..<((row + 1) * featureCount)])
            }
        }
        var copy = self
        copy.features = subsetFeatures
        copy.labels = indices.map { labels[$0] }
        copy.groups = groups.isEmpty ? [] : indices.map { groups[$0] }
        return copy
    }

    /// The number of rows of each class, indexed by label.
    public var classCounts: [Int] {
        var counts = Array(repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }
}
