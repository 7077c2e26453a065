/// Differences made visible on the conflict page: words added and removed (text), items added and
/// removed (sets).
enum WordDiff {
    /// A piece of a diff.
    struct Token: Equatable {
        enum Kind: String { case same, added, removed }
        var text: String
        var kind: Kind
    }

    /// The word-level diff from `old` to `new` (longest common subsequence of words).
    static func words(from old: String, to new: String) -> [Token] {
        let a = old.split(whereSeparator: \.isWhitespace).map(String.init)
        let b = new.split(whereSeparator: \.isWhitespace).map(String.init)
        // Long texts: too costly to diff word by word; show the whole change.
        guard a.count * b.count <= 250_000 else {
            return [Token(text: old, kind: .removed), Token(text: new, kind: .added)].filter { !$0.text.isEmpty }
        }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var tokens: [Token] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                tokens.append(Token(text: a[i], kind: .same))
                i += 1
                j += 1
            } else if j < b.count, i == a.count || table[i][j + 1] >= table[i + 1][j] {
                tokens.append(Token(text: b[j], kind: .added))
                j += 1
            } else {
                tokens.append(Token(text: a[i], kind: .removed))
                i += 1
            }
        }
        return tokens
    }

    /// Items of `new` not in `old` (added), of `old` not in `new` (removed), and kept, sorted.
    static func items(from old: [String], to new: [String]) -> [Token] {
        let before = Set(old)
        let after = Set(new)
        return before.union(after).sorted().map { item in
            Token(text: item, kind: after.contains(item) ? (before.contains(item) ? .same : .added) : .removed)
        }
    }
}
