# loomlat PostgreSQL extension (PGXS).
#
# The install script of the current version is assembled from sql/parts/*.sql
# in name order, so each responsibility (schema, write path, classification,
# aggregates, summaries) keeps its own file.  So is the upgrade script to it:
# the hand-written changes of sql/upgrade/, then the parts the release adds and
# the parts whose functions it replaces (such a part holds functions only and
# is taken with CREATE OR REPLACE), in name order; every SQL object is written
# once.  The scripts of earlier releases (sql/loomlat--X.sql and
# sql/loomlat--A--B.sql) are committed as they shipped.

EXTENSION    = loomlat
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big   = loomlat
# Every src/*.c is a part of the module, as every sql/parts/*.sql is a part of
# the install script and every test/sql/*.sql a regression test: the tree is
# the list, in name order, so a new file needs no second edit here.
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC   = "loomlat - TTFT and cold-start analytics"

SQL_PARTS    = $(sort $(wildcard sql/parts/*.sql))
UPGRADE_FROM = 0.1.0
UPGRADE_NEW  = sql/parts/25_record.sql sql/parts/60_reports.sql sql/parts/70_sketch.sql \
               sql/parts/80_rollups.sql
UPGRADE_REPLACED = sql/parts/30_track.sql sql/parts/45_window.sql
UPGRADE      = sql/$(EXTENSION)--$(UPGRADE_FROM)--$(EXTVERSION).sql
DATA_built   = sql/$(EXTENSION)--$(EXTVERSION).sql $(UPGRADE)
DATA         = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test

# The server's headers are system headers (-isystem; GCC and clang then ignore
# the -I that PGXS adds for the same directory), so -Wextra warns about our
# code only and -Werror builds do not depend on the server version's headers.
PG_CPPFLAGS  = -Isrc -isystem $(includedir_server)
override PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@

$(UPGRADE): sql/upgrade/$(UPGRADE_FROM)--$(EXTVERSION).sql $(UPGRADE_NEW) $(UPGRADE_REPLACED) $(EXTENSION).control
	{ cat $<; for p in $(sort $(UPGRADE_NEW) $(UPGRADE_REPLACED)); do \
		case " $(UPGRADE_REPLACED) " in \
			*" $$p "*) sed 's/^CREATE FUNCTION /CREATE OR REPLACE FUNCTION /' $$p ;; \
			*) cat $$p ;; \
		esac; \
	done; } > $@
