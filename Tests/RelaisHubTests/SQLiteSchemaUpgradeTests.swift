import Foundation
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

/// Opening a store written by an older relais-hub upgrades its schema, after copying it aside; a
/// store written by a newer one is refused and left alone.
struct SQLiteSchemaUpgradeTests {
    /// A store as schema version 2 left it: version 3's admin sessions and conflict indexes, version
    /// 4's hub epoch, version 5's disabled users, version 6's token lifetime and wipe, version 7's
    /// view digests, version 8's digest schema, version 9's digest index, version 10's data schemas,
    /// version 11's purged-up-to and version 12's enrollment attempts undone.
    private func makeVersion2Store(in folder: TemporaryFolder) async throws -> String {
        let data = folder.path + "/data"
        try await SQLiteHubStore(folder: data, create: true).close()
        let db = try Connection(path: data + "/" + SQLiteHubStore.fileName)
        try db.execute(
            """
            DROP TABLE admin_sessions;
            DROP INDEX conflicts_created;
            DROP TABLE hub_identity;
            ALTER TABLE users DROP COLUMN disabled_at;
            DROP INDEX devices_previous_token;
            ALTER TABLE devices DROP COLUMN token_expires_at;
            ALTER TABLE devices DROP COLUMN previous_token_hash;
            ALTER TABLE devices DROP COLUMN previous_token_until;
            ALTER TABLE devices DROP COLUMN wipe_requested_at;
            ALTER TABLE devices DROP COLUMN wiped_at;
            ALTER TABLE devices DROP COLUMN wipe_saved_writes;
            ALTER TABLE devices DROP COLUMN wipe_unsaved_writes;
            DROP INDEX records_scope_seq;
            CREATE INDEX records_scope_seq ON records (scope, seq);
            ALTER TABLE records DROP COLUMN digest;
            DROP TABLE device_verifications;
            DROP TABLE data_schemas;
            ALTER TABLE meta DROP COLUMN purged_up_to;
            ALTER TABLE enrollments DROP COLUMN attempt_hash;
            ALTER TABLE enrollments DROP COLUMN sealed_token;
            UPDATE meta SET purge_horizon = 4;
            DELETE FROM migrations WHERE version >= 3;
            PRAGMA user_version = 2;
            """)
        try db.close()
        return data
    }

    @Test func anOlderStoreIsCopiedAsideThenUpgraded() async throws {
        try await TemporaryFolder.with { folder in
            let data = try await makeVersion2Store(in: folder)
            let store = try SQLiteHubStore(folder: data, create: false)
            await store.close()

            let copy = data + "/" + SQLiteHubStore.fileName + ".before-schema-2"
            let before = try Connection(path: copy, mode: .readOnly)
            #expect(try before.userVersion() == 2)
            #expect(
                try before.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'admin_sessions'")?.int64Value == 0)
            let after = try Connection(path: data + "/" + SQLiteHubStore.fileName, mode: .readOnly)
            #expect(try after.userVersion() >= 3)
            #expect(
                try after.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'admin_sessions'")?.int64Value == 1)
            // Upgraded, it has a hub epoch (laptops that knew none take it at their next sync).
            #expect(try after.scalar("SELECT length(hub_epoch) FROM hub_identity")?.int64Value == 32)
            // Its users are enabled; its devices' tokens are undated (they are rotated at the next sync).
            #expect(try after.scalar("SELECT count(*) FROM users WHERE disabled_at IS NOT NULL")?.int64Value == 0)
            #expect(
                try after.scalar("SELECT count(*) FROM devices WHERE token_expires_at IS NOT NULL")?.int64Value == 0)
            // Its records have no digest yet (computed when read); devices have reported nothing.
            #expect(
                try after.scalar("SELECT count(*) FROM pragma_table_info('records') WHERE name = 'digest'")?.int64Value
                    == 1)
            #expect(try after.scalar("SELECT count(*) FROM device_verifications")?.int64Value == 0)
            // What was purged is at least what the horizon says.
            #expect(try after.scalar("SELECT purged_up_to FROM meta")?.int64Value == 4)

            // Opening it again (now current) copies nothing more.
            let reopened = try SQLiteHubStore(folder: data, create: false)
            await reopened.close()
            let files = try FileManager.default.contentsOfDirectory(atPath: data).filter {
                $0.contains("before-schema")
            }
            #expect(files == [SQLiteHubStore.fileName + ".before-schema-2"])
        }
    }

    @Test func aNewerStoreIsRefusedAndLeftAlone() async throws {
        try await TemporaryFolder.with { folder in
            let data = folder.path + "/data"
            try await SQLiteHubStore(folder: data, create: true).close()
            let path = data + "/" + SQLiteHubStore.fileName
            let db = try Connection(path: path)
            try db.execute("PRAGMA user_version = 99")
            try db.close()
            #expect(throws: HubStoreError.tooNew) { try SQLiteHubStore(folder: data, create: false) }
            #expect(try Connection(path: path, mode: .readOnly).userVersion() == 99)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: data).allSatisfy { !$0.contains("before-schema") })
        }
    }
}
