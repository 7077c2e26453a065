import Hummingbird

/// Counts requests and their latency by route and status.
struct MetricsRecordingMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HubMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.recordRequest(
                route: context.endpointPath ?? "unmatched", status: response.status.code,
                duration: ContinuousClock.now - start)
            return response
        } catch {
            metrics.recordRequest(
                route: context.endpointPath ?? "unmatched", status: 500, duration: ContinuousClock.now - start)
            throw error
        }
    }
}
