import Foundation
import PollenCore
@testable import PollenLink
import Testing

/// The app bundle a SuperLink serves Flower SuperNodes (Flower installing and running it is an end-to-end test).
struct BuiltInAppBundleTests {
    @Test func zipChecksumsAreZipsOwn() {
        // The CRC-32 check value of the ISO-HDLC polynomial.
        #expect(StoredZip.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(StoredZip.crc32([]) == 0)
    }

    @Test func theManifestDeclaresTheRunsSettingsAsTOML() {
        let manifest = BuiltInAppBundle.manifest(config: [
            "app": "model-transfer", "model-parameters": 300_000, "lr": 0.5, "whole": .double(2), "strict": true,
            "quote \"and\\ line\nbreak": "tab\there",
        ])
        #expect(manifest.contains("\n[tool.flwr.app.config]\n"))
        #expect(manifest.contains("\n\"app\" = \"model-transfer\"\n"))
        #expect(manifest.contains("\n\"model-parameters\" = 300000\n"))
        #expect(manifest.contains("\n\"lr\" = 0.5\n"))
        #expect(manifest.contains("\n\"whole\" = 2.0\n"))
        #expect(manifest.contains("\n\"strict\" = true\n"))
        #expect(manifest.contains(#"\#n"quote \"and\\ line\nbreak" = "tab\there"\#n"#))
    }

    @Test func aConfigurationAlwaysGetsTheSameBundleAndAnotherItsOwn() {
        let run: ConfigRecord = ["app": "model-transfer"], other: ConfigRecord = ["app": "tabular"]
        #expect(BuiltInAppBundle(config: run).content == BuiltInAppBundle(config: run).content)
        #expect(BuiltInAppBundle(config: run).hash == BuiltInAppBundle(config: run).hash)
        #expect(BuiltInAppBundle(config: run).hash != BuiltInAppBundle(config: other).hash)
        #expect(BuiltInAppBundle(config: run).hash.count == 64)
    }

    @Test func theEmbeddedClientAppIsTheRepositorysFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/PollenLink/FlowerApp/client_app.py")
        #expect(BuiltInAppBundle.clientApp == (try String(contentsOf: file, encoding: .utf8)), "run scripts/embed-flower-app after editing \(file.path)")
    }
}
