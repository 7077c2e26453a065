extension MergeRule {
    /// The value of a field whose unsuperseded writes are `siblings`.
    ///
    /// A pure function of the set of siblings: the same siblings give the same value whatever
    /// order they arrived in. One sibling is its own value under every rule.
    public func resolve(_ siblings: [Sibling]) -> Value {
        guard siblings.count > 1 else { return siblings.first?.value ?? .null }
        let ordered = siblings.sorted { $0.order < $1.order }
        switch self {
        case .lww, .manual:
            return ordered.last!.value
        case .union:
            // Null only when every side is null, as for one sibling and under every other rule.
            guard ordered.contains(where: { !$0.value.isNull }) else { return .null }
            var items = Swift.Set<String>()
            for sibling in ordered {
                if let more = sibling.value.setItems { items.formUnion(more) }
            }
            return .stringSet(items)
        case .append:
            return MergeRule.appendTexts(ordered)
        case .max, .min:
            var best: Value?
            for sibling in ordered where !sibling.value.isNull {
                guard let current = best else {
                    best = sibling.value
                    continue
                }
                guard let less = Value.order(current, sibling.value) else { continue }
                if current != sibling.value, (self == .max) == less { best = sibling.value }
            }
            return best ?? .null
        }
    }

    /// Concurrent texts kept one after another in `(hlc, replica)` order, each marked with its
    /// author: `[alice] first text` / `[bob] second text`. Equal texts are kept once.
    static func appendTexts(_ ordered: [Sibling]) -> Value {
        var seen = Swift.Set<String>()
        var parts: [(author: String, text: String)] = []
        for sibling in ordered {
            guard case .text(let text) = sibling.value, !text.isEmpty else { continue }
            if seen.insert(text).inserted { parts.append((sibling.author, text)) }
        }
        switch parts.count {
        case 0: return ordered.contains { !$0.value.isNull } ? .text("") : .null
        case 1: return .text(parts[0].text)
        default: return .text(parts.map { "[\($0.author)] \($0.text)" }.joined(separator: "\n"))
        }
    }
}
