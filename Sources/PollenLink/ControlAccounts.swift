import NIOCore
import PollenCore
import PollenWire
import Synchronization

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
/// opens nothing to whoever reads it. The accounts can be replaced while the SuperLink serves (`replace`, on
/// SIGHUP), so that admitting or removing a researcher does not stop the runs in progress.
public final class ControlAccounts: Sendable {
    private let byTokenHash: Mutex<[String: ControlAccount]>

    /// Accounts by the lowercase hex SHA-256 of their tokens.
    public init(_ accounts: [(tokenSHA256: String, account: ControlAccount)]) {
        byTokenHash = Mutex(Dictionary(accounts.map { ($0.tokenSHA256.lowercased(), $0.account) }) { first, _ in first })
    }

    /// The account `token` opens, if any.
    public func account(token: String) -> ControlAccount? {
        let hash = Self.sha256(of: token)
        return byTokenHash.withLock { $0[hash] }
    }

    /// Admits `accounts` from now on, and no others; a request already admitted goes on.
    public func replace(with accounts: ControlAccounts) {
        let replacement = accounts.byTokenHash.withLock { $0 }
        byTokenHash.withLock { $0 = replacement }
    }

    /// The number of accounts.
    public var count: Int { byTokenHash.withLock { $0.count } }

    /// The lowercase hex SHA-256 of `token`'s UTF-8 bytes: what an accounts file holds.
    public static func sha256(of token: String) -> String {
        FlowerObject.hash(ByteBuffer(string: token)).rawValue
    }
}
