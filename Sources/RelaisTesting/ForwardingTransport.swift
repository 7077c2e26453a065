public import RelaisClient
public import RelaisProtocol

/// A transport that hands every request to ``inner``: tests and the simulation wrap a real one and
/// replace only the requests they watch, cut or count.
public protocol ForwardingTransport: SyncTransport {
    /// Where each request goes (read once per request: a computed one may choose a hub).
    var inner: any SyncTransport { get }
}

extension ForwardingTransport {
    public func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try await inner.enroll(request)
    }

    public func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        try await inner.push(request, token: token)
    }

    public func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        try await inner.pull(request, token: token)
    }

    public func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws
        -> Relais_V1_ReplicaRenewResponse
    {
        try await inner.renew(request, token: token)
    }

    public func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws -> SnapshotDownload? {
        try await inner.snapshot(request, token: token, folder: folder)
    }

    public func rotateToken(token: String) async throws -> Relais_V1_TokenRotateResponse {
        try await inner.rotateToken(token: token)
    }

    public func reportWipe(_ report: Relais_V1_WipeReport, token: String) async throws -> Relais_V1_WipeReportResponse {
        try await inner.reportWipe(report, token: token)
    }

    public func digest(_ request: Relais_V1_DigestRequest, token: String) async throws -> Relais_V1_DigestResponse {
        try await inner.digest(request, token: token)
    }

    public func records(_ request: Relais_V1_RecordsRequest, token: String) async throws -> Relais_V1_RecordsResponse {
        try await inner.records(request, token: token)
    }

    public func reportVerification(_ report: Relais_V1_VerificationReport, token: String) async throws
        -> Relais_V1_VerificationReportResponse
    {
        try await inner.reportVerification(report, token: token)
    }

    public func schema(token: String) async throws -> String {
        try await inner.schema(token: token)
    }
}
