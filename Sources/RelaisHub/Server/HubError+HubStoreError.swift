extension HubError {
    /// What the hub answers when its store fails: the HTTP edge's one mapping from store failures to
    /// request errors (Protocol/README.md, error codes). A busy or full store keeps its message; any
    /// other failure is the bare 500 `internal`, its detail left to the log.
    public init(answering failure: HubStoreError) {
        switch failure.code {
        case .unavailable: self = HubError.unavailable.with(failure.message)
        case .storageFull: self = HubError.storageFull.with(failure.message)
        default: self = HubError.internal
        }
    }
}
