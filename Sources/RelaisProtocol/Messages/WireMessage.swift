public import SwiftProtobuf

/// A message of the Relais wire protocol (`relais.v1`).
///
/// Every message generated from Protocol/relais.proto conforms, so code that handles "any wire
/// message" (a test harness, a logging middleware) can name them without importing SwiftProtobuf.
public protocol WireMessage: SwiftProtobuf.Message, Sendable, Hashable {
    /// The message's full protobuf name, for example `relais.v1.PushRequest`.
    static var wireName: String { get }
}

extension WireMessage {
    public static var wireName: String { protoMessageName }
}

extension Relais_V1_VectorEntry: WireMessage {}
extension Relais_V1_VersionVector: WireMessage {}
extension Relais_V1_Dot: WireMessage {}
extension Relais_V1_Value: WireMessage {}
extension Relais_V1_StringSet: WireMessage {}
extension Relais_V1_FieldValue: WireMessage {}
extension Relais_V1_RecordWrite: WireMessage {}
extension Relais_V1_PushRequest: WireMessage {}
extension Relais_V1_WriteResult: WireMessage {}
extension Relais_V1_PushResponse: WireMessage {}
extension Relais_V1_PullRequest: WireMessage {}
extension Relais_V1_FieldVersion: WireMessage {}
extension Relais_V1_RecordVersion: WireMessage {}
extension Relais_V1_Revocation: WireMessage {}
extension Relais_V1_PullResponse: WireMessage {}
extension Relais_V1_EnrollRequest: WireMessage {}
extension Relais_V1_EnrollResponse: WireMessage {}
extension Relais_V1_ReplicaRenewRequest: WireMessage {}
extension Relais_V1_ReplicaRenewResponse: WireMessage {}
extension Relais_V1_TokenRotateRequest: WireMessage {}
extension Relais_V1_TokenRotateResponse: WireMessage {}
extension Relais_V1_WipeReport: WireMessage {}
extension Relais_V1_WipeReportResponse: WireMessage {}
extension Relais_V1_Error: WireMessage {}
extension Relais_V1_Digest: WireMessage {}
extension Relais_V1_DigestRange: WireMessage {}
extension Relais_V1_DigestRequest: WireMessage {}
extension Relais_V1_DigestEntry: WireMessage {}
extension Relais_V1_RangeDigest: WireMessage {}
extension Relais_V1_DigestResponse: WireMessage {}
extension Relais_V1_RecordKey: WireMessage {}
extension Relais_V1_RecordsRequest: WireMessage {}
extension Relais_V1_RecordsResponse: WireMessage {}
extension Relais_V1_VerificationReport: WireMessage {}
extension Relais_V1_VerificationReportResponse: WireMessage {}

extension WireMessage {
    /// The message's protobuf bytes (for counting what an exchange costs).
    public func protobufBytes() throws -> [UInt8] { try serializedBytes() }

    /// A message from its protobuf bytes.
    public init(protobufBytes bytes: [UInt8]) throws { try self.init(serializedBytes: bytes) }
}
