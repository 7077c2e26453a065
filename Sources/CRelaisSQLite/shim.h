#ifndef CRELAIS_SQLITE_SHIM_H
#define CRELAIS_SQLITE_SHIM_H
#include <sqlite3.h>

/// `SQLITE_TRANSIENT` is a macro casting -1 to a function pointer, which Swift cannot import.
static inline sqlite3_destructor_type crelais_sqlite_transient(void) {
    return (sqlite3_destructor_type)-1;
}

/// `sqlite3_db_config` is variadic, which Swift cannot call: switches the connection's triggers of
/// the main schema on (1) or off (0); returns the setting now in force, or -1 on error.
static inline int crelais_sqlite_enable_triggers(sqlite3 *db, int enable) {
    int now = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, enable, &now) != SQLITE_OK) return -1;
    return now;
}
#endif
