import Foundation
import PollenLink
@testable import PollenCLI
import Testing

/// The SuperLink's accounts file: accounts by their tokens' hashes, and a reason for every mistake.
@Suite struct AccountsFileTests {
    @Test func accountsOpenByTheirTokensOnly() throws {
        let accounts = try AccountsFile.parse("""
            [accounts.alice]
            role = "researcher"
            token-sha256 = "\(ControlAccounts.sha256(of: "alice-token"))"

            [accounts.ops]
            role = "operator"
            token-sha256 = "\(ControlAccounts.sha256(of: "ops-token").uppercased())"
            """, path: "accounts.toml")
        #expect(accounts.account(token: "alice-token") == ControlAccount(name: "alice", role: .researcher))
        #expect(accounts.account(token: "ops-token") == ControlAccount(name: "ops", role: .operator))
        #expect(accounts.account(token: ControlAccounts.sha256(of: "alice-token")) == nil, "the hash itself is no token")
    }

    @Test func mistakesAreNamed() {
        func refusal(_ text: String) -> String {
            do { _ = try AccountsFile.parse(text, path: "accounts.toml"); return "accepted" } catch { return "\(error)" }
        }
        let hash = ControlAccounts.sha256(of: "t")
        #expect(refusal("").contains("no accounts"))
        #expect(refusal("[accounts.a]\nrole = \"admin\"\ntoken-sha256 = \"\(hash)\"").contains("needs role"))
        #expect(refusal("[accounts.a]\nrole = \"researcher\"\ntoken-sha256 = \"t\"").contains("64 hex digits"))
        #expect(refusal("[accounts.a]\nrole = \"researcher\"\ntoken = \"t\"\ntoken-sha256 = \"\(hash)\"").contains("unknown key 'token'"))
        #expect(refusal("[accounts.a]\nrole = \"researcher\"\ntoken-sha256 = \"\(hash)\"\n[accounts.b]\nrole = \"operator\"\ntoken-sha256 = \"\(hash)\"")
            .contains("the token of another account"))
    }
}
