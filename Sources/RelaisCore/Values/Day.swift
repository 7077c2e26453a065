/// A calendar day, counted from 1970-01-01 (UTC): what the reports compare dates by.
public struct Day: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var number: Int

    public init(_ number: Int) { self.number = number }

    /// The day of `millis` since 1970 (UTC).
    public init(millis: UInt64) { number = Int(millis / 86_400_000) }

    /// The day a schema date names (`YYYY-MM-DD`, or the date part of `YYYY-MM-DDTHH:MM:SSZ`).
    public init?(_ text: String) {
        let parts = text.prefix(10).split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let year = m <= 2 ? y - 1 : y
        let era = (year >= 0 ? year : year - 399) / 400
        let yoe = year - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        number = era * 146_097 + doe - 719_468
    }

    public static func < (a: Day, b: Day) -> Bool { a.number < b.number }
    public static func - (a: Day, b: Day) -> Int { a.number - b.number }
    public static func + (a: Day, days: Int) -> Day { Day(a.number + days) }
    public static func - (a: Day, days: Int) -> Day { Day(a.number - days) }

    /// `YYYY-MM-DD`.
    public var description: String {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ n: Int, _ width: Int) -> String {
            let text = String(n)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }
}
