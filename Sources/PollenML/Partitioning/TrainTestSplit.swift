import PollenKernels

/// Divides rows into a training part and a held-out test part.
public enum TrainTestSplit {
    /// Splits `rows` (indices into `labels`) so that about `testFraction` of them are held out.
    ///
    /// With `stratified`, each class is split on its own, so both parts keep the class balance (scikit-learn's
    /// `stratify=`). Every part keeps at least one training row. Deterministic for a given seed.
    public static func split(
        rows: [Int], labels: [Int32], testFraction: Double, stratified: Bool = true, seed: UInt64
    ) throws -> (train: [Int], test: [Int]) {
        guard (0..<1).contains(testFraction) else {
            throw MLError(code: .invalidArgument, message: "a test fraction must be in [0, 1), got \(testFraction)")
        }
        var generator = SeededGenerator(seed: seed, stream: [0x7370_6c69_74]) // "split"
        let groups: [[Int]]
        if stratified {
            var byClass = [Int32: [Int]]()
            for row in rows { byClass[labels[row], default: []].append(row) }
            groups = byClass.keys.sorted().map { byClass[$0]! }
        } else {
            groups = [rows]
        }
        var train = [Int]()
        var test = [Int]()
        for var group in groups {
            generator.shuffle(&group)
            let held = min(group.count - 1, Int((Double(group.count) * testFraction).rounded()))
            test += group[..<max(held, 0)]
            train += group[max(held, 0)...]
        }
        return (train.sorted(), test.sorted())
    }
}
