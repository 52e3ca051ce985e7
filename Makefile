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
# Every src/*.c is a part of the module, as every sql/parts/*.sql is a part of
# the install script and every test/sql/*.sql a regression test: the tree is
# the list, in name order, so a new file needs no second edit here.
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC   = "loomlat - TTFT and cold-start analytics"

SQL_PARTS    = $(sort $(wildcard sql/parts/*.sql))
DATA_built   = sql/$(EXTENSION)--$(EXTVERSION).sql
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

$(DATA_built): $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@
