# loomlat PostgreSQL extension (PGXS).
#
# The install script of the current version is assembled from sql/parts/*.sql
# in name order, so each responsibility (schema, write path, classification,
# aggregates, summaries) keeps its own file.  The install scripts of earlier
# releases (sql/loomlat--X.sql, committed as they shipped) and the upgrade
# scripts sql/loomlat--A--B.sql ship as they are.

EXTENSION    = loomlat
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big   = loomlat
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC   = "loomlat - TTFT and cold-start analytics"

SQL_PARTS    = $(sort $(wildcard sql/parts/*.sql))
DATA_built   = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA         = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test

PG_CPPFLAGS  = -Isrc
PG_CFLAGS   += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@
