import Foundation
import RelaisSQLite

/// What `relais agent` last did, kept in the replica file for `relais status`.
public struct AgentReport: Sendable, Hashable {
    /// When the sync ended, in milliseconds since 1970.
    public var atMillis: UInt64
    /// Whether it succeeded.
    public var succeeded: Bool
    /// The one line the agent logged for it.
    public var line: String

    public init(atMillis: UInt64, succeeded: Bool, line: String) {
        self.atMillis = atMillis
        self.succeeded = succeeded
        self.line = line
    }
}

extension Replica {
    /// The agent's last report, or nil if no agent ever synced this file.
    public func agentReport() throws -> AgentReport? {
        guard let line = try store.stateText("agent_line"), let at = try store.stateInt("agent_at") else { return nil }
        return AgentReport(atMillis: UInt64(at), succeeded: try store.stateInt("agent_ok") == 1, line: line)
    }

    /// Stores the agent's report of its last sync.
    public func setAgentReport(_ report: AgentReport) throws {
        try store.write {
            try store.setState("agent_at", .integer(Int64(report.atMillis)))
            try store.setState("agent_ok", .integer(report.succeeded ? 1 : 0))
            try store.setState("agent_line", .text(report.line))
        }
    }
}
