/// Polls `condition` every `interval` until it holds or `limit` has passed, and returns whether it
/// held: a test waits for something another process or task does, then asserts it.
///
/// The condition is asked once more after the limit, so a wait that ends just as the condition
/// becomes true still sees it.
public nonisolated(nonsending) func eventually(
    within limit: Duration, every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
) async throws -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
