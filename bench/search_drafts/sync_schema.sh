#!/bin/sh
# schema.sql = everything before the search section + migration 0002
cd /work/main
n=$(grep -n "^-- Search indexes: one table per search parameter type" fireside/store/schema.sql | cut -d: -f1)
head -n $((n-1)) fireside/store/schema.sql > /tmp/schema_head.sql
cat /tmp/schema_head.sql fireside/store/migrations/0002_search_index.sql > fireside/store/schema.sql
