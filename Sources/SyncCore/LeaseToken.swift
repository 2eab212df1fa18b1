import Foundation

/// The fencing token of one acquisition of the writer lease: the lease's epoch, bumped at every acquisition, and a
/// random nonce of that acquisition (so a register restored from a backup, whose epoch went back, never hands a
/// later run the token of an earlier one).
///
/// A run's register writes carry its token (an adapter's fenced view): once another run has taken the lease over,
/// the register refuses them. A holder that lost the lease without knowing (a host partitioned from the database,
/// a process paused past the server's notice) stops at its next register write, before its next CRM write.
public struct LeaseToken: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var epoch: Int64
    public var nonce: String

    public init(name: String, epoch: Int64, nonce: String) {
        self.name = name
        self.epoch = epoch
        self.nonce = nonce
    }

    public var description: String { "\(name) lease epoch \(epoch)" }
}

/// A register write refused because the run's writer lease was taken over by another run since it was acquired.
public struct StaleLease: Error, LocalizedError, Sendable {
    public var token: LeaseToken
    /// The epoch the register holds now (nil: no acquisition recorded).
    public var current: Int64?

    public init(token: LeaseToken, current: Int64?) {
        self.token = token
        self.current = current
    }

    public var errorDescription: String? {
        "this run's writer lease (epoch \(token.epoch)) was taken over by another run"
            + (current.map { " (epoch \($0))" } ?? "") + ": the register refuses its writes"
    }
}
