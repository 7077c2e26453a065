import Foundation

/// Median, minimum and maximum of repeated samples.
struct Summary: Sendable {
    var samples: [Double]
    var median: Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
    var min: Double { samples.min() ?? .nan }
    var max: Double { samples.max() ?? .nan }
}

/// One row of the table: what was measured, its baseline, and the ratio against the target.
struct BenchResult: Sendable {
    var name: String
    var metric: String
    var unit: String
    var measured: Summary
    var baselineName: String
    var baseline: Summary?
    /// How the ratio reads (`measured / baseline`, `baseline / measured`, ...).
    var ratioName: String
    /// Per-run ratios (pairs measured in the same repetition).
    var ratios: Summary
    var target: String
    var met: Bool
    var notes: [String] = []
}

enum Report {
    static func format(_ value: Double, _ unit: String) -> String {
        switch unit {
        case "s": return value < 1 ? String(format: "%.1f ms", value * 1000) : String(format: "%.2f s", value)
        case "B": return String(format: "%.1f B", value)
        case "MB": return String(format: "%.1f MB", value)
        case "writes/s": return String(format: "%.0f w/s", value)
        case "rows/s": return String(format: "%.0f rows/s", value)
        case "µs/record": return String(format: "%.2f µs", value)
        default: return String(format: "%.3g %@", value, unit)
        }
    }

    static func triple(_ summary: Summary, _ unit: String) -> String {
        "\(format(summary.median, unit)) [\(format(summary.min, unit)) – \(format(summary.max, unit))]"
    }

    static func table(_ results: [BenchResult], options: BenchOptions) -> String {
        var lines: [String] = []
        lines.append(
            "relais-bench: \(options.runs) run(s) each\(options.smoke ? " (smoke sizes: figures mean nothing)" : ""); median [min – max]"
        )
        lines.append("")
        let header = ["benchmark", "measured", "baseline (same run)", "ratio median [min – max]", "target", ""]
        var rows: [[String]] = [header]
        for result in results {
            let baseline =
                result.baseline.map { "\(result.baselineName): \(triple($0, result.unit))" } ?? result.baselineName
            let ratio = String(
                format: "%.2f× [%.2f – %.2f] (%@)", result.ratios.median, result.ratios.min, result.ratios.max,
                result.ratioName)
            rows.append([
                "\(result.name) (\(result.metric))", triple(result.measured, result.unit), baseline, ratio,
                result.target,
                result.met ? "met" : "MISSED",
            ])
        }
        let widths = (0..<header.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            lines.append(
                row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                    .joined(separator: " | "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-")) }
        }
        for result in results where !result.notes.isEmpty {
            lines.append("")
            lines.append("\(result.name):")
            for note in result.notes { lines.append("  - \(note)") }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ results: [BenchResult]) -> String {
        func summary(_ s: Summary) -> [String: Any] {
            ["median": s.median, "min": s.min, "max": s.max, "samples": s.samples]
        }
        let array: [[String: Any]] = results.map { result in
            var object: [String: Any] = [
                "name": result.name, "metric": result.metric, "unit": result.unit, "measured": summary(result.measured),
                "baseline_name": result.baselineName, "ratio_name": result.ratioName, "ratio": summary(result.ratios),
                "target": result.target, "met": result.met, "notes": result.notes,
            ]
            if let baseline = result.baseline { object["baseline"] = summary(baseline) }
            return object
        }
        let data =
            (try? JSONSerialization.data(withJSONObject: array, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Seconds elapsed while `body` runs.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let value = try await body()
    let elapsed = clock.now - start
    return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
