import PollenCore
import PollenKernels
import PollenML

/// A data custodian's local data for the tabular app, named in the SuperNode's node config:
///
/// | key | meaning |
/// |---|---|
/// | `data-path` | the CSV file (header row, numeric features, a label column) |
/// | `label` | the label column (default `label`) |
/// | `test-fraction` | the share of rows held out for federated evaluation (default 0.2) |
/// | `seed` | the seed of that split (default 0) |
public enum LocalCSVData {
    /// The data provider that reads the node's CSV on every message (the file is the source of truth, and a
    /// custodian may update it between runs).
    public static let provider: TabularClientApp.DataProvider = { context in
        let read = ConfigReader(context.nodeConfig)
        let path = try read.string("data-path", default: "")
        guard !path.isEmpty else {
            throw AppConfigError(key: "data-path", message: "this SuperNode has no data; start it with --node-config data-path=FILE.csv")
        }
        let data = try CSVLoader(labelColumn: read.string("label", default: "label")).load(path: path)
        let split = try TrainTestSplit.split(
            rows: Array(0..<data.rowCount), labels: data.labels,
            testFraction: read.double("test-fraction", default: 0.2, in: 0...0.9),
            seed: UInt64(read.int("seed", default: 0, in: 0...Int.max))
        )
        return NodeData(train: data.subset(split.train), test: data.subset(split.test))
    }
}
