import Foundation
import Postgres
import Testing

@testable import WorkQueue

/// The benchmark compares the API with pgbench running "the same claim SQL": this holds the
/// pgbench script's claim to the text WorkQueue.claimSQL renders (parameters aside).
@Suite struct WorkQueueBenchSQLTests {
    static func normalized(_ text: String) -> String {
        var out = text.replacingOccurrences(of: #"\$[0-9]+"#, with: "?", options: .regularExpression)
        out = out.replacingOccurrences(of: #":(agent|at|seconds)\b"#, with: "?", options: .regularExpression)
        return out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    @Test func thePgbenchScriptClaimsWithTheServersStatement() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = try String(contentsOf: root.appendingPathComponent("Benchmarks/work-next.pgbench"), encoding: .utf8)
        let start = try #require(script.range(of: "WITH held AS ("))
        let end = try #require(script.range(of: "ORDER BY jurisdiction = '*' LIMIT 1) r", range: start.lowerBound..<script.endIndex))
        let pgbench = String(script[start.lowerBound..<end.upperBound])
        let agent = UUID()
        let (server, _) = WorkQueue.claimSQL(agent: agent, from: "w.agent_id = \(agent)", seconds: 600, at: Date()).render()
        #expect(Self.normalized(pgbench) == Self.normalized(server))
    }
}
