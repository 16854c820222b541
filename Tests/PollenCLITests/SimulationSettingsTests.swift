import ArgumentParser
import Foundation
import PollenApps
import PollenCLI
import PollenCore
import PollenML
import Testing

@Suite struct SimulationSettingsTests {
    @Test func theEmbeddedDefaultIsTheIssuesScenario() throws {
        let settings = try SimulationSettings.embeddedDefault()
        let config = try settings.appConfig()
        let plan = try settings.plan()
        #expect(config.rounds == 20)
        #expect(config.model == .logisticRegression)
        #expect(plan.dataset == "breast-cancer")
        #expect(plan.partitioner == .dirichlet(count: 10, alpha: 0.5, minimumSize: 10))
    }

    @Test func flagsOverrideTheFileWhichOverridesTheDefault() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-\(UUID().uuidString).toml").path
        try Data("""
            [app.config]
            num-server-rounds = 7
            learning-rate = 0.05

            [simulation]
            num-supernodes = 4
            dataset = "digits"
            """.utf8).write(to: URL(fileURLWithPath: path))
        let command = try SimulateCommand.parse(["--config", path, "--rounds", "3", "--run-config", "local-epochs=2", "--run-config", "model=softmax"])
        let settings = try command.resolveSettings()
        let config = try settings.appConfig()
        #expect(config.rounds == 3)
        #expect(config.training.learningRate == 0.05)
        #expect(config.training.epochs == 2)
        #expect(config.model == .softmaxRegression)
        #expect(try settings.plan().dataset == "digits")
        #expect(try settings.plan().partitioner == .dirichlet(count: 4, alpha: 0.5, minimumSize: 10))
    }

    @Test func unknownKeysAndBadTOMLAreNamed() throws {
        let typo = #expect(throws: CLIError.self) { try SimulateCommand.parse(["--run-config", "learnig-rate=0.1"]).resolveSettings() }
        #expect(typo?.description.contains("learnig-rate") == true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-\(UUID().uuidString).toml").path
        try Data("[app.config]\nrounds = = 3\n".utf8).write(to: URL(fileURLWithPath: path))
        let bad = #expect(throws: CLIError.self) { try SimulationSettings.load(path: path) }
        #expect(bad?.description.contains("line 2") == true)
        let missing = #expect(throws: CLIError.self) { try SimulationSettings.load(path: "/nonexistent/pollen.toml") }
        #expect(missing?.description.contains("/nonexistent/pollen.toml") == true)
    }

    @Test func aCSVWithoutALabelAsksForOne() throws {
        let settings = try SimulateCommand.parse(["--dataset", "hospital.csv"]).resolveSettings()
        let error = #expect(throws: (any Error).self) { try settings.plan().loadDataset() }
        #expect("\(error!)".contains("--label"))
    }
}

@Suite struct SimulationRunnerTests {
    @Test func runsAndWritesEveryArtifact() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-runs-\(UUID().uuidString)").path
        let command = try SimulateCommand.parse(["--rounds", "3", "--nodes", "4", "--output", output])
        try await command.run()
        let runs = try FileManager.default.contentsOfDirectory(atPath: output)
        #expect(runs.count == 1)
        let directory = "\(output)/\(runs[0])"
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(files.isSuperset(of: ["pollen.toml", "metrics.json", "metrics.csv", "summary.json", "learning-curve.svg", "model"]))
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/metrics.json"))) as? [[String: Any]]
        #expect(metrics?.count == 3)
        #expect(metrics?.first?["test-accuracy"] is Double)
        let csv = try String(contentsOfFile: "\(directory)/metrics.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 4)
        let svg = try String(contentsOfFile: "\(directory)/learning-curve.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("<polyline"))
        let weight = try NPYFormat.read(path: "\(directory)/model/weight.npy")
        #expect(weight.shape == [1, 30])
        // The saved configuration repeats the run.
        let again = try SimulateCommand.parse(["--config", "\(directory)/pollen.toml"]).resolveSettings()
        #expect(try again.appConfig().rounds == 3)
        #expect(try again.plan().partitioner == .dirichlet(count: 4, alpha: 0.5, minimumSize: 10))
    }
}
