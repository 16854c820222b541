public import PollenML
import Foundation

/// The real data sets that ship with Pollen (see `Datasets/README.md` for sources and licences).
public enum BundledDataset: String, Sendable, CaseIterable {
    /// Breast Cancer Wisconsin (Diagnostic): 569 rows, 30 features, label `diagnosis` (0 malignant, 1 benign).
    case breastCancer = "breast-cancer"
    /// Optical recognition of handwritten digits, 8x8: 1,797 rows, 64 features, label `digit` (0–9).
    case digits

    /// The file name inside the bundle.
    var fileName: String {
        switch self {
        case .breastCancer: "breast_cancer"
        case .digits: "digits"
        }
    }

    /// The label column.
    public var labelColumn: String {
        switch self {
        case .breastCancer: "diagnosis"
        case .digits: "digit"
        }
    }

    /// The path of the bundled CSV file.
    public var path: String {
        get throws {
            guard let url = Bundle.module.url(forResource: fileName, withExtension: "csv", subdirectory: "Datasets") else {
                throw MLError(
                    code: .unreadableFile,
                    message: "the bundled data set '\(rawValue)' is missing from Pollen's resources (\(Bundle.module.bundlePath)); rebuild Pollen"
                )
            }
            return url.path
        }
    }

    /// Loads the data set.
    public func load() throws -> Dataset {
        try CSVLoader(labelColumn: labelColumn).load(path: path)
    }
}
