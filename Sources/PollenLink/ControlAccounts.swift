import NIOCore
import PollenCore
import PollenWire

/// What a Control API account may do.
public enum ControlRole: String, Sendable, CaseIterable {
    /// Submits runs, and lists, follows and stops its own.
    case researcher
    /// Everything: every run, and the SuperNodes (list, register).
    case `operator`
}

/// A Control API account: a name for the audit trail and a role.
public struct ControlAccount: Sendable, Equatable {
    public let name: String
    public let role: ControlRole

    public init(name: String, role: ControlRole) {
        self.name = name
        self.role = role
    }

    /// Whether the account may read or stop a run `owner` submitted.
    func mayManage(runOwnedBy owner: String) -> Bool {
        role == .operator || owner == name
    }
}

/// The accounts a SuperLink's Control API admits, each by a bearer token (`Authorization: Bearer TOKEN`, as
/// Flower's HTTP Control API authenticates). The SuperLink keeps only each token's SHA-256, so its accounts file
/// opens nothing to whoever reads it.
public struct ControlAccounts: Sendable {
    private let byTokenHash: [String: ControlAccount]

    /// Accounts by the lowercase hex SHA-256 of their tokens.
    public init(_ accounts: [(tokenSHA256: String, account: ControlAccount)]) {
        byTokenHash = Dictionary(accounts.map { ($0.tokenSHA256.lowercased(), $0.account) }) { first, _ in first }
    }

    /// The account `token` opens, if any.
    public func account(token: String) -> ControlAccount? {
        byTokenHash[Self.sha256(of: token)]
    }

    /// The lowercase hex SHA-256 of `token`'s UTF-8 bytes: what an accounts file holds.
    public static func sha256(of token: String) -> String {
        FlowerObject.hash(ByteBuffer(string: token)).rawValue
    }
}
