import PollenCore

/// Loads a labelled data set from two `.npy` files: a 2-D feature matrix and a 1-D label vector.
///
/// Features of any numeric dtype become `Float`; labels must be whole numbers, and their distinct values, sorted,
/// become classes `0..<classCount`.
public enum NPYLoader {
    /// Reads the features at `featuresPath` (shape `[rows, features]`) and the labels at `labelsPath` (`[rows]`).
    public static func load(featuresPath: String, labelsPath: String) throws -> Dataset {
        let features = try NPYFormat.read(path: featuresPath)
        let labels = try NPYFormat.read(path: labelsPath)
        guard features.shape.count == 2 else {
            throw MLError(code: .invalidNPY, message: "'\(featuresPath)' has shape \(features.shape); features must be 2-D [rows, features]")
        }
        guard labels.shape.count == 1, labels.shape[0] == features.shape[0] else {
            throw MLError(
                code: .invalidNPY,
                message: "'\(labelsPath)' has shape \(labels.shape); labels must be 1-D with one value per feature row (\(features.shape[0]))"
            )
        }
        let values = try doubles(features, fileName: featuresPath).map(Float.init)
        let rawLabels = try doubles(labels, fileName: labelsPath)
        for (row, label) in rawLabels.enumerated() where label.rounded() != label {
            throw MLError(code: .invalidCell, message: "'\(labelsPath)', row \(row): label \(label) is not a whole number")
        }
        let classes = Array(Set(rawLabels)).sorted()
        guard classes.count >= 2 else {
            throw MLError(code: .invalidCell, message: "'\(labelsPath)' holds a single class; classification needs at least two")
        }
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        return try Dataset(
            features: values, labels: rawLabels.map { classIndex[$0]! }, featureCount: features.shape[1],
            classCount: classes.count, classNames: classes.map { Int(exactly: $0).map(String.init) ?? String($0) }
        )
    }

    private static func doubles(_ tensor: Tensor, fileName: String) throws -> [Double] {
        let values: [Double]
        switch tensor.dtype {
        case .float32: values = try tensor.scalars(as: Float.self).map(Double.init)
        case .float64: values = try tensor.scalars(as: Double.self)
        case .int32: values = try tensor.scalars(as: Int32.self).map(Double.init)
        case .int64: values = try tensor.scalars(as: Int64.self).map(Double.init)
        case .uint8: values = try tensor.scalars(as: UInt8.self).map(Double.init)
        case .int8: values = try tensor.scalars(as: Int8.self).map(Double.init)
        case .int16: values = try tensor.scalars(as: Int16.self).map(Double.init)
        case .bool: values = try tensor.scalars(as: Bool.self).map { $0 ? 1 : 0 }
        default:
            throw MLError(
                code: .invalidNPY,
                message: "'\(fileName)' holds \(tensor.dtype) values; use float32, float64, int8, int16, int32, int64, uint8 or bool"
            )
        }
        for (index, value) in values.enumerated() where !value.isFinite {
            throw MLError(code: .invalidCell, message: "'\(fileName)', element \(index): \(value) is not a finite number")
        }
        return values
    }
}
