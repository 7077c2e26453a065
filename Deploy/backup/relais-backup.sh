#!/bin/sh
# Backs up the hub's store while it serves, keeps RELAIS_BACKUP_KEEP_DAYS days of backups, and tells
# Prometheus (node_exporter's textfile collector) when a backup last succeeded. Run by
# relais-backup.service from relais-backup.timer; see Deploy/README.md, "Backups".
#
# Settings (environment): RELAIS_DATA (/var/lib/relais), RELAIS_BACKUP_DIR (/var/backups/relais),
# RELAIS_BACKUP_KEEP_DAYS (14), RELAIS_TEXTFILE_DIR (/var/lib/prometheus/node-exporter; empty: none),
# RELAIS_HUB (relais-hub).
set -eu

data=${RELAIS_DATA:-/var/lib/relais}
dir=${RELAIS_BACKUP_DIR:-/var/backups/relais}
keep=${RELAIS_BACKUP_KEEP_DAYS:-14}
textfile=${RELAIS_TEXTFILE_DIR-/var/lib/prometheus/node-exporter}
hub=${RELAIS_HUB:-relais-hub}

mkdir -p "$dir"
file="$dir/hub-$(date -u +%Y%m%dT%H%M%SZ).sqlite"
"$hub" backup --data "$data" --to "$file"

# Retention: backups older than the period go; the newest one always stays.
newest=$(ls -1t "$dir"/hub-*.sqlite | head -n 1)
find "$dir" -maxdepth 1 -name 'hub-*.sqlite' -mtime +"$keep" ! -path "$newest" -delete

if [ -n "$textfile" ] && [ -d "$textfile" ]; then
    printf '# HELP relais_backup_last_success_timestamp_seconds When the last hub backup succeeded (Unix time).\n# TYPE relais_backup_last_success_timestamp_seconds gauge\nrelais_backup_last_success_timestamp_seconds %s\n' \
        "$(date +%s)" > "$textfile/relais_backup.prom.tmp"
    mv "$textfile/relais_backup.prom.tmp" "$textfile/relais_backup.prom"
fi
