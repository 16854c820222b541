import PollenApps
import PollenML
import Testing

@Suite struct PartitionerTests {
    static let digits = try! BundledDataset.digits.load()

    @Test func bundledDataSetsHaveTheirPublishedShapes() throws {
        let cancer = try BundledDataset.breastCancer.load()
        #expect(cancer.rowCount == 569)
        #expect(cancer.featureCount == 30)
        #expect(cancer.classCounts == [212, 357])
        #expect(Self.digits.rowCount == 1_797)
        #expect(Self.digits.featureCount == 64)
        #expect(Self.digits.classCount == 10)
    }

    @Test func iidCoversEveryRowOnceInNearEqualParts() throws {
        let parts = try Partitioner.iid(count: 7).partition(Self.digits, seed: 1)
        #expect(parts.count == 7)
        #expect(parts.flatMap { $0 }.sorted() == Array(0..<1_797))
        #expect(parts.allSatisfy { (256...257).contains($0.count) })
    }

    @Test func dirichletSkewsLabelsAndKeepsTheMinimumSize() throws {
        let parts = try Partitioner.dirichlet(count: 20, alpha: 0.3, minimumSize: 10).partition(Self.digits, seed: 42)
        #expect(parts.count == 20)
        #expect(parts.flatMap { $0 }.sorted() == Array(0..<1_797))
        #expect(parts.allSatisfy { $0.count >= 10 })
        // With alpha 0.3 a typical node is dominated by a few classes: the largest class share should be far
        // above the 10% of an IID split on most nodes.
        let dominated = parts.filter { part in
            var counts = [Int](repeating: 0, count: 10)
            for row in part { counts[Int(Self.digits.labels[row])] += 1 }
            return Double(counts.max()!) / Double(part.count) > 0.3
        }
        #expect(dominated.count >= 12)
        let iidLike = try Partitioner.dirichlet(count: 20, alpha: 1_000, minimumSize: 10).partition(Self.digits, seed: 42)
        #expect(iidLike.allSatisfy { (60...120).contains($0.count) })
    }

    @Test func partitionsAreDeterministicPerSeed() throws {
        let partitioner = Partitioner.dirichlet(count: 10, alpha: 0.5)
        #expect(try partitioner.partition(Self.digits, seed: 3) == partitioner.partition(Self.digits, seed: 3))
        #expect(try partitioner.partition(Self.digits, seed: 3) != partitioner.partition(Self.digits, seed: 4))
    }

    @Test func byGroupMakesOnePartitionPerSite() throws {
        let data = try CSVLoader(labelColumn: "y", groupColumn: "site")
            .parse("site,a,y\nb,1,0\na,2,1\nb,3,1\nc,4,0\na,5,0\n", fileName: "sites.csv")
        let parts = try Partitioner.byGroup.partition(data, seed: 0)
        #expect(parts == [[1, 4], [0, 2], [3]])
        #expect(Partitioner.byGroup.partitionCount(of: data) == 3)
        #expect(throws: MLError.self) { try Partitioner.byGroup.partition(Self.digits, seed: 0) }
    }

    @Test func impossibleRequestsAreErrors() {
        #expect(throws: MLError.self) { try Partitioner.iid(count: 2_000).partition(Self.digits, seed: 0) }
        #expect(throws: MLError.self) { try Partitioner.dirichlet(count: 10, alpha: 0).partition(Self.digits, seed: 0) }
        #expect(throws: MLError.self) { try Partitioner.dirichlet(count: 200, alpha: 0.5, minimumSize: 10).partition(Self.digits, seed: 0) }
    }

    @Test func stratifiedSplitKeepsTheClassBalance() throws {
        let cancer = try BundledDataset.breastCancer.load()
        let split = try TrainTestSplit.split(rows: Array(0..<569), labels: cancer.labels, testFraction: 0.2, seed: 9)
        // Each class is split on its own: round(212 × 0.2) + round(357 × 0.2) = 42 + 71.
        #expect(split.test.count == 113)
        #expect(Set(split.train).isDisjoint(with: split.test))
        #expect(split.train.count + split.test.count == 569)
        let malignantInTest = split.test.filter { cancer.labels[$0] == 0 }.count
        #expect(malignantInTest == 42)
    }
}
